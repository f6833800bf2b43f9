"""Shared by the runtime-chooser tests: hiding installed packages, and candidates made to fail."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any, Callable


def hide_modules(monkeypatch, *names: str) -> None:
    """``importlib.util.find_spec`` answers None for ``names``: those packages look not installed."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in names else find_spec(name, *a))


def _raise(message: str) -> Callable[[Any], bytes]:
    def build(model: Any) -> bytes:
        raise RuntimeError(message)

    return build


def _wrapped(load: Callable, f: Callable) -> Callable:
    return lambda path, threads: f(load(path, threads))


def patch_candidates(monkeypatch, *, crash: str | None = None, wrap: dict[str, Callable] | None = None) -> None:
    """``runtime.fastest.candidates`` with the build of candidate ``crash`` (a label) raising
    ``RuntimeError("converter crashed")`` and each candidate of ``wrap`` (label -> f) loading
    ``f(backend)`` instead of its backend."""
    from tga_keras.runtime import fastest

    real = fastest.candidates

    def patched(config):
        out = []
        for c in real(config):
            if c.label == crash:
                c = dataclasses.replace(c, build=_raise("converter crashed"))
            if wrap and c.label in wrap:
                c = dataclasses.replace(c, load=_wrapped(c.load, wrap[c.label]))
            out.append(c)
        return out

    monkeypatch.setattr(fastest, "candidates", patched)
