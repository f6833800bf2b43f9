"""Y-channel PSNR / SSIM exact to the official TGA ``test.py`` (numpy), plus Keras metrics for ``fit``.

Official flow: RGB clamped to [0, 1] (float32) -> MATLAB ``rgb2ycbcr`` Y on values x255 (float64
dot product, ``/255 + 16``, ``/255``, cast to float32) -> Y x255 (float32) -> ``crop_border``
pixels cropped on every side -> PSNR / SSIM in float64 (SSIM: 11x11 Gaussian window, sigma 1.5,
'valid' filtering, C1 = (0.01*255)^2, C2 = (0.03*255)^2, mean of the SSIM map).

uint8 inputs are first converted to float by ``/ 255`` and then follow the same float flow (the
official code never feeds uint8; its uint8 branch would round Y, which is not reproduced).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import keras
import numpy as np
import numpy.typing as npt

_Y_COEFFS = (65.481, 128.553, 24.966)  # MATLAB rgb2ycbcr, R, G, B
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
_WINDOW = 11
_MIN_MOTION_SIDE = 8  # smaller frames give no usable optical flow


def _ssim_window() -> np.ndarray:
    """``(11, 11)`` float64: ``outer(cv2.getGaussianKernel(11, 1.5))``."""
    k = cv2.getGaussianKernel(_WINDOW, 1.5)
    return np.outer(k, k.transpose())


def _as_float01(img: npt.ArrayLike, what: str) -> np.ndarray:
    x = np.asarray(img)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255.0)
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    else:
        raise ValueError(f"{what}: expected uint8 or float [0, 1] images, got dtype {x.dtype}")
    return x


def rgb_to_y(img: npt.ArrayLike) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma of RGB ``(..., 3)`` float [0, 1] (or uint8), on the 0..255 scale.

    Returns float32 ``(...)`` in [16, 235], exactly as the official ``test.py`` computes it (input
    clamped to [0, 1] first, float32/float64 casts reproduced).
    """
    x = _as_float01(img, "rgb_to_y")
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"rgb_to_y expects RGB (..., 3), got shape {x.shape}")
    x = np.clip(x, 0.0, 1.0) * np.float32(255.0)  # float32
    # the official code works on BGR with reversed coefficients; the float64 dot follows that order
    y = np.dot(x[..., ::-1], list(_Y_COEFFS[::-1])) / 255.0 + 16.0  # float64
    y /= 255.0
    return y.astype(np.float32) * np.float32(255.0)


def _y_pair(
    pred: npt.ArrayLike, target: npt.ArrayLike, crop_border: int, min_size: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    p = _as_float01(pred, what)
    t = _as_float01(target, what)
    if p.shape != t.shape:
        raise ValueError(f"{what}: shape mismatch, pred {p.shape} vs target {t.shape}")
    if p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"{what}: expected RGB images (H, W, 3), got shape {p.shape}")
    if isinstance(crop_border, bool) or int(crop_border) != crop_border or crop_border < 0:
        raise ValueError(f"{what}: crop_border must be an integer >= 0, got {crop_border!r}")
    c = int(crop_border)
    h, w = p.shape[:2]
    if h - 2 * c < min_size or w - 2 * c < min_size:
        raise ValueError(
            f"{what}: image {h}x{w} too small for crop_border={c}"
            + (f" and the {min_size}x{min_size} SSIM window" if min_size > 1 else "")
        )
    py, ty = rgb_to_y(p), rgb_to_y(t)
    if c > 0:
        py, ty = py[c:-c, c:-c], ty[c:-c, c:-c]
    return py.astype(np.float64), ty.astype(np.float64)


def psnr_y(pred: npt.ArrayLike, target: npt.ArrayLike, crop_border: int = 8) -> float:
    """Official Y-channel PSNR in dB of RGB ``(H, W, 3)`` images (uint8 or float [0, 1]).

    ``crop_border`` pixels are dropped on every side (0: none). ``inf`` when the Y images are equal.
    """
    a, b = _y_pair(pred, target, crop_border, 1, "psnr_y")
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return float(20 * math.log10(255.0 / math.sqrt(mse)))


def ssim_y(pred: npt.ArrayLike, target: npt.ArrayLike, crop_border: int = 8) -> float:
    """Official Y-channel SSIM of RGB ``(H, W, 3)`` images (uint8 or float [0, 1]), in [-1, 1].

    Needs at least 11x11 pixels left after cropping ``crop_border`` on every side.
    """
    a, b = _y_pair(pred, target, crop_border, _WINDOW, "ssim_y")
    window = _ssim_window()
    r = _WINDOW // 2

    def filt(img: np.ndarray) -> np.ndarray:
        return cv2.filter2D(img, -1, window)[r:-r, r:-r]  # 'valid'

    mu1, mu2 = filt(a), filt(b)
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = filt(a**2) - mu1_sq
    sigma2_sq = filt(b**2) - mu2_sq
    sigma12 = filt(a * b) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + _C1) * (2 * sigma12 + _C2)) / ((mu1_sq + mu2_sq + _C1) * (sigma1_sq + sigma2_sq + _C2))
    return float(ssim_map.mean())


def mean_motion_px(reference: npt.ArrayLike, *others: npt.ArrayLike) -> float:
    """How far ``others`` have moved from ``reference``: the mean length of the dense optical flow
    from the reference to each of them, in pixels, averaged over them (OpenCV's Farneback on the Y
    channel, 3 pyramid levels, 15-pixel windows).

    All RGB ``(h, w, 3)`` of one size (at least 8x8), uint8 or float [0, 1]; 0.0 for a frame identical
    to the reference. On textured frames translated by 0.25-1.7 pixels it is within 0.06 pixel or
    10 % (``tests/test_metrics.py``; small motions read slightly high). A rough figure for how much
    the neighbours of a window can add, not a motion estimate to align with.
    """
    if not others:
        raise ValueError("mean_motion_px needs the reference and at least one other frame")
    a = np.asarray(reference)
    frames = [np.asarray(o) for o in others]
    for b in frames:
        if a.shape != b.shape or a.ndim != 3 or a.shape[-1] != 3:
            raise ValueError(f"mean_motion_px expects RGB (h, w, 3) frames of one size, got {a.shape} and {b.shape}")
    if min(a.shape[:2]) < _MIN_MOTION_SIDE:
        raise ValueError(
            f"mean_motion_px needs frames of at least {_MIN_MOTION_SIDE}x{_MIN_MOTION_SIDE} pixels, got {a.shape[:2]}"
        )
    ya = np.round(rgb_to_y(a)).astype(np.uint8)  # the reference's Y once, for every other frame
    lengths = []
    for b in frames:
        yb = np.round(rgb_to_y(b)).astype(np.uint8)
        if np.array_equal(ya, yb):
            lengths.append(0.0)
            continue
        flow = np.zeros((*ya.shape, 2), np.float32)
        flow = cv2.calcOpticalFlowFarneback(ya, yb, flow, 0.5, 3, 15, 3, 5, 1.1, 0)
        lengths.append(float(np.linalg.norm(flow, axis=2).mean()))
    return float(np.mean(lengths))


# ------------------------------------------------------------------------------------------
# Keras metrics (TF ops, for model.fit validation)
# ------------------------------------------------------------------------------------------


def _y_batch(images: Any, crop_border: int) -> Any:
    """``(B, H, W, 3)`` RGB [0, 1] -> cropped ``(B, h, w)`` Y x255, float32 (official casts)."""
    x = keras.ops.clip(keras.ops.cast(images, "float32"), 0.0, 1.0) * 255.0
    coeffs = keras.ops.convert_to_tensor(np.asarray(_Y_COEFFS, dtype=np.float64))
    y = keras.ops.tensordot(keras.ops.cast(x, "float64"), coeffs, axes=1) / 255.0 + 16.0
    y = keras.ops.cast(y / 255.0, "float32") * 255.0
    if crop_border > 0:
        y = y[:, crop_border:-crop_border, crop_border:-crop_border]
    return y


class _MeanOverImages(keras.metrics.Metric):
    """Mean of a per-image value over every image seen (optionally weighted per image)."""

    def __init__(self, crop_border: int = 8, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if isinstance(crop_border, bool) or int(crop_border) != crop_border or crop_border < 0:
            raise ValueError(f"crop_border must be an integer >= 0, got {crop_border!r}")
        self.crop_border = int(crop_border)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def _per_image(self, y_true: Any, y_pred: Any) -> Any:  # (B,) float32
        raise NotImplementedError

    def _check(self, y_true: Any, y_pred: Any, min_size: int) -> None:
        t_shape, p_shape = tuple(y_true.shape), tuple(y_pred.shape)
        if len(t_shape) != len(p_shape) or any(
            m is not None and n is not None and m != n for m, n in zip(t_shape, p_shape, strict=True)
        ):
            raise ValueError(f"{self.name}: shape mismatch, {y_true.shape} vs {y_pred.shape}")
        if len(y_pred.shape) != 4 or y_pred.shape[-1] not in (3, None):
            raise ValueError(f"{self.name}: expected RGB batches (B, H, W, 3), got {y_pred.shape}")
        for n in y_pred.shape[1:3]:
            if n is not None and n - 2 * self.crop_border < min_size:
                raise ValueError(
                    f"{self.name}: images {tuple(y_pred.shape[1:3])} too small for "
                    f"crop_border={self.crop_border}" + (" and the 11x11 window" if min_size > 1 else "")
                )

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true = keras.ops.convert_to_tensor(y_true)
        y_pred = keras.ops.convert_to_tensor(y_pred)
        values = self._per_image(y_true, y_pred)
        if sample_weight is None:
            weights = keras.ops.ones_like(values)
        else:
            weights = keras.ops.reshape(keras.ops.cast(sample_weight, "float32"), (-1,))
            weights = keras.ops.broadcast_to(weights, keras.ops.shape(values))
        self.total.assign_add(keras.ops.sum(values * weights))
        self.count.assign_add(keras.ops.sum(weights))

    def result(self) -> Any:
        return keras.ops.divide_no_nan(self.total, self.count)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "crop_border": self.crop_border}


@keras.saving.register_keras_serializable(package="tga_keras")
class PSNRY(_MeanOverImages):
    """Mean official Y-channel PSNR (dB) of ``(B, H, W, 3)`` RGB [0, 1] batches; matches :func:`psnr_y`.

    Per image as in :func:`psnr_y` (float64 MSE); an exact match gives ``inf`` like the official code.
    """

    def __init__(self, crop_border: int = 8, name: str = "psnr_y", dtype: Any = None) -> None:
        super().__init__(crop_border=crop_border, name=name, dtype=dtype)

    def _per_image(self, y_true: Any, y_pred: Any) -> Any:
        self._check(y_true, y_pred, 1)
        a = keras.ops.cast(_y_batch(y_pred, self.crop_border), "float64")
        b = keras.ops.cast(_y_batch(y_true, self.crop_border), "float64")
        mse = keras.ops.mean(keras.ops.square(a - b), axis=(1, 2))
        psnr = 20.0 * keras.ops.log10(255.0 / keras.ops.sqrt(mse))  # inf when mse == 0
        return keras.ops.cast(psnr, "float32")


@keras.saving.register_keras_serializable(package="tga_keras")
class SSIMY(_MeanOverImages):
    """Mean official Y-channel SSIM of ``(B, H, W, 3)`` RGB [0, 1] batches; matches :func:`ssim_y`.

    float32 11x11 Gaussian convolutions ('valid'); the second moments are taken about each image's
    mean Y (exactly equivalent; it reduces float32 cancellation). Agrees with :func:`ssim_y` to ~5e-6.
    """

    def __init__(self, crop_border: int = 8, name: str = "ssim_y", dtype: Any = None) -> None:
        super().__init__(crop_border=crop_border, name=name, dtype=dtype)
        self._window = _ssim_window().astype(np.float32)[:, :, None, None]

    def _per_image(self, y_true: Any, y_pred: Any) -> Any:
        self._check(y_true, y_pred, _WINDOW)
        a = _y_batch(y_pred, self.crop_border)
        b = _y_batch(y_true, self.crop_border)
        # shift both images by one per-image constant: mu shifts by it, (co)variances do not
        shift = 0.5 * (keras.ops.mean(a, axis=(1, 2), keepdims=True) + keras.ops.mean(b, axis=(1, 2), keepdims=True))
        a, b = (a - shift)[..., None], (b - shift)[..., None]
        window = keras.ops.convert_to_tensor(self._window)

        def filt(img: Any) -> Any:
            return keras.ops.conv(img, window, strides=1, padding="valid")

        m1, m2 = filt(a), filt(b)  # shifted local means
        sigma1_sq = filt(a * a) - m1 * m1
        sigma2_sq = filt(b * b) - m2 * m2
        sigma12 = filt(a * b) - m1 * m2
        shift = shift[..., None]
        mu1, mu2 = m1 + shift, m2 + shift
        ssim_map = ((2 * mu1 * mu2 + _C1) * (2 * sigma12 + _C2)) / (
            (mu1 * mu1 + mu2 * mu2 + _C1) * (sigma1_sq + sigma2_sq + _C2)
        )
        return keras.ops.mean(ssim_map, axis=(1, 2, 3))
