"""Fast spatial alignment of a low-resolution window onto its reference frame (numpy + OpenCV only).

TGA (Isobe et al., "Video Super-resolution with Temporal Group Attention", CVPR 2020) aligns each
neighbouring frame to the reference frame with a single homography before the network sees it: cheap,
global, and good enough for camera motion. This module does the same:

1. every frame is turned into 8-bit grayscale and, when its shorter side is under ``MIN_DETECT_SIDE``
   pixels, upscaled with ``cv2.INTER_CUBIC`` so ORB/SIFT find keypoints on tiny LR frames;
2. ORB (default) or SIFT keypoints of each neighbour are matched to the reference's (brute force, Lowe
   ratio test), their coordinates mapped back to LR pixels, and ``cv2.findHomography`` with RANSAC fits
   the neighbour -> reference homography (when that 8-parameter fit is implausible, as noisy keypoints on a
   tiny frame can make it, the 6-parameter affine RANSAC fit of the same matches is tried instead);
3. with ``refine=True`` (the default) a few ECC iterations (``cv2.findTransformECC``) polish that estimate: the
   feature-only fit misses the true motion by 0.2-3 px near the frame corners (ORB, 36x44 and 144x176), the
   refined one by 0.02-0.36 px (tests/test_alignment.py), for ~1.4 ms (36x44) to ~9 ms (180x320) more per frame;
4. too few matches or inliers, or an implausible estimate, fall back to the identity (see the module constants);
5. the neighbour is warped with ``cv2.warpPerspective`` (bilinear, constant border) and the pixels the warp
   leaves empty are filled from the unwarped frame (mask-weighted blend).

Coordinates are OpenCV pixel coordinates: the centre of pixel ``(row, col)`` is ``(x=col, y=row)``.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Sequence
from typing import Any, Literal, overload

import cv2
import numpy as np

from tga_keras.errors import InputError

METHODS = ("orb", "sift")

# Detection. LR frames are tiny (24x28 to ~270x480): ORB with its default 31-pixel patch finds nothing on
# 36x44, so the grayscale frame is upscaled (INTER_CUBIC) until its shorter side is MIN_DETECT_SIDE pixels
# (36x44 -> x4.4, 68x160 -> x2.4, 180x320 and larger: no upscaling), and ORB uses a 15-pixel patch and
# 3 pyramid levels (coarser levels quantise keypoint positions more and cost time).
MIN_DETECT_SIDE = 160
ORB_FEATURES = 500
ORB_LEVELS = 3
ORB_PATCH_SIZE = 15  # also ORB's edgeThreshold
ORB_FAST_THRESHOLD = 10
SIFT_FEATURES = 500
# Lowe's ratio test: keep a match when best distance < RATIO * second best distance.
RATIO = {"orb": 0.8, "sift": 0.75}

# Robust fit. Thresholds are in LR pixels; a homography has 8 degrees of freedom (4 point pairs), so
# fewer than MIN_MATCHES ratio-test matches or MIN_INLIERS RANSAC inliers do not constrain it reliably.
MIN_MATCHES = 10
MIN_INLIERS = 8
# Only rejects mostly-random matches: on the carphone clip real windows keep >= 0.28 of ORB's matches at 144x176
# (a moving person and a static car interior) and >= 0.6 at 36x44; random-noise frames are rejected by the
# inlier count or by the plausibility checks below.
MIN_INLIER_FRACTION = 0.2
RANSAC_REPROJ_THRESHOLD = 1.0
RANSAC_MAX_ITERS = 2000
RANSAC_CONFIDENCE = 0.995

# Plausibility: neighbours of a video window (at most a few frames apart) differ by modest camera motion.
MAX_AREA_CHANGE = 1.5  # det of the 2x2 part (after normalising H[2, 2] to 1) within [1/1.5, 1.5]
MAX_ANISOTROPY = 1.5  # ratio of the 2x2 part's singular values (shear / anisotropic scale)
MAX_PERSPECTIVE = 0.1  # |h20| * (W - 1) + |h21| * (H - 1): the projective denominator varies < 10 % over the frame
MAX_CORNER_SHIFT = 0.25  # a corner may move at most this fraction of the frame width (x) and height (y)

# ECC refinement (refine=True): few iterations, a 3x3 Gaussian pre-blur; the refined homography is kept only
# when ECC converges, the result is plausible and no corner moves more than ECC_MAX_CORRECTION of the shorter
# frame side away from the feature estimate (otherwise the feature estimate is used).
ECC_ITERATIONS = 20
ECC_EPS = 1e-3
ECC_GAUSS_SIZE = 3
ECC_MAX_CORRECTION = 0.1

# Inputs outside this range are not "[0, 1] frames with a little over/undershoot" (e.g. 0-255 data).
VALUE_RANGE = (-1.0, 2.0)


@dataclasses.dataclass(frozen=True, eq=False)
class AlignmentReport:
    """What :func:`align` did to one window of ``T`` frames.

    Attributes:
        reference: index (non-negative) of the reference frame.
        method: ``"orb"`` or ``"sift"``.
        homographies: ``(T, 3, 3)`` float64; ``homographies[t]`` maps pixel coordinates of frame ``t`` to
            pixel coordinates of the reference frame (``aligned[t] = cv2.warpPerspective(frames[t], H, (W, H))``),
            normalised so ``H[2, 2] == 1``. The identity for the reference and for every fallback.
        fell_back: indices of the frames left unwarped (identity) although they are not the reference.
        reasons: ``{index: why}`` for every index in ``fell_back``.
        matches: per frame, the ratio-test matches to the reference (0 for the reference and untextured frames).
        inliers: per frame, the RANSAC inliers (0 where RANSAC did not run).
        refined: indices of the frames whose homography was refined by ECC (``refine=True``).
        affine: indices of the frames whose RANSAC homography was implausible and whose estimate starts from the
            RANSAC affine fit instead (then refined to a full homography when ``refine=True`` and ECC succeeds).
    """

    reference: int
    method: str
    homographies: np.ndarray
    fell_back: tuple[int, ...]
    reasons: dict[int, str]
    matches: tuple[int, ...]
    inliers: tuple[int, ...]
    refined: tuple[int, ...]
    affine: tuple[int, ...]


@dataclasses.dataclass
class _Features:
    keypoints: np.ndarray  # (N, 2) float32, LR pixel coordinates
    descriptors: np.ndarray | None


def _as_window(frames: Any) -> np.ndarray:
    """Validate ``frames`` and return a new ``(T, H, W, 3)`` float32 array."""
    if isinstance(frames, (list, tuple)):
        if len(frames) == 0:
            raise InputError("frames is empty: expected T >= 1 frames of shape (H, W, 3)")
        items = [np.asarray(f) for f in frames]
        shapes = [f.shape for f in items]
        if len(set(shapes)) > 1:
            sizes = ", ".join(f"frame {i}: {'x'.join(map(str, s))}" for i, s in enumerate(shapes))
            raise InputError(f"frames have different sizes ({sizes}); all frames of a window must share one size")
        arr = np.stack(items)
    elif isinstance(frames, np.ndarray):
        arr = frames
    else:
        raise InputError(f"frames must be a numpy array or a list/tuple of arrays, got {type(frames).__name__}")
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise InputError(f"frames must have shape (T, H, W, 3) (RGB), got shape {arr.shape}")
    t, h, w, _ = arr.shape
    if t == 0 or h == 0 or w == 0:
        raise InputError(f"frames must be non-empty, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"frames must be floating point in [0, 1], got dtype {arr.dtype} (convert, e.g. x / 255)")
    finite = np.isfinite(arr)
    if not finite.all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(arr.size - finite.sum()) - n_nan
        raise InputError(f"frames contain {n_nan} NaN and {n_inf} infinite values (of {arr.size})")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < VALUE_RANGE[0] or hi > VALUE_RANGE[1]:
        raise InputError(f"frames must be in [0, 1] (a little outside is accepted), got values in [{lo:g}, {hi:g}]")
    return np.array(arr, dtype=np.float32, copy=True)


def _check_reference(reference: Any, t: int) -> int:
    """Default ``t // 2``; negative indices count from the end as in Python (``-1`` is the last frame)."""
    if reference is None:
        return t // 2
    if isinstance(reference, bool):
        raise InputError(f"reference must be an integer frame index, got {reference!r}")
    try:
        ref = operator.index(reference)
    except TypeError:
        raise InputError(f"reference must be an integer frame index, got {reference!r}") from None
    if not -t <= ref < t:
        raise InputError(f"reference {ref} is out of range for a window of {t} frames (valid: {-t} to {t - 1})")
    return ref % t


def _check_method(method: Any) -> str:
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    return str(method)


def _detection_scale(h: int, w: int) -> float:
    return max(1.0, MIN_DETECT_SIDE / min(h, w))


def _gray8(frame: np.ndarray, scale: float) -> np.ndarray:
    """``(H, W, 3)`` float RGB -> ``(round(H*scale), round(W*scale))`` uint8 grayscale for the detector."""
    gray = cv2.cvtColor(np.clip(frame, 0.0, 1.0), cv2.COLOR_RGB2GRAY)
    gray8 = (gray * 255.0 + 0.5).astype(np.uint8)
    if scale > 1.0:
        h, w = gray8.shape
        gray8 = cv2.resize(gray8, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    return gray8


def _make_detector(method: str) -> Any:
    if method == "orb":
        return cv2.ORB.create(
            nfeatures=ORB_FEATURES,
            scaleFactor=1.2,
            nlevels=ORB_LEVELS,
            edgeThreshold=ORB_PATCH_SIZE,
            patchSize=ORB_PATCH_SIZE,
            fastThreshold=ORB_FAST_THRESHOLD,
        )
    return cv2.SIFT.create(nfeatures=SIFT_FEATURES)


def _detect(detector: Any, frame: np.ndarray, scale: float) -> _Features:
    gray = _gray8(frame, scale)
    keypoints, descriptors = detector.detectAndCompute(gray, None)
    if not keypoints or descriptors is None:
        return _Features(np.zeros((0, 2), np.float32), None)
    pts = np.array([k.pt for k in keypoints], dtype=np.float32)
    sy = gray.shape[0] / frame.shape[0]
    sx = gray.shape[1] / frame.shape[1]
    # pixel centres: x_lr + 0.5 = (x_up + 0.5) / s, as cv2.resize maps them
    pts[:, 0] = (pts[:, 0] + 0.5) / sx - 0.5
    pts[:, 1] = (pts[:, 1] + 0.5) / sy - 0.5
    return _Features(pts, descriptors)


def _match(method: str, src: _Features, dst: _Features) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches ``src -> dst``: two ``(M, 2)`` float32 arrays of LR coordinates."""
    if src.descriptors is None or dst.descriptors is None or len(dst.keypoints) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING if method == "orb" else cv2.NORM_L2)
    pairs = matcher.knnMatch(src.descriptors, dst.descriptors, k=2)
    ratio = RATIO[method]
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    src_idx = np.array([m.queryIdx for m in good], dtype=np.intp)
    dst_idx = np.array([m.trainIdx for m in good], dtype=np.intp)
    return src.keypoints[src_idx], dst.keypoints[dst_idx]


def _corners(h: int, w: int) -> np.ndarray:
    return np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float64)


def _project(hom: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply ``hom`` to ``(N, 2)`` points; returns ``(N, 2)`` float64 (inf where the denominator is 0)."""
    p = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ hom.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return p[:, :2] / p[:, 2:3]


def implausibility(hom: np.ndarray | None, h: int, w: int) -> str | None:
    """Why the frame -> reference homography ``hom`` of an ``h x w`` frame is rejected, or None if it is plausible.

    ``hom`` is normalised to ``hom[2, 2] == 1`` by the caller. See the ``MAX_*`` module constants.
    """
    if hom is None:
        return "degenerate homography (none found)"
    if not np.all(np.isfinite(hom)):
        return "degenerate homography (non-finite values)"
    a = hom[:2, :2]
    det = float(np.linalg.det(a))
    if not 1.0 / MAX_AREA_CHANGE <= det <= MAX_AREA_CHANGE:
        return f"degenerate homography (area scale {det:.3g} outside [{1 / MAX_AREA_CHANGE:.3g}, {MAX_AREA_CHANGE:g}])"
    sv = np.linalg.svd(a, compute_uv=False)
    if sv[0] > MAX_ANISOTROPY * sv[1]:
        return f"implausible homography (anisotropy {sv[0] / sv[1]:.3g} > {MAX_ANISOTROPY:g})"
    persp = abs(float(hom[2, 0])) * (w - 1) + abs(float(hom[2, 1])) * (h - 1)
    if persp > MAX_PERSPECTIVE:
        return f"implausible homography (perspective terms change the scale by {persp:.3g} > {MAX_PERSPECTIVE:g})"
    corners = _corners(h, w)
    shift = np.abs(_project(hom, corners) - corners)
    limit = np.array([MAX_CORNER_SHIFT * w, MAX_CORNER_SHIFT * h])
    if not np.all(np.isfinite(shift)) or np.any(shift > limit):
        worst = float(np.nanmax(np.where(np.isfinite(shift), shift, np.nan))) if np.isfinite(shift).any() else np.inf
        return (
            f"implausible homography (a corner moves {worst:.3g} px, more than {MAX_CORNER_SHIFT:g} of the "
            f"{h}x{w} frame)"
        )
    return None


def _normalise(hom: np.ndarray | None) -> np.ndarray | None:
    """Scale ``hom`` to ``hom[2, 2] == 1`` (all NaN when that is impossible); None stays None."""
    if hom is None:
        return None
    hom = np.asarray(hom, dtype=np.float64)
    if not np.all(np.isfinite(hom)) or abs(hom[2, 2]) < 1e-12:
        return np.full((3, 3), np.nan)
    return hom / hom[2, 2]


def _refine_ecc(hom: np.ndarray, ref_gray: np.ndarray, gray: np.ndarray) -> np.ndarray | None:
    """ECC-refined frame -> reference homography starting at ``hom``, or None when it fails or is rejected."""
    h, w = gray.shape
    # ECC's warp maps template (reference) coordinates to input (neighbour) coordinates: the inverse of ``hom``.
    start = np.linalg.inv(hom).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, ECC_EPS)
    everywhere = np.ones((h, w), np.uint8)  # what OpenCV uses for no mask; passed explicitly for the typed overload
    try:
        _, warp = cv2.findTransformECC(
            ref_gray, gray, start, cv2.MOTION_HOMOGRAPHY, criteria, everywhere, ECC_GAUSS_SIZE
        )
    except cv2.error:
        return None
    try:
        refined = _normalise(np.linalg.inv(np.asarray(warp, dtype=np.float64)))
    except np.linalg.LinAlgError:
        return None
    if refined is None or implausibility(refined, h, w) is not None:
        return None
    corners = _corners(h, w)
    if np.abs(_project(refined, corners) - _project(hom, corners)).max() > ECC_MAX_CORRECTION * min(h, w):
        return None
    return refined


def _inlier_shortfall(n_in: int, n_matches: int, model: str) -> str | None:
    need = max(MIN_INLIERS, int(np.ceil(MIN_INLIER_FRACTION * n_matches)))
    if n_in < need:
        return f"{n_in} RANSAC inliers ({model}) of {n_matches} matches < {need} needed"
    return None


def _fit(src: np.ndarray, dst: np.ndarray, h: int, w: int) -> tuple[np.ndarray | None, int, str | None, bool]:
    """RANSAC fit of the ``src -> dst`` homography (LR pixels) of an ``h x w`` frame.

    Returns ``(homography or None, inliers, why it failed or None, whether the affine fit was used)``. When the
    homography fit is implausible (its 8 parameters are poorly constrained by noisy keypoints that cluster in a
    part of a tiny frame), the 6-parameter affine fit of the same matches is tried instead.
    """
    found, mask = cv2.findHomography(
        src, dst, cv2.RANSAC, RANSAC_REPROJ_THRESHOLD, maxIters=RANSAC_MAX_ITERS, confidence=RANSAC_CONFIDENCE
    )
    n_in = int(mask.sum()) if mask is not None else 0
    why = _inlier_shortfall(n_in, len(src), "homography")
    if why is not None:
        return None, n_in, why, False
    hom = _normalise(found)
    why = implausibility(hom, h, w)
    if why is None:
        return hom, n_in, None, False
    found_a, mask_a = cv2.estimateAffine2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=RANSAC_REPROJ_THRESHOLD,
        maxIters=RANSAC_MAX_ITERS,
        confidence=RANSAC_CONFIDENCE,
    )
    n_in_a = int(mask_a.sum()) if mask_a is not None else 0
    why_a = _inlier_shortfall(n_in_a, len(src), "affine")
    if why_a is None and found_a is not None:
        hom_a = _normalise(np.vstack([found_a, [0.0, 0.0, 1.0]]))
        why_a = implausibility(hom_a, h, w)
        if why_a is None:
            return hom_a, n_in_a, None, True
    return None, n_in, f"{why}; affine fit: {why_a}", False


def warp_frame(frame: np.ndarray, hom: np.ndarray) -> np.ndarray:
    """Warp ``frame`` ``(H, W, 3)`` float32 onto the reference with the frame -> reference homography ``hom``.

    Bilinear (``cv2.INTER_LINEAR``), constant (zero) border; a warped mask of ones says how much of each output
    pixel came from inside the frame, and the rest is taken from the unwarped ``frame``:
    ``out = warped + (1 - mask) * frame``, so pixels the warp leaves empty equal ``frame``'s.
    """
    h, w = frame.shape[:2]
    flags = cv2.INTER_LINEAR
    warped = cv2.warpPerspective(frame, hom, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.warpPerspective(
        np.ones((h, w), np.float32), hom, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    missing = 1.0 - mask
    missing[missing < 1e-5] = 0.0  # interpolation weights sum to 1 only up to float rounding
    return (warped + missing[..., None] * frame).astype(np.float32)


@dataclasses.dataclass
class _Estimate:
    """One frame's homography onto the reference (None where it fell back to the identity, with the
    ``reason``), its match and inlier counts, and whether it started affine or was polished by ECC."""

    hom: np.ndarray | None
    reason: str = ""
    matches: int = 0
    inliers: int = 0
    affine: bool = False
    refined: bool = False


def _estimate(
    frame: np.ndarray,
    ref_feat: _Features,
    ref_gray: np.ndarray | None,
    detector: Any,
    method: str,
    scale: float,
) -> _Estimate:
    """The homography taking ``frame`` ``(H, W, 3)`` onto the reference (its features ``ref_feat``; its
    grey image ``ref_gray`` when refining with ECC)."""
    h, w = frame.shape[:2]
    feat = _detect(detector, frame, scale)
    if len(feat.keypoints) < MIN_MATCHES:
        return _Estimate(None, f"no texture ({len(feat.keypoints)} keypoints < {MIN_MATCHES} needed)")
    src, dst = _match(method, feat, ref_feat)
    if len(src) < MIN_MATCHES:
        return _Estimate(None, f"{len(src)} matches < {MIN_MATCHES} needed", matches=len(src))
    hom, n_in, why, affine = _fit(src, dst, h, w)
    if hom is None:
        return _Estimate(None, why or "degenerate homography", matches=len(src), inliers=n_in)
    refined = False
    if ref_gray is not None:
        polished = _refine_ecc(hom, ref_gray, cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        if polished is not None:
            hom, refined = polished, True
    return _Estimate(hom, matches=len(src), inliers=n_in, affine=affine, refined=refined)


@overload
def align(
    frames: np.ndarray | Sequence[np.ndarray],
    reference: int | None = None,
    *,
    method: str = "orb",
    refine: bool = True,
    return_report: Literal[False] = False,
) -> np.ndarray: ...


@overload
def align(
    frames: np.ndarray | Sequence[np.ndarray],
    reference: int | None = None,
    *,
    method: str = "orb",
    refine: bool = True,
    return_report: Literal[True],
) -> tuple[np.ndarray, AlignmentReport]: ...


@overload
def align(
    frames: np.ndarray | Sequence[np.ndarray],
    reference: int | None = None,
    *,
    method: str = "orb",
    refine: bool = True,
    return_report: bool = False,
) -> np.ndarray | tuple[np.ndarray, AlignmentReport]: ...


def align(
    frames: np.ndarray | Sequence[np.ndarray],
    reference: int | None = None,
    *,
    method: str = "orb",
    refine: bool = True,
    return_report: bool = False,
) -> np.ndarray | tuple[np.ndarray, AlignmentReport]:
    """Warp every frame of a window onto the reference frame with a homography (TGA's fast spatial alignment).

    Args:
        frames: ``(T, H, W, 3)`` float RGB in [0, 1] (values slightly outside are accepted and kept), or a
            list/tuple of ``T`` arrays ``(H, W, 3)`` of one size.
        reference: index of the reference frame, default ``T // 2`` (the centre). Negative indices count from
            the end as in Python (``-1`` is the last frame); out of ``[-T, T)`` raises ``ValueError``.
        method: ``"orb"`` (default, fast) or ``"sift"`` (slower, a little more robust on blurry frames).
        refine: polish each feature-based homography with a few ECC iterations (see the module docstring).
        return_report: also return an :class:`AlignmentReport`.

    Returns:
        ``(T, H, W, 3)`` float32, the reference frame bit-identical to the input's (as float32), every other
        frame warped onto it, or left unchanged where the estimate fell back to the identity (too few matches
        or inliers, no texture, an implausible homography); with ``return_report``, ``(aligned, report)``.

    Raises:
        InputError (a ValueError): wrong rank or channel count, frames of different sizes, a non-float dtype,
            NaN/inf values, values far outside [0, 1], a reference out of range, or an unknown method.
    """
    window = _as_window(frames)
    method = _check_method(method)
    t, h, w, _ = window.shape
    ref = _check_reference(reference, t)
    homs = np.tile(np.eye(3), (t, 1, 1))
    reasons: dict[int, str] = {}
    matches = [0] * t
    inliers = [0] * t
    refined: list[int] = []
    affine_init: list[int] = []
    out = window.copy()
    if t > 1:
        detector = _make_detector(method)
        scale = _detection_scale(h, w)
        ref_feat = _detect(detector, window[ref], scale)
        ref_gray = cv2.cvtColor(window[ref], cv2.COLOR_RGB2GRAY) if refine else None
        for i in range(t):
            if i == ref:
                continue
            if len(ref_feat.keypoints) < MIN_MATCHES:
                reasons[i] = f"no texture in the reference frame ({len(ref_feat.keypoints)} keypoints)"
                continue
            est = _estimate(window[i], ref_feat, ref_gray, detector, method, scale)
            matches[i], inliers[i] = est.matches, est.inliers
            if est.hom is None:
                reasons[i] = est.reason
                continue
            if est.affine:
                affine_init.append(i)
            if est.refined:
                refined.append(i)
            homs[i] = est.hom
            out[i] = warp_frame(window[i], est.hom)
    if not return_report:
        return out
    report = AlignmentReport(
        reference=ref,
        method=method,
        homographies=homs,
        fell_back=tuple(sorted(reasons)),
        reasons=dict(sorted(reasons.items())),
        matches=tuple(matches),
        inliers=tuple(inliers),
        refined=tuple(refined),
        affine=tuple(affine_init),
    )
    return out, report


@overload
def align_windows(
    windows: np.ndarray | Sequence[np.ndarray],
    reference: int | None = None,
    *,
    method: str = "orb",
    refine: bool = True,
    return_reports: Literal[False] = False,
) -> np.ndarray: ...


@overload
def align_windows(
    windows: np.ndarray | Sequence[np.ndarray],
    reference: int | None = None,
    *,
    method: str = "orb",
    refine: bool = True,
    return_reports: Literal[True],
) -> tuple[np.ndarray, list[AlignmentReport]]: ...


@overload
def align_windows(
    windows: np.ndarray | Sequence[np.ndarray],
    reference: int | None = None,
    *,
    method: str = "orb",
    refine: bool = True,
    return_reports: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[AlignmentReport]]: ...


def align_windows(
    windows: np.ndarray | Sequence[np.ndarray],
    reference: int | None = None,
    *,
    method: str = "orb",
    refine: bool = True,
    return_reports: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[AlignmentReport]]:
    """:func:`align` every window of a batch ``(B, T, H, W, 3)`` float in [0, 1]; returns ``(B, T, H, W, 3)`` float32.

    Same arguments as :func:`align` (``reference`` applies to every window); with ``return_reports``, also the
    list of ``B`` reports. Usable from ``tf.numpy_function`` (plain numpy in and out).
    """
    batch = np.asarray(windows)
    if batch.ndim != 5 or batch.shape[-1] != 3:
        raise InputError(f"windows must have shape (B, T, H, W, 3) (RGB), got shape {batch.shape}")
    method = _check_method(method)
    if batch.shape[1] > 0:
        _check_reference(reference, batch.shape[1])  # fail before the loop
    out = np.empty(batch.shape, dtype=np.float32)
    reports: list[AlignmentReport] = []
    for b in range(batch.shape[0]):
        aligned, report = align(batch[b], reference, method=method, refine=refine, return_report=True)
        out[b] = aligned
        reports.append(report)
    return (out, reports) if return_reports else out
