"""Is a backend the same network? Real LR windows, and figures of one output against another.

    windows = real_windows(config)                       # (N, F, h, w, 3) uint8, bundled clip, BD x4
    ref = sr_of(keras_backend, windows)                   # through the inference core
    figures = compare(ref, sr_of(artifact_backend, windows))   # {"max_abs_diff", "psnr_db"}
    ok, why = meets(figures, "fp16")

Used by the exporters (an artifact is kept only if it meets its bound) and by ``tga benchmark``
(``psnr_vs_fp32``). PSNR is over RGB in [0, 1] (peak 1), both outputs clipped to [0, 1] as the
inference core returns them; the frames are uint8 (as video frames are), so a uint8-input model
sees exactly what the float models see.
"""

from __future__ import annotations

import numpy as np

# the precisions of a runtime's or an exported artifact's network, as manifests and backends name them
ARTIFACT_PRECISIONS = ("fp32", "bf16", "fp16", "int8-dynamic", "int8")

# precision -> (figure, bound): fp32 artifacts must match to max |diff| <= 1e-4; reduced precisions
# must reach a PSNR (dB) against the float32 Keras output.
BOUNDS = {
    "fp32": ("max_abs_diff", 1e-4),
    "bf16": ("psnr_db", 40.0),
    "fp16": ("psnr_db", 45.0),
    "int8-dynamic": ("psnr_db", 35.0),
    "int8": ("psnr_db", 35.0),
}


def real_windows(
    frames: int = 7, scale: int = 4, count: int = 3, video: str | None = None, start: int = 0, stride: int | None = None
) -> np.ndarray:
    """``count`` LR windows ``(count, frames, h, w, 3)`` uint8 of real video, BD-degraded (official kernel).

    ``video`` defaults to the bundled clip (carphone, 176x144 -> LR 44x36 at x4); windows start at
    ``start, start + stride, ...`` (``stride`` defaults to ``frames``: no frame shared).
    """
    from tga_keras.io.images import u8_to_float
    from tga_keras.io.video import read_video
    from tga_keras.preprocess.degradation import bd_degrade

    if video is None:
        from tga_keras.assets import clip_path

        video = clip_path()
    stride = frames if stride is None else int(stride)
    n = (count - 1) * stride + frames
    hr = u8_to_float(read_video(video, start, n))
    h, w = hr.shape[1] // scale * scale, hr.shape[2] // scale * scale
    lr = np.asarray(bd_degrade(hr[:, :h, :w], scale))
    lr = np.clip(np.round(lr * 255.0), 0, 255).astype(np.uint8)
    return np.stack([lr[i * stride : i * stride + frames] for i in range(count)])


def sr_of(backend, windows: np.ndarray) -> np.ndarray:
    """SR ``(N, s*h, s*w, 3)`` float32 in [0, 1] of ``windows`` through the inference core, one window a call."""
    from tga_keras.runtime.upscaler import Upscaler

    return Upscaler(backend).upscale_window(windows)


def compare(reference: np.ndarray, output: np.ndarray) -> dict:
    """``{"max_abs_diff", "psnr_db"}`` of ``output`` against ``reference`` (same shape, [0, 1])."""
    reference = np.asarray(reference, np.float64)
    output = np.asarray(output, np.float64)
    if reference.shape != output.shape:
        raise ValueError(f"outputs differ in shape: {reference.shape} vs {output.shape}")
    diff = np.abs(reference - output)
    mse = float(np.mean(diff**2))
    return {"max_abs_diff": float(diff.max()), "psnr_db": float("inf") if mse == 0 else float(-10 * np.log10(mse))}


def meets(figures: dict, precision: str) -> tuple[bool, str]:
    """Whether ``figures`` meet the bound of ``precision`` (:data:`BOUNDS`), and a one-line account."""
    if precision not in BOUNDS:
        raise ValueError(f"precision must be one of {ARTIFACT_PRECISIONS}, got {precision!r}")
    key, bound = BOUNDS[precision]
    got = figures[key]
    ok = got <= bound if key == "max_abs_diff" else got >= bound
    text = (
        f"max |diff| {figures['max_abs_diff']:.3g}, PSNR {figures['psnr_db']:.2f} dB "
        f"({'meets' if ok else 'FAILS'} {'max |diff| <=' if key == 'max_abs_diff' else 'PSNR >='} {bound:g}"
        f"{'' if key == 'max_abs_diff' else ' dB'})"
    )
    return ok, text


__all__ = ["BOUNDS", "ARTIFACT_PRECISIONS", "compare", "meets", "real_windows", "sr_of"]
