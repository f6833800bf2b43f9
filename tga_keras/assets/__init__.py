"""Files bundled with the package: the demo clip (``carphone_pristine.mp4``, see README.md here)."""

from __future__ import annotations

import os

CLIP = "carphone_pristine.mp4"


def clip_path() -> str:
    """Path of the bundled clip (176x144, 120 frames): the demo's input and the exporters' parity frames."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), CLIP)


__all__ = ["CLIP", "clip_path"]
