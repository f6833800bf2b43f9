"""tga_keras.io.files: atomic writes and the SHA-256 of files and folders."""

import hashlib
import os

import pytest

from tga_keras.io.files import atomic_path, path_bytes, sha256_digest


def test_sha256_of_a_file_is_hashlibs(tmp_path):
    data = os.urandom(3 << 20)  # several read chunks
    (tmp_path / "f.bin").write_bytes(data)
    assert sha256_digest(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()


def test_sha256_of_a_folder_covers_names_and_bytes_in_sorted_order(tmp_path):
    root = tmp_path / "model"
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"graph")
    (root / "variables" / "variables.index").write_bytes(b"index")
    expected = hashlib.sha256(b"".join([b"saved_model.pb", b"graph", b"variables.index", b"index"])).hexdigest()
    assert sha256_digest(root) == expected
    (root / "variables" / "variables.index").write_bytes(b"indeX")
    assert sha256_digest(root) != expected
    (root / "variables" / "variables.index").write_bytes(b"index")
    os.rename(root / "saved_model.pb", root / "saved_model2.pb")
    assert sha256_digest(root) != expected
    (root / "variables" / "a.data").write_bytes(b"data")  # files by name, a folder's before its subfolders'
    after = hashlib.sha256(
        b"".join([b"saved_model2.pb", b"graph", b"a.data", b"data", b"variables.index", b"index"])
    ).hexdigest()
    assert sha256_digest(root) == after


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target, overwrite=True) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]
    with atomic_path(target, overwrite=True) as tmp:
        with open(tmp, "w") as f:
            f.write("new")
    assert target.read_text() == "new" and path_bytes(target) == 3
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]
