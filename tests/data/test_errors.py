"""Bad input to tga_keras.data: each gives a clear error naming the file (or a documented conversion)."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tga_keras.data import (
    FrameFolders,
    SyntheticMotion,
    VideoFiles,
    VimeoSeptuplets,
    make_eval_dataset,
    make_train_dataset,
)
from tga_keras.data.fakes import random_frames, write_frames, write_vimeo_tree
from tga_keras.errors import DatasetError, DatasetFileNotFoundError
from tga_keras.io.images import read_image


def test_missing_list_file(tmp_path):
    write_vimeo_tree(str(tmp_path))
    os.remove(tmp_path / "sep_trainlist.txt")
    with pytest.raises(DatasetFileNotFoundError, match="sep_trainlist.txt") as e:
        VimeoSeptuplets(tmp_path, "train")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, ValueError)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        VimeoSeptuplets(tmp_path, list_file=tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DatasetError, match="no septuplets"):
        VimeoSeptuplets(tmp_path, list_file=tmp_path / "empty.txt")


def test_septuplet_with_six_images_or_missing_folder(tmp_path):
    write_vimeo_tree(str(tmp_path))
    os.remove(tmp_path / "sequences" / "00001" / "0002" / "im7.png")
    with pytest.raises(DatasetError, match=r"0002 has 6 of 7 frames; missing im7.png"):
        VimeoSeptuplets(tmp_path, "train", check_sizes=False)
    shutil.rmtree(tmp_path / "sequences" / "00001" / "0002")
    with pytest.raises(DatasetFileNotFoundError, match="00001/0002"):
        VimeoSeptuplets(tmp_path, "train")


def test_frames_of_different_sizes(tmp_path):
    paths = write_frames(str(tmp_path / "seq"), random_frames(8, 32, 32))
    cv2.imwrite(paths[5], random_frames(1, 32, 36)[0])
    with pytest.raises(DatasetError, match=r"5\.png is 32x36"):
        FrameFolders(tmp_path)
    # without the eager header check the mismatch surfaces while decoding, naming the file
    src = FrameFolders(tmp_path, check_sizes=False)
    ds = make_train_dataset(src, batch_size=None, hr_crop=32, shuffle=False)
    with pytest.raises(tf.errors.OpError, match=r"5\.png is 32x36"):
        for _ in ds.take(3):
            pass


def test_corrupt_file_surfaces_while_iterating(tmp_path):
    write_vimeo_tree(str(tmp_path))
    src = VimeoSeptuplets(tmp_path, "train", check_sizes=False)
    bad = tmp_path / "sequences" / "00001" / "0001" / "im3.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated after building the index
    with pytest.raises(tf.errors.OpError, match="im3.png"):
        list(make_train_dataset(src, batch_size=1, hr_crop=32, epochs=1))
    with pytest.raises(DatasetError, match="im3.png"):
        read_image(bad)


def test_zero_byte_and_unreadable_images(tmp_path):
    (tmp_path / "z.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="zero-byte.*z.png"):
        read_image(tmp_path / "z.png")
    (tmp_path / "g.png").write_bytes(b"not an image at all" * 10)
    with pytest.raises(DatasetError, match="g.png"):
        read_image(tmp_path / "g.png")
    with pytest.raises(DatasetFileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_zero_byte_and_unreadable_video(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty.mp4"):
        VideoFiles(tmp_path / "empty.mp4")
    (tmp_path / "junk.avi").write_bytes(os.urandom(4096))
    with pytest.raises(DatasetError, match="junk.avi"):
        VideoFiles(str(tmp_path / "junk.avi"))
    with pytest.raises(DatasetError, match="junk.avi"):
        VideoFiles(str(tmp_path / "junk.avi"), in_memory=False)
    with pytest.raises(FileNotFoundError, match="gone.mp4"):
        VideoFiles(str(tmp_path / "gone.mp4"))
    os.makedirs(tmp_path / "novideos")
    with pytest.raises(DatasetError, match="no video files"):
        VideoFiles(str(tmp_path / "novideos"))


def test_sequence_shorter_than_window(tmp_path):
    write_frames(str(tmp_path / "short"), random_frames(5, 40, 40))
    src = FrameFolders(tmp_path)
    with pytest.raises(DatasetError, match="short has 5 frames"):
        make_train_dataset(src, hr_crop=32)
    with pytest.raises(DatasetError, match="short has 5 frames"):
        make_eval_dataset(src)
    assert len(list(make_eval_dataset(src, allow_short=True))) == 5


def test_hr_smaller_than_crop(tmp_path):
    write_vimeo_tree(str(tmp_path), height=48, width=64)
    with pytest.raises(DatasetError, match=r"im1.png are 48x64, smaller than the HR crop 64x64"):
        make_train_dataset(VimeoSeptuplets(tmp_path, "train"), hr_crop=64)
    with pytest.raises(DatasetError, match="smaller than the HR crop"):
        make_train_dataset(SyntheticMotion([np.zeros((40, 40, 3), np.uint8)]), hr_crop=64)


def test_empty_or_missing_folders(tmp_path):
    with pytest.raises(DatasetFileNotFoundError, match="nowhere"):
        FrameFolders(tmp_path / "nowhere")
    os.makedirs(tmp_path / "a" / "b")
    with pytest.raises(DatasetError, match="no image frames"):
        FrameFolders(tmp_path / "a")
    with pytest.raises(DatasetError, match="at least one"):
        SyntheticMotion([])


def test_16bit_and_grayscale_frames_are_converted(tmp_path):
    frames = write_vimeo_tree(str(tmp_path), entries=("00001/0001",), test_entries=())
    folder = tmp_path / "sequences" / "00001" / "0001"
    rgb = frames["00001/0001"]
    cv2.imwrite(str(folder / "im2.png"), (rgb[1][..., ::-1].astype(np.uint16) * 257))  # 16-bit: x/65535
    gray = cv2.cvtColor(rgb[4], cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(folder / "im5.png"), gray)  # grayscale: repeated to 3 channels
    seq = VimeoSeptuplets(tmp_path, "train").sequences[0]
    got = seq.read(range(7))
    np.testing.assert_allclose(got[1], rgb[1] / 255.0, atol=1e-6)
    np.testing.assert_allclose(got[4], np.repeat(gray[..., None], 3, axis=2) / 255.0, atol=1e-7)
    lr, hr = next(iter(make_train_dataset(seq, batch_size=1, hr_crop=32)))
    assert lr.shape == (1, 7, 8, 8, 3)
