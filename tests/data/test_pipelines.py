"""tf.data pipelines of tga_keras.data: training batches, evaluation windows, throughput."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers.paths import FIXTURES, REPO
from tga_keras.data import (
    ArraySequence,
    SyntheticMotion,
    VideoFiles,
    VimeoSeptuplets,
    crop_sr_output,
    make_eval_dataset,
    make_train_dataset,
    measure_pipeline_throughput,
    sr_border,
)
from tga_keras.data.augment import augment_frames
from tga_keras.data.fakes import random_frames, write_vimeo_tree
from tga_keras.preprocess.degradation import bd_degrade, bi_degrade
from tga_keras.runtime.windows import window_indices

CLIP = str(REPO / "tga_keras" / "assets" / "carphone_pristine.mp4")
FIXTURE = os.path.join(FIXTURES, "official_ops_carphone.npz")


@pytest.fixture(scope="module")
def vimeo(tmp_path_factory):
    root = tmp_path_factory.mktemp("vimeo")
    write_vimeo_tree(
        str(root),
        entries=("00001/0001", "00001/0002", "00002/0001", "00002/0002"),
        test_entries=("00002/0002",),
        height=48,
        width=64,
    )
    return VimeoSeptuplets(root, "train")


def _take(ds, n):
    return [tuple(t.numpy() for t in el) for el in ds.take(n)]


# ------------------------------------------------------------------------------ training
def test_train_shapes_ranges_and_spec(vimeo):
    ds = make_train_dataset(vimeo, batch_size=2, hr_crop=32, seed=0)
    lr_spec, hr_spec = ds.element_spec
    assert lr_spec.shape.as_list() == [2, 7, 8, 8, 3] and hr_spec.shape.as_list() == [2, 32, 32, 3]
    for lr, hr in _take(ds, 4):  # 4 batches of 2 > 3 windows: crosses an epoch boundary
        assert lr.dtype == np.float32 and hr.dtype == np.float32
        assert 0.0 <= lr.min() and lr.max() <= 1.0 and 0.0 <= hr.min() and hr.max() <= 1.0


def test_train_deterministic_under_seed(vimeo):
    a = _take(make_train_dataset(vimeo, batch_size=2, hr_crop=32, seed=5), 3)
    b = _take(make_train_dataset(vimeo, batch_size=2, hr_crop=32, seed=5, num_parallel_calls=1), 3)
    c = _take(make_train_dataset(vimeo, batch_size=2, hr_crop=32, seed=6), 3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])
    assert not all(np.array_equal(x[1], z[1]) for x, z in zip(a, c, strict=True))


def test_train_epochs_cover_every_window_once(vimeo):
    centres = [s.read([3])[0] for s in vimeo.sequences]  # 48x64 frames, 48x48 crops: only x varies
    seen = []
    for _, hr in make_train_dataset(vimeo, batch_size=None, hr_crop=48, augment=False, epochs=2, seed=1):
        hr = hr.numpy()
        seen.append([k for k, c in enumerate(centres) if any(np.array_equal(hr, c[:, x : x + 48]) for x in range(17))])
    assert len(seen) == 6 and all(len(m) == 1 for m in seen)
    assert sorted(m[0] for m in seen[:3]) == [0, 1, 2] and sorted(m[0] for m in seen[3:]) == [0, 1, 2]


def _dihedral(x, k):
    """The 8 spatial transforms of (..., H, W, C) arrays, as the pipeline can produce them."""
    if k & 1:
        x = x[..., :, ::-1, :]
    if k & 2:
        x = x[..., ::-1, :, :]
    if k & 4:
        x = np.swapaxes(x, -3, -2)
    return x


def test_augmentations_identical_across_frames():
    frames = random_frames(7, 32, 32, seed=9).astype(np.float32) / 255
    seq = ArraySequence("a", frames)
    ds = make_train_dataset(seq, batch_size=None, hr_crop=32, seed=2, epochs=12)
    found = set()
    for lr, hr in _take(ds, 12):
        match = None
        for k in range(8):
            for rev in (False, True):
                win = _dihedral(frames[::-1] if rev else frames, k)
                if np.array_equal(win[3], hr):
                    lr_ref = bd_degrade(win, 4)
                    if np.allclose(lr_ref, lr, atol=1e-5):
                        match = (k, rev)
        assert match is not None, "LR frames were not all transformed like the HR target"
        found.add(match)
    assert len(found) >= 5  # flips, transposition and reversal do occur


def test_augment_frames_directly():
    x = tf.constant(np.random.default_rng(0).uniform(size=(5, 6, 6, 1)).astype(np.float32))
    outs = {augment_frames(x, tf.constant([s, 0], tf.int64)).numpy().tobytes() for s in range(160)}
    assert len(outs) == 16  # 8 dihedral x temporal reversal
    with pytest.raises(ValueError, match="square"):
        augment_frames(tf.zeros([3, 4, 6, 1]), tf.constant([0, 0]))


def test_train_bi_and_scale2(vimeo):
    lr, hr = _take(make_train_dataset(vimeo, batch_size=2, hr_crop=32, degradation="bi"), 1)[0]
    assert lr.shape == (2, 7, 8, 8, 3) and 0.0 <= lr.min() and lr.max() <= 1.0
    lr2, hr2 = _take(make_train_dataset(vimeo, batch_size=1, hr_crop=40, scale=2, frames=5), 1)[0]
    assert lr2.shape == (1, 5, 20, 20, 3) and hr2.shape == (1, 40, 40, 3)
    # BI in the pipeline is imresize of the augmented crop: degrade(hr target) == LR centre
    lr3, hr3 = _take(make_train_dataset(vimeo, batch_size=None, hr_crop=32, degradation="bi"), 1)[0]
    np.testing.assert_allclose(lr3[3], np.clip(bi_degrade(hr3, 4), 0, 1), rtol=0, atol=5e-7)  # measured 1.2e-7


def test_train_on_bundled_clip_and_synthetic():
    clip = VideoFiles(CLIP)
    lr, hr = _take(make_train_dataset(clip, batch_size=3, hr_crop=128, seed=0), 1)[0]
    assert lr.shape == (3, 7, 32, 32, 3) and hr.shape == (3, 128, 128, 3)
    syn = SyntheticMotion([random_frames(1, 96, 96, seed=3)[0]], seed=1)
    a = _take(make_train_dataset([syn, clip], batch_size=2, hr_crop=64, seed=4), 2)
    b = _take(make_train_dataset([syn, clip], batch_size=2, hr_crop=64, seed=4), 2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[0], y[0])
    assert measure_pipeline_throughput(make_train_dataset(clip, batch_size=2, hr_crop=64), steps=3) > 0


def test_train_argument_checks(vimeo):
    with pytest.raises(ValueError, match="multiple of scale"):
        make_train_dataset(vimeo, hr_crop=30)
    with pytest.raises(ValueError, match="odd"):
        make_train_dataset(vimeo, hr_crop=32, frames=6)
    with pytest.raises(ValueError, match="degradation"):
        make_train_dataset(vimeo, hr_crop=32, degradation="gauss")


# ------------------------------------------------------------------------------ evaluation
def test_eval_boundary_replication():
    n = 9
    frames = np.stack([np.full((32, 40, 3), (k + 1) / 10.0, np.float32) for k in range(n)])
    ds = make_eval_dataset(ArraySequence("flat", frames), batch_size=None)
    els = list(ds)
    assert [int(e[2]["frame"]) for e in els] == list(range(n))
    for lr, hr, info in els:
        i = int(info["frame"])
        idx = [int(round(v * 10)) - 1 for v in lr.numpy().mean(axis=(1, 2, 3))]
        assert idx == [min(max(i + k, 0), n - 1) for k in range(-3, 4)] == window_indices(i, n)
        assert info["sequence"].numpy() == b"flat" and np.allclose(hr, (i + 1) / 10.0)
    assert window_indices(0, 9) == [0, 0, 0, 0, 1, 2, 3] and window_indices(8, 9) == [5, 6, 7, 8, 8, 8, 8]


def test_eval_matches_official_fixture_both_protocols():
    ref = np.load(FIXTURE)
    clip = VideoFiles(CLIP)
    for protocol, key in (("plain", "lr_bd"), ("official", "lr_bd_padded")):
        lr, hr, info = next(iter(make_eval_dataset(clip, protocol=protocol, batch_size=None).skip(13)))
        assert int(info["frame"]) == 13 and int(info["border"]) == sr_border(4, protocol)
        np.testing.assert_allclose(hr.numpy(), ref["hr"][3], atol=1e-6)  # fixture: frames 10..16
        np.testing.assert_allclose(lr.numpy(), ref[key], atol=1e-5)
    assert sr_border(4, "official") == 8 and sr_border(4, "plain") == 0
    sr = np.zeros((1, 160, 192, 3))  # x4 of the padded LR (40, 48)
    assert crop_sr_output(sr, 4, "official").shape == (1, 144, 176, 3)


def test_eval_vimeo_center_batches_and_modcrop(tmp_path, vimeo):
    test = VimeoSeptuplets(vimeo.root, "test")
    els = list(make_eval_dataset([vimeo, test], references="center", batch_size=1, protocol="official"))
    assert len(els) == 4 and all(int(e[2]["frame"][0]) == 3 for e in els)
    assert els[0][0].shape == (1, 7, 16, 20, 3) and els[0][1].shape == (1, 48, 64, 3)
    # batches never span sequences of different sizes; HR is modcropped to a multiple of scale
    seqs = [ArraySequence("a", random_frames(7, 30, 42)), ArraySequence("b", random_frames(7, 36, 36, seed=1))]
    shapes = [
        (tuple(lr.shape), tuple(hr.shape), info["sequence"].numpy().tolist())
        for lr, hr, info in make_eval_dataset(seqs, batch_size=4)
    ]
    assert shapes == [
        ((4, 7, 7, 10, 3), (4, 28, 40, 3), [b"a"] * 4),
        ((3, 7, 7, 10, 3), (3, 28, 40, 3), [b"a"] * 3),
        ((4, 7, 9, 9, 3), (4, 36, 36, 3), [b"b"] * 4),
        ((3, 7, 9, 9, 3), (3, 36, 36, 3), [b"b"] * 3),
    ]
    lr, hr = next(iter(make_eval_dataset(seqs[1], degradation="bi", with_info=False)))
    assert lr.shape == (1, 7, 9, 9, 3)


def test_eval_allow_short_replicates():
    seq = ArraySequence("s", np.stack([np.full((16, 16, 3), k / 4.0, np.float32) for k in range(3)]))
    els = list(make_eval_dataset(seq, batch_size=None, allow_short=True))
    lr = els[0][0].numpy().mean(axis=(1, 2, 3)) * 4
    np.testing.assert_allclose(lr, [0, 0, 0, 0, 1, 2, 2], atol=1e-5)


def test_eval_max_references_limits_each_sequence(tmp_path):
    from tga_keras.data import ArraySequence

    frames = np.random.default_rng(0).random((10, 32, 32, 3)).astype(np.float32)
    ds = make_eval_dataset([ArraySequence("a", frames), ArraySequence("b", frames)], batch_size=None, max_references=3)
    got = [(info["sequence"].decode(), int(info["frame"])) for _, _, info in ds.as_numpy_iterator()]
    assert got == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]
    with pytest.raises(ValueError, match="max_references"):
        make_eval_dataset([ArraySequence("a", frames)], max_references=0)


def test_eval_first_reference_starts_later_with_the_same_windows():
    from tga_keras.data import ArraySequence

    frames = np.random.default_rng(1).random((10, 32, 32, 3)).astype(np.float32)
    seqs = [ArraySequence("a", frames), ArraySequence("short", frames[:7])]
    every = {
        (i["sequence"], int(i["frame"])): lr
        for lr, _, i in make_eval_dataset(seqs, batch_size=None).as_numpy_iterator()
    }
    ds = make_eval_dataset(seqs, batch_size=None, first_reference=5, max_references=3)
    got = [(i["sequence"], int(i["frame"]), lr) for lr, _, i in ds.as_numpy_iterator()]
    assert [(n.decode(), f) for n, f, _ in got] == [("a", 5), ("a", 6), ("a", 7), ("short", 5), ("short", 6)]
    for name, f, lr in got:  # frames before the first reference still serve as its neighbours
        np.testing.assert_array_equal(lr, every[(name, f)])
    late = make_eval_dataset(seqs, batch_size=None, first_reference=9).as_numpy_iterator()
    assert [(i["sequence"].decode(), int(i["frame"])) for _, _, i in late] == [("a", 9)]  # "short" has none
    with pytest.raises(ValueError, match="first_reference"):
        make_eval_dataset(seqs, first_reference=-1)
