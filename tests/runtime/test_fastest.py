"""tga_keras.runtime.fastest: the fastest exact (or fast) runtime of a Keras model, measured, checked, cached.

Every test has its own cache folder (``$TGA_CACHE_DIR``) and the exporter tests' tiny model (He-normal
kernels, non-trivial BatchNorm statistics), so that a conversion that loses the network shows.
"""

from __future__ import annotations

import json
import logging
import os

import pytest

from tests.helpers.runtimes import hide_modules, patch_candidates
from tga_keras.errors import InputError, RuntimeUnusableError
from tga_keras.models.loading import load_tga
from tga_keras.runtime import fastest
from tga_keras.runtime.backends.keras import KerasBackend
from tga_keras.runtime.parity import compare, real_windows, sr_of

pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def model(export_model):
    return load_tga(export_model)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TGA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _notes(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tga_keras.runtime"]


def _expected(timed: dict[str, float]) -> str:
    """The label the chooser must pick from ``{label: ms}``: the fastest, unless Keras fp32 is within the margin."""
    fastest_label = min(timed, key=timed.__getitem__)
    keras_ms = timed.get("keras fp32")
    if keras_ms is not None and timed[fastest_label] > keras_ms * (1 - fastest.MARGIN):
        return "keras fp32"
    return fastest_label


def test_the_exact_choice_is_the_fastest_candidate_that_matches_keras_and_is_cached(model, own_cache, caplog):
    caplog.set_level(logging.INFO, "tga_keras")
    backend = fastest.choose_backend(model, threads=2, progress=False)
    choice = backend.choice
    rows = {r["label"]: r for r in choice.measured}
    assert {"keras fp32", "tflite fp32", "onnx fp32"} <= set(rows)
    assert "tflite int8" not in rows and "keras bf16" not in rows  # exact mode: float32 only
    timed = {label: r["ms"] for label, r in rows.items() if "ms" in r}
    assert f"{choice.runtime} {choice.precision}" == _expected(timed)
    assert all(rows[label]["max_abs_diff"] <= fastest.EXACT_MAX_DIFF for label in timed)
    assert choice.reason.startswith(f"{choice.runtime} fp32 (") and not choice.cached
    assert ("fastest exact" in choice.reason) or ("no converted runtime is 5% faster" in choice.reason)
    assert choice.seconds > 0 and str(own_cache) in choice.folder
    windows = real_windows(model.config.frames, model.config.scale, count=1, start=30)  # frames it was not checked on
    assert compare(sr_of(KerasBackend(model), windows), sr_of(backend, windows))["max_abs_diff"] <= 1e-4
    assert any(n.startswith("first use of this model here") for n in _notes(caplog))
    chosen_file = {
        "tflite": "model_fp32.tflite",
        "onnx": "model_fp32.onnx",
        "openvino": "model_fp32.openvino.onnx",
        "keras": None,
    }[choice.runtime]
    files = {n for n in os.listdir(choice.folder) if n.startswith("model_")}
    assert files == ({chosen_file} if chosen_file else set())  # the runners-up are not kept

    artifacts = {n: os.path.getmtime(os.path.join(choice.folder, n)) for n in os.listdir(choice.folder)}
    caplog.clear()
    again = fastest.choose_backend(model, threads=2, progress=False)
    assert again.choice.cached and again.choice.seconds == 0 and again.choice.reason == choice.reason
    assert (again.choice.runtime, type(again)) == (choice.runtime, type(backend))
    assert {n: os.path.getmtime(os.path.join(choice.folder, n)) for n in os.listdir(choice.folder)} == artifacts
    assert any("chosen earlier, cached" in n for n in _notes(caplog))
    # another thread count is another measurement; another model another entry
    assert not os.path.exists(os.path.join(choice.folder, "choice_exact_any_t1.json"))


def test_a_corrupt_cache_entry_is_rebuilt_with_a_note(model, caplog):
    first = fastest.choose_backend(model, runtime="tflite", threads=2, progress=False)
    folder = first.choice.folder
    record = os.path.join(folder, "choice_exact_tflite_t2.json")
    artifact = os.path.join(folder, "model_fp32.tflite")
    good = open(artifact, "rb").read()

    assert first.choice.reason.startswith("tflite fp32 (asked for, not timed;")  # one candidate: checked only
    whole = json.load(open(record))
    for damaged in (
        '{"chosen": "tflite fp32", "sha2',
        {**whole, "reason": 7},
        {k: whole[k] for k in whole if k != "mode"},
    ):
        with open(record, "w") as f:
            f.write(damaged if isinstance(damaged, str) else json.dumps(damaged))  # cut short, a field wrong or gone
        caplog.clear()
        backend = fastest.choose_backend(model, runtime="tflite", threads=2, progress=False)
        assert not backend.choice.cached and "unusable" in " ".join(_notes(caplog)), damaged
        assert json.load(open(record))["chosen"] == "tflite fp32"

    with open(artifact, "wb") as f:  # the recorded sha256 no longer matches
        f.write(good[: len(good) // 2])
    caplog.clear()
    backend = fastest.choose_backend(model, runtime="tflite", threads=2, progress=False)
    assert not backend.choice.cached and "does not match its recorded sha256" in " ".join(_notes(caplog))
    assert open(artifact, "rb").read() == good  # built again (the conversion is deterministic)

    os.remove(record)  # an artifact that cannot be loaded, with no record: built again once
    with open(artifact, "wb") as f:
        f.write(b"not a flatbuffer")
    caplog.clear()
    backend = fastest.choose_backend(model, runtime="tflite", threads=2, progress=False)
    assert backend.choice.runtime == "tflite" and "building it again" in " ".join(_notes(caplog))


def test_an_unwritable_cache_chooses_in_a_temporary_folder_with_a_note(model, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TGA_CACHE_DIR", str(blocker))
    backend = fastest.choose_backend(model, runtime="onnx", threads=1, progress=False)
    assert "cannot be written" in " ".join(_notes(caplog)) and "TGA_CACHE_DIR" in " ".join(_notes(caplog))
    assert not os.path.exists(backend.choice.folder)  # the temporary folder is gone, the backend still runs
    windows = real_windows(model.config.frames, model.config.scale, count=1)
    assert compare(sr_of(KerasBackend(model), windows), sr_of(backend, windows))["max_abs_diff"] <= 1e-4


def test_failing_and_disagreeing_runtimes_are_left_out_and_keras_remains(model, monkeypatch, caplog):
    class Off:  # a backend a tenth of a level off Keras everywhere
        def __init__(self, inner):
            self.inner = inner
            self.name, self.precision, self.scale, self.frames = "onnx", "fp32", inner.scale, inner.frames
            self.min_size, self.config = inner.min_size, inner.config

        def __call__(self, x):
            return self.inner(x) + 1e-3

    patch_candidates(monkeypatch, crash="tflite fp32", wrap={"onnx fp32": Off, "openvino fp32": Off})
    backend = fastest.choose_backend(model, threads=2, progress=False)
    assert isinstance(backend, KerasBackend) and backend.choice.runtime == "keras"
    notes = _notes(caplog)
    assert any(n.startswith("note: tflite fp32 left out: failed: RuntimeError: converter crashed") for n in notes)
    assert any(n.startswith("note: onnx fp32 left out: disagrees with keras fp32: max |diff| 0.001") for n in notes)
    assert not os.path.exists(os.path.join(backend.choice.folder, "model_fp32.onnx"))  # not kept for next time
    with pytest.raises(RuntimeUnusableError, match="no tflite runtime passed its check here .*--backend keras"):
        fastest.choose_backend(model, runtime="tflite", threads=2, progress=False)


def test_a_named_runtime_that_is_not_installed_is_an_input_error_with_the_hint(model, monkeypatch):
    hide_modules(monkeypatch, "onnxruntime")
    with pytest.raises(InputError, match=r"the onnx backend is not installed here: pip install onnxruntime"):
        fastest.choose_backend(model, runtime="onnx", progress=False)
    backend = fastest.choose_backend(model, threads=2, progress=False)  # auto: onnx is only left out
    rows = {r["label"]: r for r in backend.choice.measured}
    assert rows["onnx fp32"]["note"].startswith("not installed (pip install onnxruntime")
    assert backend.choice.runtime != "onnx"


def test_fast_mode_keeps_what_stays_within_45_db_and_says_its_psnr(model):
    backend = fastest.choose_backend(model, mode="fast", threads=2, progress=False)
    rows = {r["label"]: r for r in backend.choice.measured}
    assert rows["tflite int8"].get("psnr_db") is not None and rows["tflite int8-dynamic"].get("psnr_db") is not None
    kept = {label: r for label, r in rows.items() if "ms" in r}
    assert all(r["psnr_db"] is None or r["psnr_db"] >= fastest.FAST_MIN_PSNR for r in kept.values())
    assert f"{backend.choice.runtime} {backend.choice.precision}" == _expected({k: r["ms"] for k, r in kept.items()})
    assert ("within 45 dB" in backend.choice.reason) or ("no converted runtime is 5% faster" in backend.choice.reason)
    assert ("dB vs keras fp32" in backend.choice.reason) or ("max |diff|" in backend.choice.reason)


def test_the_modes_and_runtimes_are_checked():
    from tests.helpers.export_helpers import TINY_EXPORT_CONFIG

    with pytest.raises(InputError, match="mode must be one of"):
        fastest.eligible(TINY_EXPORT_CONFIG, "quick")
    assert [c.label for c in fastest.eligible(TINY_EXPORT_CONFIG, "exact", "onnx")] == ["onnx fp32"]


def test_the_auto_backend_setting_is_checked(monkeypatch, export_model):
    from tga_keras.runtime.backends import AUTO_ENV, load_backend

    monkeypatch.setenv(AUTO_ENV, "keras")
    assert isinstance(load_backend(export_model), KerasBackend)
    monkeypatch.setenv(AUTO_ENV, "fastes")
    with pytest.raises(InputError, match="TGA_AUTO_BACKEND must be 'fastest'"):
        load_backend(export_model)


def test_keras_alone_is_not_measured(model, monkeypatch, caplog):
    """Without the optional runtimes there is nothing to choose: Keras, no check, no timing, no cache."""
    hide_modules(monkeypatch, "ai_edge_litert", "onnxruntime", "tf2onnx")
    backend = fastest.choose_backend(model, threads=2, progress=False)
    assert isinstance(backend, KerasBackend) and backend.choice.measured == []
    assert backend.choice.reason.startswith("keras fp32 (the only runtime installed here; pip install")
    assert not any(n.startswith("first use") for n in _notes(caplog))


def test_an_untrained_preset_is_the_same_network_in_every_process():
    """Seeded: one cache entry for `tga benchmark` / `tga demo` without --weights, not one per run."""
    from tests.helpers.export_helpers import TINY_EXPORT_CONFIG
    from tga_keras.models.model import build_tga
    from tga_keras.runtime.backends import seed_untrained

    keys = []
    for _ in range(2):
        seed_untrained()
        keys.append(fastest.entry_key(build_tga(TINY_EXPORT_CONFIG)))
    assert keys[0] == keys[1]
    assert fastest.entry_key(build_tga(TINY_EXPORT_CONFIG)) != keys[0]  # unseeded: other weights, other entry


def test_a_converted_onnx_model_knows_its_config(model):
    """The chooser's ONNX file records no config: the backend gets the model's (tile overlap, alignment, attention)."""
    backend = fastest.choose_backend(model, runtime="onnx", threads=1, progress=False)
    assert backend.config == model.config and backend.keras_model is model


def test_two_processes_at_once_make_one_choice(export_model, own_cache):
    """The entry is locked: one process chooses, the other waits (with a note) and reads its choice."""
    import subprocess
    import sys

    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='%(message)s')\n"
        "from tga_keras.models.loading import load_tga\n"
        "from tga_keras.runtime.fastest import choose_backend\n"
        f"b = choose_backend(load_tga({export_model!r}), threads=1, progress=False)\n"
        "print(b.choice.reason, b.choice.cached)\n"
    )
    env = {**os.environ, "TGA_CACHE_DIR": str(own_cache), "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    reasons = [out.strip().rsplit(" ", 1) for out, _ in outs]
    assert reasons[0][0] == reasons[1][0]  # the same choice
    assert sorted(cached for _, cached in reasons) == ["False", "True"]  # made once, read once
    assert sum("first use of this model here" in err for _, err in outs) == 1
