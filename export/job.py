"""What every exporter shares: the job (model, output folder, parity frames) and keeping an artifact.

An exporter writes its artifact to a temporary path beside the final one, loads it as a backend
of the inference core, runs the parity windows, and calls :meth:`Job.keep`: within its bound the
temporary path is renamed to the final one and an entry is returned for the manifest; below it the
temporary path is removed and :class:`~tga_keras.errors.ParityError` (exit 1) is raised with the
figures. Errors are those of :mod:`tga_keras.errors`: a user's mistake is a ``UsageError`` (exit 2,
nothing written), a missing toolchain a ``ToolMissingError`` (exit 2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING, Any, Iterable, Iterator, TextIO

import numpy as np

from tga_keras.errors import ParityError, UsageError
from tga_keras.io.files import path_bytes, replace_path

if TYPE_CHECKING:
    from tga_keras.models.config import TGAConfig
    from tga_keras.models.model import TGAModel
    from tga_keras.runtime.backends.base import Backend
    from tga_keras.runtime.backends.keras import KerasBackend


@dataclasses.dataclass
class Job:
    """One export run. ``windows``: uint8 LR parity windows; ``reference``: the Keras float32 SR of them."""

    model: TGAModel
    keras: KerasBackend  # the model as an inference-core backend
    outdir: str
    overwrite: bool
    windows: np.ndarray
    reference: np.ndarray
    input_size: tuple[int, int] | None = None
    max_batch: int = 1
    calibration: str | None = None
    profile: dict[str, Any] | None = None
    threads: int | None = None
    log: TextIO | None = None
    entries: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    _scratch: str | None = None

    @property
    def config(self) -> TGAConfig:
        return self.model.config

    def say(self, text: str) -> None:
        print(text, file=self.log or sys.stdout, flush=True)

    def path(self, *parts: str) -> str:
        return os.path.join(self.outdir, *parts)

    def scratch(self) -> str:
        """A private temporary folder inside OUTDIR (same file system: renames are atomic)."""
        if self._scratch is None:
            os.makedirs(self.outdir, exist_ok=True)
            self._scratch = tempfile.mkdtemp(prefix=".export-", dir=self.outdir)
        return self._scratch

    def cleanup(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def temp_path(self, final: str) -> str:
        """A fresh temporary path for ``final`` (same folder, hidden name)."""
        folder = os.path.dirname(final)
        os.makedirs(folder, exist_ok=True)
        base = os.path.basename(final.rstrip(os.sep))
        return os.path.join(folder, f".{base}.part-{os.getpid()}-{len(self.entries)}")

    def check(self, backend: Backend, precision: str) -> dict[str, Any]:
        """Parity figures of ``backend`` on the job's windows; :class:`ParityError` if out of bound."""
        from tga_keras.runtime.parity import compare, meets, sr_of

        figures = compare(self.reference, sr_of(backend, self.windows))
        ok, text = meets(figures, precision)
        self.say(f"  parity vs Keras on {len(self.windows)} real windows: {text}")
        if not ok:
            raise ParityError(f"parity with Keras: {text}")
        return figures

    def keep(
        self,
        tmp: str,
        final: str,
        fmt: str,
        precision: str,
        figures: dict[str, Any],
        io: dict[str, Any],
        companions: tuple[tuple[str, str], ...] = (),
        **extra: Any,
    ) -> dict[str, Any]:
        """Move ``tmp`` to ``final`` (and each ``(tmp, final)`` of ``companions``, e.g. a sidecar) and
        record the artifact. An existing ``final`` is replaced only with ``overwrite``: a file by one
        atomic rename, a folder by moving the old one aside first (never a moment without one)."""
        for _, target in ((tmp, final), *companions):
            if os.path.lexists(target) and not self.overwrite:  # checked before any work; raced here
                raise UsageError(f"{target} exists; pass --overwrite to replace it")
        for source, target in (*companions, (tmp, final)):
            replace_path(source, target)
        entry = {
            "format": fmt,
            "precision": precision,
            "path": os.path.relpath(final, self.outdir),
            "bytes": path_bytes(final),
            "input": io["input"],
            "output": io["output"],
            "max_abs_diff": figures["max_abs_diff"],
            "psnr_db": None if figures["psnr_db"] == float("inf") else figures["psnr_db"],
            **extra,
        }
        self.entries.append(entry)
        self.say(f"  wrote {final} ({entry['bytes'] / 1e6:.1f} MB)")
        return entry


@contextlib.contextmanager
def removed_on_failure(*paths: str) -> Iterator[None]:
    """Remove ``paths`` (files or folders) if the block raises: nothing half-written stays behind."""
    try:
        yield
    except BaseException:
        for p in paths:
            _remove(p)
        raise


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def tensor_io(name: str, dtype: str, shape: Iterable[Any]) -> dict[str, Any]:
    """A manifest ``input``/``output`` record; unknown dimensions as ``None``."""
    return {
        "name": name,
        "dtype": dtype,
        "shape": [None if (d is None or isinstance(d, str) or int(d) < 0) else int(d) for d in shape],
    }
