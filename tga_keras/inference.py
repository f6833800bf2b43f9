"""The inference core: sliding temporal windows, spatial tiling and pluggable backends.

    up = Upscaler(model, tile=64, tile_overlap=16)
    sr = up.upscale_window(lr_window)                    # (F, h, w, 3) -> (s*h, s*w, 3)
    for sr in up.upscale_frames(frames, dtype="uint8"):  # streaming, F frames in memory
        ...

Every SR frame is computed from the window ``i - r .. i + r`` (``r = F // 2``) clamped to the
sequence (boundary frames replicated, as the official test code does). Frames are float32 RGB in
[0, 1] (uint8 input is divided by 255); outputs are clipped to [0, 1].

A *backend* is any callable ``(B, F, h, w, 3) float32 -> (B, s*h, s*w, 3)`` (numpy in, numpy out)
with attributes ``scale``, ``frames`` and ``min_size``. :class:`KerasBackend` wraps a Keras model
in one ``tf.function`` with unknown H/W (no retracing per size); a SavedModel, TFLite or ONNX
runner only has to follow the same protocol (or go through :class:`CallableBackend`).

Tiling (``tile=N``) runs the window in overlapping ``N x N`` LR tiles and keeps only the centre of
each SR tile (at least ``tile_overlap * s`` pixels from every inner tile edge). It trades
exactness for memory (and some speed: the margins are computed twice). The default overlap is
half the network's receptive radius (``TGAConfig.tile_overlap``: 25 LR pixels for the official
architecture, 11 for ``small``). Measured on real frames (bikes.mp4, LR 68x160, 48- and 64-pixel
tiles) against whole frames: the shipped small model 3.5e-3 max abs at overlap 4, 3.1e-4 at 8,
1.1e-6 at 12, 6e-8 at 16; the official architecture with random weights 1.7e-5 at 4, 6e-8 at 8.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sized
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol, TypedDict

import numpy as np
import numpy.typing as npt

from tga_keras.errors import InputError

if TYPE_CHECKING:
    import keras

    from tga_keras.model import TGAModel

OUTPUT_DTYPES = ("float32", "uint8")
DEFAULT_TILE_OVERLAP = 16  # for a backend whose config is unknown


# ------------------------------------------------------------------------------ windows
def window_indices(n_frames: int, frames: int = 7) -> list[list[int]]:
    """For each reference ``i`` of an ``n_frames`` sequence, the indices ``i - r .. i + r`` clamped to ``[0, n - 1]``.

    ``r = frames // 2``. ``window_indices(4, 5) == [[0,0,0,1,2], [0,0,1,2,3], [0,1,2,3,3], [1,2,3,3,3]]``.
    """
    if isinstance(n_frames, bool) or int(n_frames) != n_frames or n_frames < 1:
        raise InputError(f"n_frames must be an integer >= 1, got {n_frames!r}")
    if isinstance(frames, bool) or int(frames) != frames or frames < 1 or frames % 2 == 0:
        raise InputError(f"frames must be an odd integer >= 1, got {frames!r}")
    from tga_keras.data.eval_pipeline import window_indices as window_of

    n = int(n_frames)
    return [window_of(i, n, int(frames)) for i in range(n)]


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Split ``[0, length)`` into tiles ``(start, stop, keep_start, keep_stop)`` (all LR pixels).

    Tiles are ``tile`` long (one tile of ``length`` if it fits), neighbours overlap by at least
    ``2 * overlap``; the kept parts partition ``[0, length)`` and stay at least ``overlap`` pixels
    from every tile edge that is not an image edge (the boundary sits mid-overlap).
    """
    if tile <= 2 * overlap:
        raise InputError(f"tile ({tile}) must be larger than 2 * overlap ({2 * overlap})")
    if length <= tile:
        return [(0, length, 0, length)]
    stride = tile - 2 * overlap
    starts = list(range(0, length - tile, stride)) + [length - tile]
    spans = []
    for k, s in enumerate(starts):
        e = s + tile
        keep_lo = 0 if k == 0 else (s + starts[k - 1] + tile) // 2
        keep_hi = length if k == len(starts) - 1 else (starts[k + 1] + e) // 2
        spans.append((s, e, keep_lo, keep_hi))
    return spans


# ------------------------------------------------------------------------------ backends
class Backend(Protocol):
    """``(B, F, h, w, 3)`` float32 [0, 1] numpy -> ``(B, scale*h, scale*w, 3)`` float32 numpy."""

    scale: int
    frames: int
    min_size: int

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


class CallableBackend:
    """Any function ``(B, F, h, w, 3) -> (B, s*h, s*w, 3)`` (numpy or tensors out) as a :class:`Backend`."""

    def __init__(
        self, fn: Callable[[np.ndarray], Any], scale: int, frames: int = 7, min_size: int = 3, name: str = "callable"
    ) -> None:
        self.fn, self.scale, self.frames, self.min_size, self.name = fn, int(scale), int(frames), int(min_size), name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.fn(x)
        return np.asarray(y.numpy() if hasattr(y, "numpy") else y, dtype=np.float32)


INPUT_NAME = "lr_frames"
OUTPUT_NAME = "sr"


def inference_function(
    model: keras.Model,
    input_dtype: str = "float32",
    height: int | None = None,
    width: int | None = None,
    batch: int | None = None,
    pin_input_range: bool = False,
) -> Any:
    """The inference graph of a TGA ``keras.Model`` as one ``tf.function``: ``lr_frames`` -> ``{"sr": ...}``.

    ``training=False``: every BatchNorm that follows a conv is folded into it, the pre-activation
    ones (BN -> ReLU -> conv) run as TensorFlow's fused inference kernel. ``lr_frames`` is
    ``[batch, F, height, width, 3]`` (``None``: dynamic).
    ``input_dtype='float32'``: frames in [0, 1] -> ``sr`` float32 (not clipped, as the model).
    ``input_dtype='uint8'``: frames 0..255 -> ``sr`` uint8, divided by 255 in, clipped and rounded
    half up out (as :func:`to_output`), all in the graph. Used by :class:`KerasBackend` and the
    exporters (SavedModel signatures, TFLite, ONNX), so every format runs the same graph.
    ``pin_input_range`` (float32 only) fake-quantizes the input to the 256 levels of [0, 1]: a no-op
    on frames that came from uint8, and it fixes the input range that a full-integer TFLite
    conversion gives the input (scale 1/255, zero point 0: raw pixels in) without touching the
    calibration of anything else.
    """
    import tensorflow as tf

    if input_dtype not in OUTPUT_DTYPES:
        raise InputError(f"input_dtype must be one of {OUTPUT_DTYPES}, got {input_dtype!r}")
    spec = tf.TensorSpec([batch, model.config.frames, height, width, 3], tf.as_dtype(input_dtype), name=INPUT_NAME)

    def sr_of(x: Any) -> Any:
        y = model(x, training=False)
        return y[0] if isinstance(y, (list, tuple)) else y  # return_attention models: SR only

    if input_dtype == "float32" and pin_input_range:

        def serve(lr_frames: Any) -> dict[str, Any]:
            x = tf.quantization.fake_quant_with_min_max_args(lr_frames, min=0.0, max=1.0, num_bits=8)
            return {OUTPUT_NAME: sr_of(x)}
    elif input_dtype == "float32":

        def serve(lr_frames: Any) -> dict[str, Any]:
            return {OUTPUT_NAME: sr_of(lr_frames)}
    else:

        def serve(lr_frames: Any) -> dict[str, Any]:
            y = sr_of(tf.cast(lr_frames, tf.float32) / 255.0)
            return {OUTPUT_NAME: tf.cast(tf.floor(tf.clip_by_value(y, 0.0, 1.0) * 255.0 + 0.5), tf.uint8)}

    return tf.function(serve, input_signature=[spec], reduce_retracing=True)


class KerasBackend:
    """A TGA ``keras.Model`` as one :func:`inference_function` with input ``(None, F, None, None, 3)``."""

    name = "keras"

    def __init__(self, model: keras.Model) -> None:
        config = getattr(model, "config", None)
        if config is None:
            raise InputError(f"{type(model).__name__} has no TGAConfig (.config); build it with tga_keras.build_tga")
        self.model, self.config = model, config
        self.scale, self.frames, self.min_size = config.scale, config.frames, config.min_size
        self.precision = "bf16" if "bfloat16" in str(getattr(model.dtype_policy, "name", "")) else "fp32"
        self._fn = inference_function(model)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._fn(np.ascontiguousarray(x, dtype=np.float32))[OUTPUT_NAME].numpy()

    @property
    def traces(self) -> int:
        """How many graphs the ``tf.function`` has traced (1 after any number of sizes)."""
        return self._fn.experimental_get_tracing_count()


def as_backend(
    model_or_backend: Any, scale: int | None = None, frames: int | None = None, min_size: int | None = None
) -> Backend:
    """A :class:`Backend` from a Keras model, a ``.keras`` path, a backend, or a plain callable (+ ``scale``)."""
    obj = model_or_backend
    if isinstance(obj, (str, os.PathLike)):
        obj = load_tga(obj)
    try:
        import keras

        if isinstance(obj, keras.Model):
            return KerasBackend(obj)
    except ImportError:  # pragma: no cover - keras is a dependency
        pass
    if all(hasattr(obj, a) for a in ("scale", "frames", "min_size")) and callable(obj):
        return obj
    if callable(obj):
        if scale is None:
            raise InputError("a plain callable backend needs scale= (and frames= if not 7)")
        return CallableBackend(obj, scale, 7 if frames is None else frames, 3 if min_size is None else min_size)
    raise InputError(f"cannot run {type(obj).__name__}: expected a Keras model, a .keras path or a callable")


# ------------------------------------------------------------------------------ loading
PRECISIONS = ("float32", "bfloat16")


def with_precision(model: keras.Model, precision: str = "float32") -> keras.Model:
    """``model`` itself for ``'float32'``; for ``'bfloat16'`` the same network and weights rebuilt
    under Keras' ``mixed_bfloat16`` policy (bf16 compute, float32 weights and BatchNorm).

    bfloat16 is an opt-in speed mode: on CPUs with AMX / AVX512-BF16 (Intel Sapphire Rapids and
    later) and on GPUs it is several times faster. Only the residual branch runs in bf16 (the input
    frames, the bicubic base and the final sum stay float32); outputs differ from float32 by up to
    about 1e-2 (7.2e-3 measured on real frames with the shipped model; measure yours with
    ``tga evaluate --precision`` or ``tga benchmark``). Elsewhere it can be slower than float32.
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float32":
        return model
    import keras

    from tga_keras.model import build_tga

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        fast = build_tga(model.config, return_attention=getattr(model, "return_attention", False))
    finally:
        keras.config.set_dtype_policy(previous)
    fast.set_weights(model.get_weights())
    return fast


def load_tga(
    weights: str | os.PathLike[str] | None = None, preset: str | None = None, precision: str = "float32"
) -> TGAModel:
    """A TGA ``keras.Model``: untrained ``preset`` if ``weights`` is None, else loaded from ``weights``.

    ``precision``: ``'float32'`` (exact) or ``'bfloat16'`` (see :func:`with_precision`).

    ``.keras``: a saved Keras model (its own config; ``preset``, if given, must match).
    ``.pth``: an official PyTorch checkpoint via :func:`tga_keras.convert.from_torch` (the network,
    ``official`` or the dilated ``paper``, is recognised from its keys; ``preset``, if given, must
    match). ``.weights.h5``: Keras weights for ``preset`` (default official).
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for anything that is not a TGA model.
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return with_precision(_load_float32(weights, preset), precision)


def _load_float32(weights: str | os.PathLike[str] | None, preset: str | None) -> TGAModel:
    from tga_keras.config import TGAConfig
    from tga_keras.model import TGAModel, build_tga

    config = TGAConfig.preset(preset) if preset is not None else None
    if weights is None:
        return build_tga(config or TGAConfig.official())
    path = os.fspath(weights)
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if not os.path.isfile(path):
        raise InputError(f"weights must be a file, got a folder: {path}")
    if os.path.getsize(path) == 0:
        raise InputError(f"weights file is empty (0 bytes): {path}")
    lower = path.lower()
    if lower.endswith(".pth") or lower.endswith(".pt"):
        from tga_keras.convert import from_torch

        return from_torch(path, config)
    if lower.endswith(".weights.h5"):
        model = build_tga(config or TGAConfig.official())
        try:
            model.load_weights(path)
        except Exception as e:  # h5py/keras raise many types for foreign or mismatched files
            raise InputError(
                f"{path}: cannot load these weights into the "
                f"{preset or 'official'} TGA: {type(e).__name__}: {first_line(e)}"
            ) from None
        return model
    if lower.endswith(".keras"):
        import zipfile

        import keras

        if not zipfile.is_zipfile(path):
            raise InputError(f"{path}: not a Keras model (a .keras file is a zip archive; this one is not)")
        try:
            model = keras.saving.load_model(path, compile=False)  # inference needs no optimizer
        except Exception as e:  # zipfile/json/keras errors for files that are not Keras models
            raise InputError(f"{path}: not a readable Keras model: {type(e).__name__}: {first_line(e)}") from None
        if not isinstance(model, TGAModel):
            raise InputError(f"{path}: holds a {type(model).__name__}, not a TGA model")
        if config is not None and model.config != config:
            raise InputError(
                f"{path}: the saved model is not the {preset!r} preset "
                f"(saved config {model.config.to_json()}); drop --preset"
            )
        return model
    raise InputError(f"{path}: unknown weights format; use .keras, .weights.h5 or an official .pth")


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """``'144x180'`` -> ``(144, 180)`` (LR height, width); ``ValueError`` naming ``option`` otherwise."""
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise InputError(f"{option} must look like 144x180 (height x width), got {text!r}") from None
    if h < 1 or w < 1:
        raise InputError(f"{option} must be positive, got {text!r}")
    return h, w


# ------------------------------------------------------------------------------ upscaler
class _StreamState(TypedDict):
    next: int  # index of the next frame to read
    n: int | None  # length of the stream, once its end was seen
    shape: tuple[int, ...] | None  # shape of the first frame


def _to_float(x: npt.ArrayLike) -> np.ndarray:
    """uint8 -> float32 / 255; float -> float32; anything else raises ``ValueError``."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        from tga_keras.data.io import u8_to_float

        return u8_to_float(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"frames must be uint8 or float in [0, 1], got dtype {x.dtype}")
    return x.astype(np.float32, copy=False)


def to_output(sr: np.ndarray, dtype: str = "float32") -> np.ndarray:
    """Clip SR to [0, 1]; ``'uint8'`` rounds ``x * 255`` to the nearest integer."""
    sr = np.clip(sr, 0.0, 1.0)
    if dtype == "uint8":
        return (sr * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
    return sr.astype(np.float32, copy=False)


class Upscaler:
    """Runs TGA on LR windows or frame streams, optionally in spatial tiles.

    Args:
        model: a TGA ``keras.Model``, a ``.keras`` path, a :class:`Backend`, or a callable
            ``(B, F, h, w, 3) -> (B, s*h, s*w, 3)`` (then pass ``scale``/``frames``).
        tile: LR tile size (``None``: whole frames). Must be ``>= min_size`` and ``> 2 * tile_overlap``.
        tile_overlap: LR pixels of context kept around each tile's centre (module docstring); None:
            the model's :attr:`TGAConfig.tile_overlap` (half its receptive radius: 25 official, 11 small),
            or 16 for a backend without a config.
        batch_size: windows (or tiles) per backend call.
        align: warp every window's neighbours onto its reference (:func:`tga_keras.alignment.align_windows`)
            before the network, on the whole frames (before tiling). None: the model config's ``align``
            (False for a backend without a config). ``alignment_stats`` counts the neighbours aligned
            and those that fell back to the identity.
    """

    def __init__(
        self,
        model: Any,
        *,
        tile: int | None = None,
        tile_overlap: int | None = None,
        batch_size: int = 1,
        scale: int | None = None,
        frames: int | None = None,
        min_size: int | None = None,
        align: bool | None = None,
    ) -> None:
        self.backend = as_backend(model, scale=scale, frames=frames, min_size=min_size)
        self.scale, self.frames, self.min_size = self.backend.scale, self.backend.frames, self.backend.min_size
        if tile_overlap is None:
            config = getattr(self.backend, "config", None)
            tile_overlap = config.tile_overlap if config is not None else DEFAULT_TILE_OVERLAP
        if tile is not None:
            if isinstance(tile, bool) or int(tile) != tile or tile < self.min_size:
                raise InputError(f"tile must be an integer >= {self.min_size} (LR pixels), got {tile!r}")
            if isinstance(tile_overlap, bool) or int(tile_overlap) != tile_overlap or tile_overlap < 0:
                raise InputError(f"tile overlap must be an integer >= 0, got {tile_overlap!r}")
            if tile <= 2 * tile_overlap:
                raise InputError(
                    f"tile ({tile}) must be larger than twice the overlap ({tile_overlap} LR pixels of "
                    "context per side); use a larger tile or set the overlap (--overlap)"
                )
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.tile = None if tile is None else int(tile)
        self.tile_overlap = int(tile_overlap)
        self.batch_size = int(batch_size)
        if align is None:
            align = bool(getattr(getattr(self.backend, "config", None), "align", False))
        self.align = bool(align)
        self.alignment_stats = {"neighbours": 0, "fell_back": 0}

    # -------------------------------------------------------------------- one window
    def check_window(self, shape: Iterable[int | None]) -> None:
        """Raise ``ValueError`` unless ``shape`` is ``(B, F, h, w, 3)`` with ``h, w >= min_size``."""
        from tga_keras.model import check_frames_shape

        check_frames_shape(tuple(shape), self)  # reads self.frames and self.min_size

    def upscale_window(self, lr_frames: npt.ArrayLike, dtype: str = "float32") -> np.ndarray:
        """LR ``(F, h, w, 3)`` or ``(B, F, h, w, 3)`` in [0, 1] -> SR ``(s*h, s*w, 3)`` / ``(B, s*h, s*w, 3)``.

        The shape is checked before any work; uint8 input is divided by 255; output clipped to [0, 1].
        """
        if dtype not in OUTPUT_DTYPES:
            raise InputError(f"dtype must be one of {OUTPUT_DTYPES}, got {dtype!r}")
        shape = tuple(np.shape(lr_frames))
        if len(shape) not in (4, 5):
            raise InputError(
                f"expected one window ({self.frames}, height, width, 3) or a batch "
                f"(batch, {self.frames}, height, width, 3); got an array of rank {len(shape)}: {shape}"
            )
        single = len(shape) == 4
        self.check_window((1,) + shape if single else shape)
        x = _to_float(lr_frames)
        x = x[None] if single else x
        out = np.concatenate([self._run(x[i : i + self.batch_size]) for i in range(0, len(x), self.batch_size)])
        out = to_output(out, dtype)
        return out[0] if single else out

    def _run(self, x: np.ndarray) -> np.ndarray:
        """``(b, F, h, w, 3)`` float32 -> raw SR ``(b, s*h, s*w, 3)`` (not clipped), aligned and tiled if asked."""
        if self.align:
            from tga_keras.alignment import align_windows

            x, reports = align_windows(x, self.frames // 2, return_reports=True)
            self.alignment_stats["neighbours"] += x.shape[0] * (self.frames - 1)
            self.alignment_stats["fell_back"] += sum(len(r.fell_back) for r in reports)
        h, w = x.shape[2], x.shape[3]
        if self.tile is None or (h <= self.tile and w <= self.tile):
            return self._call(x)
        s = self.scale
        rows = tile_spans(h, self.tile, self.tile_overlap)
        cols = tile_spans(w, self.tile, self.tile_overlap)
        # all tiles have the same size: batch them (windows x tiles) through the backend
        tiles = [(r, c) for r in rows for c in cols]
        stacked = np.concatenate([x[:, :, r[0] : r[1], c[0] : c[1]] for r, c in tiles])  # (T*b, F, th, tw, 3)
        sr_tiles = np.concatenate(
            [self._call(stacked[i : i + self.batch_size]) for i in range(0, len(stacked), self.batch_size)]
        )
        out = np.empty((x.shape[0], s * h, s * w, 3), np.float32)
        b = x.shape[0]
        for k, ((r0, _, kr0, kr1), (c0, _, kc0, kc1)) in enumerate(tiles):
            part = sr_tiles[k * b : (k + 1) * b]
            keep = part[:, s * (kr0 - r0) : s * (kr1 - r0), s * (kc0 - c0) : s * (kc1 - c0)]
            out[:, s * kr0 : s * kr1, s * kc0 : s * kc1] = keep
        return out

    def _call(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(self.backend(x), dtype=np.float32)
        want = (x.shape[0], self.scale * x.shape[2], self.scale * x.shape[3], 3)
        if y.shape != want:
            raise RuntimeError(f"backend returned shape {y.shape} for input {x.shape}; expected {want}")
        return y

    # -------------------------------------------------------------------- streams
    def upscale_frames(
        self,
        frames: Iterable[npt.ArrayLike],
        *,
        dtype: str = "float32",
        progress: bool = False,
        total: int | None = None,
        first: int = 0,
        count: int | None = None,
        desc: str = "upscale",
    ) -> Iterator[np.ndarray]:
        """SR frames of a sequence, streaming: yields ``(s*H, s*W, 3)`` (``dtype`` float32 or uint8).

        ``frames``: an iterable of ``(H, W, 3)`` uint8 or float [0, 1] frames, or an ``(N, H, W, 3)``
        array. Only the frames of the current windows are held (``F + batch_size`` at most).
        ``first``/``count``: yield only references ``first .. first + count - 1`` of the stream
        (all from ``first`` if ``count`` is None); the frames around them are still read as
        neighbours, so a segment cut from a longer video is upscaled as in the whole video.
        ``progress``: a tqdm bar on stderr (``total`` defaults to ``len(frames)`` when known).
        """
        if dtype not in OUTPUT_DTYPES:
            raise InputError(f"dtype must be one of {OUTPUT_DTYPES}, got {dtype!r}")
        if first < 0 or (count is not None and count < 0):
            raise InputError(f"first and count must be >= 0, got first={first}, count={count}")
        if total is None:
            n = len(frames) if isinstance(frames, Sized) else None
            total = None if n is None else max(0, min(n - first, count if count is not None else n))
        elif count is not None:
            total = min(total, count)
        return self._stream(frames, dtype, progress, total, first, count, desc)  # arguments checked eagerly

    def _stream(
        self,
        frames: Iterable[npt.ArrayLike],
        dtype: str,
        progress: bool,
        total: int | None,
        first: int,
        count: int | None,
        desc: str,
    ) -> Iterator[np.ndarray]:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, file=sys.stderr, unit="frame", desc=desc, dynamic_ncols=True)
        try:
            batch: list[np.ndarray] = []
            for window in self._windows(iter(frames), first, count):
                batch.append(window)
                if len(batch) == self.batch_size:
                    yield from self._emit(batch, dtype, bar)
                    batch = []
            if batch:
                yield from self._emit(batch, dtype, bar)
        finally:
            if bar is not None:
                bar.close()

    def _emit(self, batch: list[np.ndarray], dtype: str, bar: Any) -> Iterator[np.ndarray]:
        out = to_output(self._run(np.stack(batch)), dtype)
        for sr in out:
            if bar is not None:
                bar.update(1)
            yield sr

    def _windows(self, it: Iterator[npt.ArrayLike], first: int, count: int | None) -> Iterator[np.ndarray]:
        """``(F, H, W, 3)`` float32 windows for references ``first ..`` of the stream ``it``."""
        from tga_keras.data.eval_pipeline import window_indices as window_of

        r = self.frames // 2
        cache: dict[int, np.ndarray] = {}
        state: _StreamState = {"next": 0, "n": None, "shape": None}

        def fill(upto: int) -> None:  # read frames until index ``upto`` is cached or the stream ends
            while state["n"] is None and state["next"] <= upto:
                try:
                    frame = next(it)
                except StopIteration:
                    state["n"] = state["next"]
                    return
                i = state["next"]
                state["next"] += 1
                if i < first - r:
                    continue  # before any window: never needed
                frame = _to_float(frame)
                if state["shape"] is None:
                    if frame.ndim != 3:
                        raise InputError(f"frames must be (H, W, 3) images; frame {i} has shape {frame.shape}")
                    self.check_window((1, self.frames) + frame.shape)
                    state["shape"] = frame.shape
                elif frame.shape != state["shape"]:
                    raise InputError(
                        f"frame {i} has shape {frame.shape}, but earlier frames {state['shape']}: "
                        "all frames of a sequence must have the same size"
                    )
                cache[i] = frame

        i = first
        while count is None or i < first + count:
            fill(i + r)
            n = state["n"]
            if n is not None and i >= n:
                if i == first and n == 0:
                    raise InputError("no frames to upscale: the input is empty")
                if i == first:
                    raise InputError(f"no frames to upscale: the input has {n} frames, starting at frame {first}")
                return
            last = (n if n is not None else state["next"]) - 1
            idx = window_of(i, last + 1, self.frames)  # the one boundary rule (replication)
            yield np.stack([cache[j] for j in idx])
            for j in [j for j in cache if j < i + 1 - r]:  # no later window needs them
                del cache[j]
            i += 1


__all__ = [
    "Backend",
    "CallableBackend",
    "INPUT_NAME",
    "KerasBackend",
    "OUTPUT_DTYPES",
    "OUTPUT_NAME",
    "Upscaler",
    "as_backend",
    "first_line",
    "inference_function",
    "load_tga",
    "parse_size",
    "tile_spans",
    "to_output",
    "window_indices",
]
