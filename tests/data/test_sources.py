"""Sources and readers of tga_keras.data: images, Vimeo-90K trees, frame folders, videos, synthetic motion."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from tests.helpers.paths import REPO
from tga_keras.data import ArraySequence, FrameFolders, SyntheticMotion, VideoFiles, VideoSequence, VimeoSeptuplets
from tga_keras.data.fakes import random_frames, write_frames, write_video, write_vimeo_tree
from tga_keras.data.synthetic import motion_frame
from tga_keras.errors import DatasetFileNotFoundError
from tga_keras.io.images import image_size, natural_key, read_image
from tga_keras.io.video import read_video

CLIP = os.path.join(REPO, "tga_keras", "assets", "carphone_pristine.mp4")


# ------------------------------------------------------------------------------ images
def test_read_image_8bit_rgb_order_and_range(tmp_path):
    rgb = random_frames(1, 20, 30)[0]
    p = str(tmp_path / "a.png")
    cv2.imwrite(p, rgb[..., ::-1])
    img = read_image(p)
    assert img.dtype == np.float32 and img.shape == (20, 30, 3)
    np.testing.assert_allclose(img, rgb / 255.0, atol=1e-7)
    assert image_size(p) == (20, 30)


def test_read_image_16bit_grayscale_rgba_jpeg(tmp_path):
    v16 = np.random.default_rng(0).integers(0, 65536, size=(10, 12, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), v16)  # stored as BGR: channel order flips on read
    np.testing.assert_allclose(read_image(tmp_path / "d.png"), v16[..., ::-1] / 65535.0, atol=1e-7)

    gray = np.arange(120, dtype=np.uint8).reshape(10, 12)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    g = read_image(tmp_path / "g.png")
    assert g.shape == (10, 12, 3)
    for c in range(3):
        np.testing.assert_allclose(g[..., c], gray / 255.0, atol=1e-7)

    g16 = (np.arange(120, dtype=np.uint16) * 500).reshape(10, 12)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    np.testing.assert_allclose(read_image(tmp_path / "g16.png")[..., 1], g16 / 65535.0, atol=1e-7)

    bgra = np.dstack([np.full((10, 12), v, np.uint8) for v in (10, 20, 30, 0)])  # alpha 0 is ignored
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    np.testing.assert_allclose(read_image(tmp_path / "a.png")[0, 0], np.array([30, 20, 10]) / 255.0, atol=1e-7)

    cv2.imwrite(str(tmp_path / "j.jpg"), random_frames(1, 33, 47)[0])
    assert image_size(tmp_path / "j.jpg") == (33, 47)
    assert read_image(tmp_path / "j.jpg").shape == (33, 47, 3)


def test_natural_order():
    names = ["f10.png", "f2.png", "F1.png", "f100.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f2.png", "f10.png", "f100.png"]


# ------------------------------------------------------------------------------ vimeo
def test_vimeo_train_and_test_lists(tmp_path):
    frames = write_vimeo_tree(str(tmp_path), height=48, width=64)
    train = VimeoSeptuplets(tmp_path, "train")
    test = VimeoSeptuplets(tmp_path, "test", check_sizes=False)
    assert [s.name for s in train.sequences] == ["00001/0001", "00001/0002"]
    assert [s.name for s in test.sequences] == ["00002/0001"]
    seq = train.sequences[1]
    assert seq.num_frames == 7 and seq.size == (48, 64)
    got = seq.read(range(7))
    assert got.shape == (7, 48, 64, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, frames["00001/0002"] / 255.0, atol=1e-7)
    crop = seq.read([0, 3], box=(8, 16, 32, 40))
    np.testing.assert_array_equal(crop, got[[0, 3], 8:40, 16:56])


# ------------------------------------------------------------------------------ folders
def test_frame_folders_multi_and_single(tmp_path):
    a = random_frames(12, 40, 56, seed=1)
    write_frames(str(tmp_path / "calendar"), a, "frame{:d}.png")  # frame0 .. frame11: natural order matters
    write_frames(str(tmp_path / "city"), random_frames(8, 36, 44, seed=2), "{:03d}.jpg")
    os.makedirs(tmp_path / "empty_dir")
    src = FrameFolders(tmp_path)
    assert [(s.name, s.num_frames, s.size) for s in src.sequences] == [
        ("calendar", 12, (40, 56)),
        ("city", 8, (36, 44)),
    ]
    np.testing.assert_allclose(src.sequences[0].read([10])[0], a[10] / 255.0, atol=1e-7)
    single = FrameFolders(tmp_path / "calendar")
    assert len(single) == 1 and single.sequences[0].name == "calendar"
    assert [s.name for s in FrameFolders(tmp_path, names=["city"]).sequences] == ["city"]


# ------------------------------------------------------------------------------ videos
def test_written_video_in_memory_and_seeking(tmp_path):
    frames = random_frames(12, 48, 64, seed=3)
    p = write_video(str(tmp_path / "clip.avi"), frames)
    src = VideoFiles(str(tmp_path))  # a folder of videos
    seq = src.sequences[0]
    assert (seq.name, seq.num_frames, seq.size) == ("clip", 12, (48, 64))
    full = seq.read(range(12))
    assert np.abs(full - frames / 255.0).mean() < 0.03  # MJPG is lossy; RGB order right
    lazy = VideoSequence(p, in_memory=False)
    np.testing.assert_array_equal(lazy.read([5, 4, 6]), full[[5, 4, 6]])
    np.testing.assert_array_equal(np.stack(list(lazy.iter_frames())), full)


def test_bundled_clip():
    seq = VideoFiles(CLIP).sequences[0]
    assert (seq.num_frames, seq.size) == (120, (144, 176))
    w = seq.read(range(10, 17))
    assert w.shape == (7, 144, 176, 3) and 0.0 <= w.min() and w.max() <= 1.0
    np.testing.assert_array_equal(w[0], read_video(CLIP, 10, 1)[0] / np.float32(255.0))


# ------------------------------------------------------------------------------ synthetic
def test_stills_are_decoded_once_and_the_cache_keeps_its_budget(tmp_path, monkeypatch):
    from tga_keras.data import synthetic

    paths = []
    for i, frame in enumerate(random_frames(3, 24, 32, seed=9)):  # 9,216 bytes each as float32
        paths.append(str(tmp_path / f"{i}.png"))
        assert cv2.imwrite(paths[-1], frame[:, :, ::-1])
    decoded = []

    def counting_read(path):
        decoded.append(os.path.basename(path))
        return read_image(path)

    monkeypatch.setattr(synthetic, "read_image", counting_read)
    cache = synthetic._StillCache(max_bytes=2 * 24 * 32 * 3 * 4)  # room for two stills
    monkeypatch.setattr(synthetic, "_STILLS", cache)
    seqs = SyntheticMotion(paths, seed=1).sequences
    first = seqs[0].read(range(7), key=5, box=(2, 3, 16, 16))
    np.testing.assert_array_equal(seqs[0].read(range(7), key=5, box=(2, 3, 16, 16)), first)  # same sample
    assert decoded == ["0.png"] and cache.nbytes == 24 * 32 * 3 * 4
    np.testing.assert_array_equal(seqs[0].still(), read_image(paths[0]))
    assert not seqs[0].still().flags.writeable  # shared: nobody may change it in place
    seqs[1].still(), seqs[2].still()  # the third still drops the least recently used, the first
    seqs[2].still(), seqs[1].still()
    assert decoded == ["0.png", "1.png", "2.png"] and cache.nbytes == cache.max_bytes
    seqs[0].still()
    assert decoded[-1] == "0.png"
    # a still rewritten on disk is decoded again, and replaces its old entry
    assert cv2.imwrite(paths[0], np.zeros((24, 32, 3), np.uint8))
    os.utime(paths[0], ns=(0, 123))
    assert seqs[0].still().max() == 0.0 and decoded[-1] == "0.png" and len(decoded) == 5
    assert cache.nbytes == cache.max_bytes
    # a still deleted since the source was listed: the data error with the file's name
    os.remove(paths[1])
    with pytest.raises(DatasetFileNotFoundError, match="1.png"):
        seqs[1].read(range(7), key=0)


def test_synthetic_motion_deterministic_smooth_and_centred():
    still = random_frames(1, 64, 80, seed=4)[0]
    src = SyntheticMotion([still], seed=7)
    seq = src.sequences[0]
    a = seq.read(range(7), key=3)
    b = SyntheticMotion([still], seed=7).sequences[0].read(range(7), key=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, seq.read(range(7), key=4))
    assert not np.array_equal(a, SyntheticMotion([still], seed=8).sequences[0].read(range(7), key=3))
    np.testing.assert_array_equal(a[3], still / np.float32(255.0))  # the centre frame is the still itself
    assert a.min() >= 0.0 and a.max() <= 1.0
    diffs = [np.abs(a[t] - a[3]).mean() for t in range(7)]
    assert all(d > 0.03 for t, d in enumerate(diffs) if t != 3)  # every neighbour moved (measured >= 0.10)
    # a crop is computed from its neighbourhood only, yet agrees with cropping the full frame
    crop = seq.read([0, 6], key=3, box=(10, 20, 32, 40))
    np.testing.assert_allclose(crop, a[[0, 6], 10:42, 20:60], atol=0.02)  # measured max 7.7e-3
    assert np.abs(crop - a[[0, 6], 10:42, 20:60]).mean() < 1e-4  # measured 2.5e-5


def test_motion_frame_pure_translation():
    img = random_frames(1, 40, 40, seed=5)[0].astype(np.float32) / 255
    out = motion_frame(img, (2.0, -1.0), 0.0, 1.0, interpolation=cv2.INTER_LINEAR)
    # frame(p) = image(p + d): integer shifts move content exactly
    np.testing.assert_allclose(out[5:30, 5:30], img[4:29, 7:32], atol=1e-5)


def test_synthetic_from_video_frames():
    src = SyntheticMotion.from_videos(CLIP, per_video=2, length=5)
    assert [s.name for s in src.sequences] == ["carphone_pristine@40", "carphone_pristine@79"]
    assert src.sequences[0].read(range(5)).shape == (5, 144, 176, 3)


def test_array_sequence():
    frames = random_frames(4, 8, 10)
    seq = ArraySequence("x", frames)
    np.testing.assert_allclose(seq.read([2]), frames[[2]] / 255.0, atol=1e-7)
    with pytest.raises(ValueError, match="out of range"):
        seq.read([4])


def test_synthetic_local_motion_objects_move_on_their_own():
    """Moving objects (MotionRange.objects): drawn after the camera (which stays as without them), pasted
    inside their ellipse only, carrying their texture with them, fresh per crop box."""
    from tga_keras.data.synthetic import MotionRange, object_mask

    still = random_frames(1, 96, 112, seed=6)[0]
    plain = SyntheticMotion([still], seed=3).sequences[0]
    motion = MotionRange(objects=3, object_velocity=2.0, object_size=0.6)
    seq = SyntheticMotion([still], seed=3, motion=motion).sequences[0]
    keys = [k for k in range(40) if len(seq.objects(k)) == 3]
    assert keys and any(len(seq.objects(k)) == 0 for k in range(40))  # 0..objects per sequence
    key = keys[0]
    np.testing.assert_array_equal(seq.trajectory(key)[0], plain.trajectory(key)[0])
    frames, background = seq.read(range(7), key=key), plain.read(range(7), key=key)
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    covered = np.zeros((7, 96, 112), bool)
    for obj in seq.objects(key):
        for t in range(7):
            covered[t] |= object_mask(obj, t, (96, 112))[..., 0] > 0
    np.testing.assert_array_equal(frames[~covered], background[~covered])  # the background is untouched
    assert np.abs(frames[covered] - background[covered]).mean() > 0.05  # objects show other texture
    # an object carries its texture: frame 4 at p shows still(p + o + e_4), and so does frame 3 at
    # p + e_4 - e_3 (inside the object there too, since the ellipse moves with it); camera still
    still_camera = MotionRange(velocity=0, acceleration=0, rotation=0, angular_acceleration=0, zoom=0, objects=1)
    one = SyntheticMotion([still], seed=3, motion=still_camera).sequences[0]
    key = next(k for k in range(200) if len(one.objects(k)) == 1 and min(one.objects(k)[0].radii) > 12)
    obj = one.objects(key)[0]
    f = one.read([3, 4], key=key)
    e = (obj.shift[4] - obj.shift[3]).astype(np.float32)
    ys, xs = np.mgrid[0:96, 0:112].astype(np.float32)
    back = cv2.remap(f[0], xs + e[0], ys + e[1], cv2.INTER_CUBIC)  # frame 3 at p + e_4 - e_3
    inner = (object_mask(obj, 4, (96, 112))[..., 0] == 1) & (xs > 4) & (xs < 107) & (ys > 4) & (ys < 91)
    assert inner.sum() > 100
    assert np.abs(f[1][inner] - back[inner]).mean() < 0.03  # measured 0.007; the opposite motion gives 0.08
    # each crop box draws its own objects inside it, and keeps the camera's frame outside them
    box = (8, 16, 48, 64)
    key = next(k for k in range(40) if len(seq.objects(k, box)) == 3)
    boxed, plain_box = seq.read(range(7), key=key, box=box), plain.read(range(7), key=key, box=box)
    covered = np.zeros((7, 48, 64), bool)
    for obj in seq.objects(key, box):
        assert 0 <= obj.centre[0] < 64 and 0 <= obj.centre[1] < 48
        assert 0.5 * 0.6 * 48 <= 2 * np.sqrt(obj.radii[0] * obj.radii[1]) <= 0.6 * 48  # equal-area diameter
        for t in range(7):
            covered[t] |= object_mask(obj, t, (48, 64))[..., 0] > 0
    np.testing.assert_array_equal(boxed[~covered], plain_box[~covered])
    assert np.abs(boxed[covered] - plain_box[covered]).mean() > 0.05
    # the object's ellipse moves by -e_t: the centroid of what it changes, on a still camera
    key = next(
        k
        for k in range(400)
        if len(one.objects(k)) == 1
        and np.abs(one.objects(k)[0].shift[6] - one.objects(k)[0].shift[0]).max() > 6
        and all(
            one.objects(k)[0].radii[i] + 8 < one.objects(k)[0].centre[i] - np.abs(one.objects(k)[0].shift).max(0)[i]
            and one.objects(k)[0].centre[i] + np.abs(one.objects(k)[0].shift).max(0)[i] + one.objects(k)[0].radii[i] + 8
            < (112, 96)[i]
            for i in (0, 1)
        )
    )
    obj, f = one.objects(key)[0], one.read([0, 6], key=key)
    bg = still.astype(np.float32) / 255
    centroids = []
    for frame in f:
        ys_, xs_ = np.nonzero(np.abs(frame - bg).max(-1) > 0.02)
        centroids.append(np.array([xs_.mean(), ys_.mean()]))
    np.testing.assert_allclose(centroids[1] - centroids[0], -(obj.shift[6] - obj.shift[0]), atol=1.5)
    for bad in ({"objects": 1.5}, {"objects": -1}, {"objects": 17}, {"object_size": 0}):
        with pytest.raises(ValueError):
            MotionRange(**bad)


def test_object_mask_edge_is_one_pixel_wide_and_bounded():
    """The coverage falls from 1 to 0 across one pixel at the edge, along the long axis as along the short
    one; object_bounds holds every covered pixel; a part of the frame gives that part of the mask."""
    from tga_keras.data.synthetic import MovingObject, object_bounds, object_mask

    obj = MovingObject(centre=(40.3, 30.0), radii=(20.0, 8.0), offset=(0.0, 0.0), shift=np.zeros((3, 2)))
    m = object_mask(obj, 1, (64, 80))[..., 0]
    assert m.dtype == np.float32 and m[30, 40] == 1.0
    row, col = m[30], m[:, 40]  # through the centre along x (the long axis); near it along y
    for line, centre, radius in ((row, 40.3, 20.0), (col, 30.0, 8.0)):
        idx = np.arange(line.size)
        expected = np.clip(0.5 - (np.abs(idx - centre) - radius), 0, 1)
        if line is row:
            np.testing.assert_allclose(line, expected, atol=1e-6)  # exact on the axes
        assert 1 <= np.count_nonzero((line > 0) & (line < 1)) <= 2  # one pixel band on each side at most
    y, x, h, w = object_bounds(obj, 1, (64, 80))
    outside = np.ones_like(m, bool)
    outside[y : y + h, x : x + w] = False
    assert not m[outside].any()
    np.testing.assert_array_equal(object_mask(obj, 1, (h, w), (y, x))[..., 0], m[y : y + h, x : x + w])
    far = MovingObject(centre=(200.0, 30.0), radii=(5.0, 5.0), offset=(0.0, 0.0), shift=np.zeros((3, 2)))
    assert object_bounds(far, 0, (64, 80)) is None
