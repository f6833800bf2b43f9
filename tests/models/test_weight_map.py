"""The converter maps exactly the official state_dict (keys and shapes from the release), no torch needed."""

import re

import numpy as np
import pytest

from tga_keras import TGAConfig, build_tga
from tga_keras.models.convert import weight_map


def _official_keys(fixtures_dir, name="official_state_dict_keys.tsv"):
    rows = (fixtures_dir / name).read_text().splitlines()[1:]
    out = {}
    for row in rows:
        key, shape, _ = row.split("\t")
        out[key] = tuple(int(v) for v in re.findall(r"\d+", shape))
    return out


@pytest.mark.parametrize(
    "keys_file,preset,n_keys,n_params",
    [
        ("official_state_dict_keys.tsv", "official", 642, 7_057_853),  # the release (code/arch.py)
        # the first-published dilated TGA (TGA.pth): bare stem kernels weight1..weight4, no biases
        ("official_dilated_state_dict_keys.tsv", "paper", 638, 7_057_597),
    ],
)
def test_every_official_tensor_is_mapped_with_its_shape(fixtures_dir, keys_file, preset, n_keys, n_params):
    official = _official_keys(fixtures_dir, keys_file)
    assert len(official) == n_keys
    model = build_tga(TGAConfig.preset(preset))
    wmap = weight_map(model)
    weights = {k: v for k, v in official.items() if not k.endswith("num_batches_tracked")}
    assert set(wmap) == set(weights)
    for key, (var, transform) in wmap.items():
        converted = transform(np.zeros(weights[key], np.float32))
        assert tuple(converted.shape) == tuple(var.shape), key
    # every Keras weight receives exactly one official tensor
    targets = [id(var) for var, _ in wmap.values()]
    assert len(targets) == len(set(targets)) == len(model.weights)
    assert sum(int(np.prod(s)) for k, s in weights.items() if "running_" not in k) == n_params
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == n_params
