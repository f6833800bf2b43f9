"""tga_keras.preprocess.alignment: homography alignment of a window onto its reference frame (numpy + OpenCV only).

Windows are built from a real frame (frame 3 of tests/fixtures/official_ops_carphone.npz, 144x176): every
neighbour is that frame moved by a known transform, so the recovered homography can be checked against the truth.
At 36x44 the transform is applied to the 144x176 frame (conjugated to HR pixels) before the x4 INTER_AREA
downscale, as a camera would see it. Measured figures in the comments come from OpenCV 4.14 on x86-64.
"""

import dataclasses
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tga_keras.preprocess import alignment
from tga_keras.preprocess.alignment import AlignmentReport, align, align_windows, warp_frame

HR_SIZE = (144, 176)
LR_SIZE = (36, 44)


def _similarity(angle: float = 0.0, zoom: float = 1.0, tx: float = 0.0, ty: float = 0.0, size=LR_SIZE) -> np.ndarray:
    """3x3 rotation (degrees) / zoom about the frame centre, then a translation (pixels)."""
    h, w = size
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, zoom)
    m[:, 2] += (tx, ty)
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _truths(size) -> list[np.ndarray]:
    """Per frame, the transform M with neighbour(M x) = reference(x) (reference pixel -> frame pixel)."""
    return [
        _similarity(tx=2.3, ty=-1.7, size=size),
        _similarity(tx=-3.6, ty=0.8, size=size),
        _similarity(tx=0.4, ty=3.9, size=size),
        np.eye(3),  # the reference
        _similarity(angle=2.0, zoom=1.03, tx=1.0, ty=0.5, size=size),
        _similarity(tx=-2.0, ty=3.0, size=size),
        _similarity(angle=-1.5, zoom=0.98, size=size),
    ]


def _window(hr_frame: np.ndarray, size) -> tuple[np.ndarray, list[np.ndarray]]:
    """A (7, h, w, 3) window of ``hr_frame`` moved by ``_truths(size)`` (in pixels of ``size``)."""
    h, w = size
    sy, sx = h / HR_SIZE[0], w / HR_SIZE[1]
    to_size = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])  # HR pixel -> size pixel
    truths = _truths(size)
    frames = []
    for m in truths:
        m_hr = np.linalg.inv(to_size) @ m @ to_size
        moved = cv2.warpPerspective(
            hr_frame, m_hr, HR_SIZE[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        frames.append(moved if size == HR_SIZE else cv2.resize(moved, (w, h), interpolation=cv2.INTER_AREA))
    return np.stack(frames).astype(np.float32), truths


def _point_errors(hom: np.ndarray, truth: np.ndarray, size, margin: int = 2) -> np.ndarray:
    """Distances (pixels) between ``hom`` and the true frame -> reference map at 4 near-corner points and the centre."""
    h, w = size
    pts = np.array(
        [[margin, margin], [w - 1 - margin, margin], [margin, h - 1 - margin], [w - 1 - margin, h - 1 - margin]]
        + [[(w - 1) / 2, (h - 1) / 2]],
        dtype=np.float64,
    ).reshape(-1, 1, 2)
    got = cv2.perspectiveTransform(pts, hom).reshape(-1, 2)
    want = cv2.perspectiveTransform(pts, np.linalg.inv(truth)).reshape(-1, 2)
    return np.linalg.norm(got - want, axis=1)


def _interior_mae(frames: np.ndarray, ref: int, margin: int) -> np.ndarray:
    """Mean |frame - reference| per frame over the interior (``margin`` pixels off every side)."""
    inner = frames[:, margin:-margin, margin:-margin]
    return np.abs(inner - inner[ref]).mean(axis=(1, 2, 3))


@pytest.fixture(scope="module")
def carphone(fixtures_dir):
    return np.load(fixtures_dir / "official_ops_carphone.npz")


@pytest.fixture(scope="module")
def hr_frame(carphone):
    return carphone["hr"][3]


@pytest.fixture(scope="module")
def lr_window(hr_frame):
    return _window(hr_frame, LR_SIZE)


@pytest.fixture(scope="module")
def mid_window(hr_frame):
    return _window(hr_frame, HR_SIZE)


# --- accuracy on known motion -----------------------------------------------------------------------------------


# Measured (OpenCV 4.14): worst point error in px over the 6 neighbours x 5 points / mean of the per-frame worst /
# worst aligned interior MAE (the unaligned MAE is 0.029-0.165 at 36x44 and 0.042-0.091 at 144x176):
#   36x44   orb 0.359 / 0.196 / 0.0267   sift 0.341 / 0.174 / 0.0267
#   144x176 orb 0.086 / 0.054 / 0.0149   sift 0.084 / 0.052 / 0.0149
# (at 36x44 the error is mostly where the downscaled, reflect-padded borders of the moved frames differ)
ACCURACY = {
    ("orb", LR_SIZE): (0.359, 0.196, 0.0267),
    ("sift", LR_SIZE): (0.341, 0.174, 0.0267),
    ("orb", HR_SIZE): (0.086, 0.054, 0.0149),
    ("sift", HR_SIZE): (0.084, 0.052, 0.0149),
}


@pytest.mark.parametrize("method", ["orb", "sift"])
@pytest.mark.parametrize("size", [LR_SIZE, HR_SIZE], ids=["36x44", "144x176"])
def test_recovers_known_motion(method, size, lr_window, mid_window):
    frames, truths = lr_window if size == LR_SIZE else mid_window
    aligned, report = align(frames, method=method, return_report=True)
    # every neighbour aligns (none falls back) and is refined by ECC, at 36x44 as at 144x176
    assert report.fell_back == () and report.reasons == {}
    assert report.refined == (0, 1, 2, 4, 5, 6)
    worst = [_point_errors(report.homographies[i], truths[i], size).max() for i in range(7) if i != 3]
    max_err, mean_err, mae = ACCURACY[(method, size)]
    assert max(worst) < 2 * max_err, worst
    assert np.mean(worst) < 2 * mean_err, worst
    margin = size[0] // 8
    after = _interior_mae(aligned, 3, margin)
    before = _interior_mae(frames, 3, margin)
    assert after[3] == 0.0
    assert after.max() < 1.5 * mae, after
    others = [i for i in range(7) if i != 3]
    assert np.all(after[others] < before[others]), (after, before)
    assert after[others].mean() < 0.25 * before[others].mean(), (after, before)


@pytest.mark.parametrize("method", ["orb", "sift"])
def test_smallest_frames(method, hr_frame):
    """24x28 (x6.3 smaller than the real frame; the same shifts are now up to 16 % of the frame): still aligned."""
    size = (24, 28)
    frames, truths = _window(hr_frame, size)
    aligned, report = align(frames, method=method, return_report=True)
    assert report.fell_back == ()
    worst = [_point_errors(report.homographies[i], truths[i], size).max() for i in range(7) if i != 3]
    # measured worst / mean: orb 0.92 / 0.37 px (frame 2 keeps its affine feature estimate), sift 0.53 / 0.30 px
    assert max(worst) < 2.0 and np.mean(worst) < 0.75, worst
    after, before = _interior_mae(aligned, 3, 3), _interior_mae(frames, 3, 3)
    # measured: aligned 0.017-0.045 (orb) vs unaligned 0.024-0.212
    assert after.max() < 0.07 and after.mean() < 0.3 * before.mean(), (after, before)


def test_feature_only_estimate_is_coarser(lr_window, mid_window):
    """refine=False: the RANSAC homography alone (ORB keypoints on tiny frames are noisy) misses by ~1 px."""
    for (frames, truths), size in [(lr_window, LR_SIZE), (mid_window, HR_SIZE)]:
        coarse = align(frames, method="orb", refine=False, return_report=True)[1]
        fine = align(frames, method="orb", refine=True, return_report=True)[1]
        assert coarse.refined == () and coarse.fell_back == ()
        err_coarse = np.mean([_point_errors(coarse.homographies[i], truths[i], size).max() for i in (0, 1, 2, 4, 5, 6)])
        err_fine = np.mean([_point_errors(fine.homographies[i], truths[i], size).max() for i in (0, 1, 2, 4, 5, 6)])
        # measured mean of the per-frame worst errors: 36x44 0.66 -> 0.20 px, 144x176 1.75 -> 0.05 px
        assert err_coarse < 3.0, err_coarse
        assert err_fine < 0.5 * err_coarse, (err_coarse, err_fine)


def test_homography_maps_frame_to_reference(mid_window):
    """The documented direction: warping frame t with homographies[t] is the aligned frame (interior)."""
    frames, _ = mid_window
    aligned, report = align(frames, return_report=True)
    h, w = HR_SIZE
    for i in (0, 4):
        again = cv2.warpPerspective(frames[i], report.homographies[i], (w, h), flags=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(aligned[i, 16:-16, 16:-16], again[16:-16, 16:-16])
        np.testing.assert_allclose(report.homographies[i][2, 2], 1.0)


def test_real_clip_frames(carphone):
    """The fixture's 7 real BD-degraded 36x44 frames (little camera motion): all align, none gets worse by much."""
    frames = carphone["lr_bd"]
    aligned, report = align(frames, return_report=True)
    assert report.fell_back == ()
    after = _interior_mae(aligned, 3, 4)
    before = _interior_mae(frames, 3, 4)
    # measured after/before: 0.0123/0.0121 0.0099/0.0102 0.0067/0.0067 0/0 0.0078/0.0102 0.0088/0.0107 0.0118/0.0148
    assert after.mean() < 0.95 * before.mean(), (after, before)
    assert np.all(after <= 1.1 * before + 1e-6), (after, before)


# --- output contract -------------------------------------------------------------------------------------------


def test_reference_bit_identical_shape_dtype(lr_window):
    frames, _ = lr_window
    frames64 = frames.astype(np.float64)
    for ref in (3, 0, 6):
        out = align(frames64, reference=ref)
        assert out.shape == frames.shape and out.dtype == np.float32
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out[ref], frames[ref])
    assert align(frames, reference=0).shape == frames.shape


def test_input_not_modified_and_list_input(lr_window):
    frames, _ = lr_window
    copy = frames.copy()
    out = align(frames)
    np.testing.assert_array_equal(frames, copy)
    np.testing.assert_array_equal(align(list(frames)), out)
    np.testing.assert_array_equal(align(tuple(frames)), out)


def test_negative_reference_counts_from_the_end(lr_window):
    frames, _ = lr_window
    out_neg, rep_neg = align(frames, reference=-1, return_report=True)
    out_pos, rep_pos = align(frames, reference=6, return_report=True)
    assert rep_neg.reference == 6 == rep_pos.reference
    np.testing.assert_array_equal(out_neg, out_pos)
    np.testing.assert_array_equal(out_neg[6], frames[6])
    assert align(frames, reference=np.int64(-7), return_report=True)[1].reference == 0


def test_single_frame_unchanged(lr_window):
    frames, _ = lr_window
    out, report = align(frames[:1], return_report=True)
    np.testing.assert_array_equal(out, frames[:1])
    assert report.reference == 0 and report.fell_back == () and report.homographies.shape == (1, 3, 3)
    np.testing.assert_array_equal(report.homographies[0], np.eye(3))


def test_values_slightly_outside_unit_range_kept(lr_window):
    frames, _ = lr_window
    stretched = frames * 1.1 - 0.05  # [-0.05, 1.05]
    out, report = align(stretched, return_report=True)
    assert report.fell_back == ()
    np.testing.assert_array_equal(out[3], stretched[3])
    assert out.min() < 0.0 and out.max() > 1.0  # not clipped


def test_report(lr_window):
    frames, _ = lr_window
    frames = frames.copy()
    frames[1] = 0.5  # flat: falls back
    _, report = align(frames, return_report=True)
    assert isinstance(report, AlignmentReport)
    assert report.reference == 3 and report.method == "orb"
    assert report.homographies.shape == (7, 3, 3) and report.homographies.dtype == np.float64
    assert report.fell_back == (1,) and set(report.reasons) == {1}
    for i in (1, 3):
        np.testing.assert_array_equal(report.homographies[i], np.eye(3))
    for i in (0, 2, 4, 5, 6):
        assert not np.allclose(report.homographies[i], np.eye(3))
    assert report.matches[3] == 0 and report.inliers[3] == 0 and report.matches[1] == 0
    assert all(report.inliers[i] >= alignment.MIN_INLIERS for i in (0, 2, 4, 5, 6))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.reference = 0  # type: ignore[misc]


# --- fallbacks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["orb", "sift"])
def test_flat_frames_fall_back(method):
    flat = np.full((7, *LR_SIZE, 3), 0.4, np.float32)
    flat[5] = 0.7
    out, report = align(flat, method=method, return_report=True)
    np.testing.assert_array_equal(out, flat)
    assert report.fell_back == (0, 1, 2, 4, 5, 6)
    assert all("no texture" in report.reasons[i] for i in report.fell_back), report.reasons
    np.testing.assert_array_equal(report.homographies, np.tile(np.eye(3), (7, 1, 1)))


def test_flat_neighbour_falls_back(lr_window):
    frames, _ = lr_window
    frames = frames.copy()
    frames[0] = 0.2
    out, report = align(frames, return_report=True)
    assert report.fell_back == (0,)
    assert report.reasons[0] == f"no texture (0 keypoints < {alignment.MIN_MATCHES} needed)"
    np.testing.assert_array_equal(out[0], frames[0])


@pytest.mark.parametrize("method", ["orb", "sift"])
@pytest.mark.parametrize("size", [LR_SIZE, HR_SIZE], ids=["36x44", "144x176"])
def test_noise_and_large_motion_fall_back(method, size, hr_frame):
    h, w = size
    ref = hr_frame if size == HR_SIZE else cv2.resize(hr_frame, (w, h), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    frames = np.stack([ref] * 7)
    frames[0] = rng.random((h, w, 3), dtype=np.float32)  # noise: too few matches or inliers, or an absurd fit
    frames[1] = cv2.GaussianBlur(rng.random((h, w, 3), dtype=np.float32), (0, 0), 2.0)
    shift = np.float32([[1, 0, 0.4 * w], [0, 1, 0]])  # 40 % of the width: beyond MAX_CORNER_SHIFT
    frames[2] = cv2.warpAffine(ref, shift, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    zoom = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, 1.8)  # area x3.2: beyond MAX_AREA_CHANGE
    frames[4] = cv2.warpAffine(ref, zoom, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    out, report = align(frames, method=method, return_report=True)
    assert {0, 1, 2}.issubset(report.fell_back), report.reasons
    assert "implausible homography (a corner moves" in report.reasons[2]
    assert 4 in report.fell_back or size == HR_SIZE, report.reasons  # a 1.8x zoom can still match at 144x176
    for i in report.fell_back:
        np.testing.assert_array_equal(out[i], frames[i])
        np.testing.assert_array_equal(report.homographies[i], np.eye(3))
    assert 5 not in report.fell_back and 6 not in report.fell_back  # identical copies of the reference
    assert np.isfinite(out).all()


def test_implausibility_rules():
    h, w = LR_SIZE
    assert alignment.implausibility(np.eye(3), h, w) is None
    assert alignment.implausibility(_similarity(angle=3.0, zoom=1.05, tx=3.0, ty=-2.0), h, w) is None
    cases = {
        "non-finite": np.full((3, 3), np.nan),
        "area scale": np.diag([1.6, 1.6, 1.0]),
        "anisotropy": np.diag([1.4, 0.8, 1.0]),
        "perspective": np.array([[1, 0, 0], [0, 1, 0], [0.003, 0, 1.0]]),
        "a corner moves": _similarity(tx=0.3 * w),
    }
    for words, hom in cases.items():
        why = alignment.implausibility(hom, h, w)
        assert why is not None and words in why, (words, why)
    assert "none found" in (alignment.implausibility(None, h, w) or "")


# --- border fill -----------------------------------------------------------------------------------------------


def test_warp_frame_fills_borders_from_the_frame():
    rng = np.random.default_rng(1)
    frame = rng.random((20, 24, 3), dtype=np.float32) * 0.8 + 0.1
    out = warp_frame(frame, np.array([[1.0, 0, 3], [0, 1, 2], [0, 0, 1]]))  # frame pixel (x, y) -> (x + 3, y + 2)
    np.testing.assert_array_equal(out[:, :3], frame[:, :3])  # empty after the warp: the frame's own pixels
    np.testing.assert_array_equal(out[:2], frame[:2])
    np.testing.assert_array_equal(out[2:, 3:], frame[:-2, :-3])  # an integer shift moves pixels exactly
    half = warp_frame(frame, np.array([[1.0, 0, 3.5], [0, 1, 0], [0, 0, 1]]))
    np.testing.assert_array_equal(half[:, :3], frame[:, :3])
    # column 3 is half covered by the warp (mask 0.5): 0.5 * frame[:, 0] from it, the rest from the frame itself
    np.testing.assert_allclose(half[:, 3], 0.5 * frame[:, 0] + 0.5 * frame[:, 3], atol=1e-6)
    np.testing.assert_allclose(half[:, 4:], 0.5 * frame[:, :-4] + 0.5 * frame[:, 1:-3], atol=1e-6)


def test_align_fills_borders_from_the_frame(lr_window):
    """After a translation the pixels the warp leaves empty equal the neighbour's own pixels, not zeros."""
    frames, _ = lr_window
    frames = frames.copy()
    h, w = LR_SIZE
    # neighbour(x, y) = reference(x + 3, y + 2): its pixel (x, y) lands on the reference's (x + 3, y + 2)
    frames[0] = cv2.warpAffine(frames[3], np.float32([[1, 0, -3], [0, 1, -2]]), (w, h), borderMode=cv2.BORDER_REFLECT)
    out, report = align(frames, return_report=True)
    np.testing.assert_allclose(report.homographies[0][:2, 2], [3, 2], atol=0.15)  # measured within 0.05 px
    np.testing.assert_array_equal(out[0][:, :2], frames[0][:, :2])
    np.testing.assert_array_equal(out[0][:1], frames[0][:1])
    # every output pixel is a convex blend of the frame's pixels: no dark band where a zero border would leak in
    assert frames[0].min() > 0.02  # 0.027
    assert out[0].min() >= frames[0].min() - 1e-6 and out[0].max() <= frames[0].max() + 1e-6


# --- bad input -------------------------------------------------------------------------------------------------


def test_bad_input_raises(lr_window):
    frames, _ = lr_window
    bad = {
        "shape (36, 44, 3)": frames[0],
        "shape (7, 36, 44, 4)": np.concatenate([frames, frames[..., :1]], axis=-1),
        "(T, H, W, 3)": frames[..., 0],
        "dtype uint8": (frames * 255).astype(np.uint8),
        "must be in [0, 1] (a little outside is accepted), got values in [": frames * 255,
        "empty": [],
        "non-empty": frames[:0],
        "list/tuple of arrays": "frames",
    }
    for words, value in bad.items():
        with pytest.raises(ValueError, match=r".*" + re.escape(words)):
            align(value)


def test_different_sizes_named(lr_window):
    frames, _ = lr_window
    other = np.zeros((40, 48, 3), np.float32)
    with pytest.raises(ValueError, match=r"different sizes.*frame 0: 36x44x3.*frame 2: 40x48x3"):
        align([frames[0], frames[1], other])


def test_non_finite_counted(lr_window):
    frames, _ = lr_window
    frames = frames.copy()
    frames[0, 0, 0, 0] = np.nan
    frames[2, 5, 5, 1] = np.nan
    frames[6, 1, 1, 2] = -np.inf
    with pytest.raises(ValueError, match=r"2 NaN and 1 infinite values"):
        align(frames)


@pytest.mark.parametrize(
    "reference, words",
    [(7, "reference 7 is out of range for a window of 7 frames (valid: -7 to 6)"), (-8, "reference -8 is out of"),
     (1.5, "integer frame index, got 1.5"), (True, "integer frame index, got True"), ("3", "integer frame index")],
)  # fmt: skip
def test_bad_reference(reference, words, lr_window):
    frames, _ = lr_window
    with pytest.raises(ValueError, match=re.escape(words)):
        align(frames, reference=reference)


def test_unknown_method(lr_window):
    frames, _ = lr_window
    with pytest.raises(ValueError, match=r"method must be one of \('orb', 'sift'\), got 'surf'"):
        align(frames, method="surf")


# --- batches and import cost ---------------------------------------------------------------------------------------


def test_align_windows_equals_align(lr_window, carphone):
    frames, _ = lr_window
    batch = np.stack([frames, carphone["lr_bd"], frames[::-1]])
    out, reports = align_windows(batch, return_reports=True)
    assert out.shape == batch.shape and out.dtype == np.float32 and len(reports) == 3
    for b in range(3):
        single, report = align(batch[b], return_report=True)
        np.testing.assert_array_equal(out[b], single)
        np.testing.assert_array_equal(reports[b].homographies, report.homographies)
        assert reports[b].fell_back == report.fell_back
    np.testing.assert_array_equal(
        align_windows(batch, reference=0, method="sift")[1], align(batch[1], 0, method="sift")
    )
    with pytest.raises(ValueError, match=r"\(B, T, H, W, 3\)"):
        align_windows(frames)
    with pytest.raises(ValueError, match="out of range"):
        align_windows(batch, reference=9)


def test_import_is_light():
    """numpy + OpenCV only: importing the module must not pull in TensorFlow or Keras."""
    code = (
        "import sys, tga_keras.preprocess.alignment; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
