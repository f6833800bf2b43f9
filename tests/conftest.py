import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# `--backend auto` runs Keras models on Keras in the suite (no conversion per test model); the tests of the
# runtime chooser (tests/runtime/test_fastest.py, tests/cli/test_default_runtime.py) lift this themselves.
# The chooser's cache is never the user's: one folder per test session.
os.environ["TGA_AUTO_BACKEND"] = "keras"
os.environ.setdefault("TGA_CACHE_DIR", os.path.join(__import__("tempfile").mkdtemp(prefix="tga-test-cache-")))

import pytest  # noqa: E402
from filelock import FileLock  # noqa: E402

from tests.helpers.paths import FIXTURES  # noqa: E402


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES


@pytest.fixture(scope="session")
def official_model():
    """The official config loaded with the random-weight official checkpoint (built once)."""
    pytest.importorskip("torch")
    from tga_keras.models.convert import from_torch

    return from_torch(FIXTURES / "official_tga_random_seed0.pth")


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A tiny TGA (.keras) with He-normal kernels: at its own init the residual is ~1e-8 (output =
    bicubic), this one's is not, so what the neighbouring frames change shows."""
    import numpy as np

    from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
    from tga_keras import build_tga

    model = build_tga(TINY_EXPORT_CONFIG)
    rng = np.random.default_rng(0)
    for w in model.weights:
        if w.path.endswith("kernel"):
            fan_in = int(np.prod(w.shape[:-1]))
            w.assign(rng.standard_normal(w.shape).astype("float32") * np.sqrt(2.0 / fan_in))
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    model.save(str(path))
    return str(path)


@pytest.fixture(scope="session")
def moving_and_still(tmp_path_factory):
    """Frame folders: 'moving' (7 frames of smooth moving content) and 'still' (7 copies of one frame), 32x32."""
    import numpy as np

    from tga_keras.data.fakes import random_frames, write_frames

    root = tmp_path_factory.mktemp("clips")
    frames = random_frames(7, 32, 32, seed=1)
    write_frames(str(root / "moving"), frames)
    write_frames(str(root / "still"), np.repeat(frames[3:4], 7, axis=0))
    return root


def _built_once(tmp_path_factory, name: str, product: str, build) -> pathlib.Path:
    """``<shared>/name/product``, made by ``build(temporary path)`` once per session and renamed into
    place: the folder is shared by all pytest-xdist workers (the per-worker base temp's parent) and a
    file lock makes the others wait for the first, so an expensive session fixture is built once."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / name
    with FileLock(str(base / f"{name}.lock")):
        if not (folder / product).exists():
            folder.mkdir(exist_ok=True)
            build(folder / f"tmp.{product}")
            os.replace(folder / f"tmp.{product}", folder / product)
    return folder / product


@pytest.fixture(scope="session")
def export_model(tmp_path_factory):
    """The exporter tests' tiny model (.keras path; ``export_helpers.save_tiny_export_model``), built
    once per session, shared by the xdist workers."""
    from tests.helpers.export_helpers import save_tiny_export_model

    return str(_built_once(tmp_path_factory, "export_model", "tiny.keras", lambda p: save_tiny_export_model(str(p))))


@pytest.fixture(scope="session")
def export_all(export_model, tmp_path_factory):
    """``python -m export all`` of :func:`export_model`, once per session, shared by the xdist workers
    (read-only for the tests): ``SimpleNamespace(rc, stdout, stderr, outdir, manifest)``."""
    import json
    import types

    from tests.helpers.export_helpers import run_export

    def export(result: pathlib.Path) -> None:
        rc, out, err = run_export(["all", export_model, str(result.parent / "out")])
        result.write_text(json.dumps({"rc": rc, "stdout": out, "stderr": err}))

    result = _built_once(tmp_path_factory, "export_all", "result.json", export)
    ran, outdir = json.loads(result.read_text()), result.parent / "out"
    manifest = None
    if os.path.isfile(outdir / "manifest.json"):
        with open(outdir / "manifest.json") as f:
            manifest = json.load(f)
    return types.SimpleNamespace(
        rc=ran["rc"], stdout=ran["stdout"], stderr=ran["stderr"], outdir=str(outdir), manifest=manifest
    )
