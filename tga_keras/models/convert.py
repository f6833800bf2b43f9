"""Load official PyTorch TGA checkpoints (github junpan19/VSR_TGA) into the Keras model.

    model = from_torch("TGA-without-align-dla.pth")       # -> keras.Model, official config
    tga convert TGA-without-align-dla.pth tga_official.keras

Every tensor of the official ``state_dict`` is mapped; a checkpoint with missing, unexpected or
mis-shaped keys fails with a :class:`CheckpointError` naming them. The ``module.`` prefix that
``nn.DataParallel`` adds is stripped. PyTorch is needed only here (``pip install tga-keras[torch]``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import numpy as np

from tga_keras.errors import CheckpointError
from tga_keras.models.config import TGAConfig

if TYPE_CHECKING:
    import keras

    from tga_keras.models.model import TGAModel

Transform = Callable[[np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------- transforms
def _conv2d(w: np.ndarray) -> np.ndarray:
    """PyTorch Conv3d ``(out, in, 1, kh, kw)`` -> Keras 2-D ``(kh, kw, in, out)``."""
    if w.ndim != 5 or w.shape[2] != 1:
        raise CheckpointError(f"expected a Conv3d weight with temporal kernel 1, got shape {w.shape}")
    return np.transpose(w[:, :, 0], (2, 3, 1, 0))


def _conv3d(w: np.ndarray) -> np.ndarray:
    """PyTorch Conv3d ``(out, in, kt, kh, kw)`` -> Keras ``(kt, kh, kw, in, out)``."""
    return np.transpose(w, (2, 3, 4, 1, 0))


def _shuffle_perm(channels: int, block: int) -> np.ndarray:
    """Channel permutation from PyTorch ``pixel_shuffle`` order ``(c, dy, dx)`` to ``depth_to_space``'s
    ``(dy, dx, c)``."""
    c_out = channels // (block * block)
    dy, dx, c = np.meshgrid(np.arange(block), np.arange(block), np.arange(c_out), indexing="ij")
    return (c * block * block + dy * block + dx).reshape(-1)


def _identity(w: np.ndarray) -> np.ndarray:
    return w


# ----------------------------------------------------------------------------- mapping
def _official_block_names(n_intra: int, n_inter: int) -> tuple[list[str], list[str]]:
    intra = ["head"] + [f"middle_{i}" for i in range(1, n_intra - 1)] + ["last"]
    inter = [f"middle_{n_intra + i}" for i in range(n_inter)]
    return intra, inter


def _stem_names(i: int) -> tuple[str, str]:
    if i == 0:
        return "conv3d_1", "bn3d_1"
    if i == 1:
        return "conv3d_2", "bn3d_2"
    return f"conv3d_2_{i - 1}", f"bn3d_2_{i - 1}"


def weight_map(model: keras.Model) -> dict[str, tuple[keras.Variable, Transform]]:
    """``{official key: (keras variable, transform)}`` for every tensor of the official state_dict.

    ``num_batches_tracked`` buffers carry no weights and are not listed.
    """
    config: TGAConfig = model.config
    out: dict[str, tuple[keras.Variable, Transform]] = {}

    def bn(prefix: str, layer: Any) -> None:
        for suffix, var in (
            ("weight", layer.gamma),
            ("bias", layer.beta),
            ("running_mean", layer.moving_mean),
            ("running_var", layer.moving_variance),
        ):
            out[f"{prefix}.{suffix}"] = (var, _identity)

    def conv(
        prefix: str,
        kernel: keras.Variable,
        bias: keras.Variable,
        transform: Transform = _conv2d,
        perm: np.ndarray | None = None,
    ) -> None:
        if perm is None:
            out[f"{prefix}.weight"] = (kernel, transform)
            out[f"{prefix}.bias"] = (bias, _identity)
        else:
            p = perm

            def permuted_weight(w: np.ndarray) -> np.ndarray:
                return transform(w)[..., p]

            def permuted_bias(b: np.ndarray) -> np.ndarray:
                return b[p]

            out[f"{prefix}.weight"] = (kernel, permuted_weight)
            out[f"{prefix}.bias"] = (bias, permuted_bias)

    def dense_unit(prefix: str, j: int, unit: Any, temporal: bool = False) -> None:
        """Unit ``j`` of an official block: bn3d_{2j+1}, conv3d_{2j+1}, bn3d_{2j+2}, conv3d_{2j+2}."""
        a, b = 2 * j + 1, 2 * j + 2
        if unit.act_in.bn is not None:
            bn(f"{prefix}.bn3d_{a}", unit.act_in.bn)
        conv(f"{prefix}.conv3d_{a}", unit.kernel_in, unit.bias_in)
        bn(f"{prefix}.bn3d_{b}", unit.act_mid.bn)
        conv(f"{prefix}.conv3d_{b}", unit.kernel_out, unit.bias_out, _conv3d if temporal else _conv2d)

    intra = model.get_layer("intra_group")
    inter = model.get_layer("inter_group")
    up = model.get_layer("upsample")

    for i, unit in enumerate(intra.stem):
        c_name, b_name = _stem_names(i)
        if config.stem_bias:
            conv(c_name, unit.kernel, unit.bias)
        else:  # the first-published dilated network: bare tensors weight1, weight2, ... without biases
            out[f"weight{i + 1}"] = (unit.kernel, _conv2d)
        bn(b_name, unit.bn)
    if config.stem_bias:
        conv("conv3d_2_2", intra.fusion_kernel, intra.fusion_bias, _conv3d)
    else:
        out[f"weight{len(intra.stem) + 1}"] = (intra.fusion_kernel, _conv3d)

    intra_names, inter_names = _official_block_names(len(config.intra_units), len(config.inter_units))
    units = iter(intra.units)
    # one intra block has both official names ('head', 'last'): only the first is used then
    for name, n in zip(intra_names, config.intra_units, strict=False):
        for j in range(n):
            dense_unit(name, j, next(units))

    head, rest = config.fusion3d_units
    for j in range(head):
        dense_unit("fusion_head", j, inter.fusion[j], temporal=True)
    dense_unit("Fusion_last", 0, inter.fusion[head], temporal=True)
    for j, unit in enumerate(inter.fusion_2d):
        dense_unit("Fusion_last", j + 1, unit)
    bn("bn3d_2_2", inter.compress_act.bn)
    conv("compress", inter.compress_kernel, inter.compress_bias)
    units = iter(inter.units)
    for name, n in zip(inter_names, config.inter_units, strict=True):
        for j in range(n):
            dense_unit(name, j, next(units))
    bn("bn3d_3", inter.out_act.bn)
    conv("conv3d_3", inter.out_kernel, inter.out_bias)

    b1 = 2 if config.scale == 4 else 1
    b2 = config.scale // b1
    conv("conv3d_r1", up.k1, up.b1)
    conv("conv3d_r2", up.k2, up.b2, perm=_shuffle_perm(up.k2.shape[-1], b1) if b1 > 1 else None)
    conv("conv3d_r4", up.k3, up.b3)
    conv("conv3d_r3", up.k4, up.b4, perm=_shuffle_perm(up.k4.shape[-1], b2))
    return out


# ----------------------------------------------------------------------------- loading
def read_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a ``.pth`` file into ``{key: float32 numpy}``; raise :class:`CheckpointError` if it is not one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes), not a PyTorch checkpoint")
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise CheckpointError(
            "reading PyTorch checkpoints needs torch; the CPU build: "
            "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
        ) from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for corrupt/truncated/non-torch files
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated, corrupt or another format): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    return _as_numpy_state_dict(obj, path)


def _as_numpy_state_dict(obj: Any, origin: str = "state_dict") -> dict[str, np.ndarray]:
    # Training scripts sometimes wrap the state_dict; accept the common wrappers.
    if isinstance(obj, Mapping):
        for wrapper in ("state_dict", "model", "net", "params"):
            if wrapper in obj and isinstance(obj[wrapper], Mapping) and not _looks_like_tensor(obj[wrapper]):
                inner = obj[wrapper]
                if any(hasattr(v, "shape") for v in inner.values()):
                    obj = inner
                    break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(
            f"{origin}: expected a state_dict (a mapping of names to tensors), got {type(obj).__name__}"
        )
    out = {}
    for k, v in obj.items():
        if not hasattr(v, "shape"):
            raise CheckpointError(f"{origin}: entry {k!r} is a {type(v).__name__}, not a tensor")
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        out[str(k)] = np.asarray(v)
    keys = list(out)
    if keys and all(k.startswith("module.") for k in keys):  # nn.DataParallel
        out = {k[len("module.") :]: v for k, v in out.items()}
    return out


def _looks_like_tensor(x: object) -> bool:
    return hasattr(x, "shape")


def load_state_dict(model: keras.Model, state_dict: Mapping[str, Any], origin: str = "state_dict") -> None:
    """Assign an official ``state_dict`` to ``model`` (built with a matching config), all or nothing."""
    sd = _as_numpy_state_dict(state_dict, origin)
    wmap = weight_map(model)
    expected = set(wmap)
    given = {k for k in sd if not k.endswith("num_batches_tracked")}
    missing = sorted(expected - given)
    unexpected = sorted(given - expected)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_few(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_few(unexpected)}")
    values = {}
    bad_shapes = []
    for key, (var, transform) in wmap.items():
        if key not in sd:
            continue
        try:
            value = transform(sd[key].astype(np.float32))
        except CheckpointError:
            value = None
        if value is None or tuple(value.shape) != tuple(var.shape):
            bad_shapes.append(f"{key} {tuple(sd[key].shape)}")
        else:
            values[key] = value
    if bad_shapes:
        problems.append(
            f"{len(bad_shapes)} key(s) with the wrong shape for config {model.config.to_json()}: {_few(bad_shapes)}"
        )
    if problems:
        hint = ""
        if len(missing) > 0.5 * len(expected):
            hint = " — this does not look like an official TGA checkpoint"
        raise CheckpointError(f"{origin}: cannot load into TGA{hint}: " + "; ".join(problems))
    for key, value in values.items():
        wmap[key][0].assign(value)


def _few(items: Iterable[str], n: int = 8) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def detect_preset(state_dict: Mapping[str, Any]) -> str:
    """Which official network a state_dict belongs to, from its keys.

    ``'paper'``: the dilated TGA published first (``TGA/arch.py`` with ``TGA.pth``), whose stem
    convolutions are bare tensors ``weight1`` .. ``weight4``. ``'official'``: the later release
    (``code/arch.py``, e.g. ``TGA-without-align-dla.pth``), with ``conv3d_1`` .. ``conv3d_2_2``.
    Anything else is reported as ``'official'`` (loading then names the keys that do not fit).
    """
    keys = {k[len("module.") :] if k.startswith("module.") else k for k in state_dict}
    return "paper" if "weight1" in keys and "conv3d_1.weight" not in keys else "official"


def from_torch(
    path_or_state_dict: str | os.PathLike[str] | Mapping[str, Any],
    config: TGAConfig | None = None,
    return_attention: bool = False,
) -> TGAModel:
    """Build a Keras TGA model and load an official checkpoint (a ``.pth`` path or a state_dict).

    ``config`` None: the network is recognised from the checkpoint's keys (:func:`detect_preset`):
    the dilated ``TGA.pth`` gives ``TGAConfig.paper()``, the later release ``TGAConfig.official()``.
    A config that does not fit fails with a :class:`CheckpointError` naming the keys (and the
    preset the checkpoint belongs to).
    """
    from tga_keras.models.model import build_tga

    sd: Mapping[str, Any]
    if isinstance(path_or_state_dict, (str, os.PathLike)):
        origin = os.fspath(path_or_state_dict)
        sd = read_state_dict(origin)
    else:
        origin, sd = "state_dict", _as_numpy_state_dict(path_or_state_dict)
    detected = detect_preset(sd)
    config = TGAConfig.preset(detected) if config is None else config
    model = build_tga(config, return_attention=return_attention)
    try:
        load_state_dict(model, sd, origin)
    except CheckpointError as e:
        if config != TGAConfig.preset(detected):
            raise CheckpointError(
                f"{e} — the checkpoint's keys are those of the {detected!r} network ({_PRESET_NAMES[detected]}): "
                f"use preset {detected!r}, or leave the preset out to have it recognised"
            ) from None
        raise
    return model


_PRESET_NAMES = {
    "paper": "the dilated TGA.pth published first",
    "official": "the released TGA-without-align-dla",
}
