"""Build the TGA network as a Keras functional model.

model = build_tga(TGAConfig.official())
sr = model(lr_frames)              # (B, 7, H, W, 3) RGB [0,1] -> (B, 4H, 4W, 3)
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

import keras
from keras import layers

import tga_keras.evaluation.metrics  # noqa: F401
import tga_keras.losses  # noqa: F401  (registers the loss and metrics that trained .keras files name)
from tga_keras.errors import InputError
from tga_keras.models.config import TGAConfig
from tga_keras.models.layers import (
    BicubicUpsample,
    InterGroupModule,
    IntraGroupModule,
    ReferenceFrame,
    TemporalAttention,
    UpsampleHead,
)


class FrameSpec(Protocol):
    """What :func:`check_frames_shape` reads of a config (a :class:`TGAConfig` has both)."""

    @property
    def frames(self) -> int: ...

    @property
    def min_size(self) -> int: ...


def check_frames_shape(shape: Iterable[int | None], config: FrameSpec) -> None:
    """Raise ``ValueError`` unless ``shape`` is ``(batch, frames, H, W, 3)`` with H, W large enough.

    ``None`` entries (unknown at trace time) pass. Cheap: call it before any heavy work.
    """
    shape = tuple(shape)
    want = f"(batch, {config.frames}, height, width, 3) RGB frames"
    if len(shape) != 5:
        raise InputError(f"TGA expects {want}; got an array of rank {len(shape)} with shape {shape}")
    _, f, h, w, ch = shape
    if f is not None and f != config.frames:
        raise InputError(f"TGA expects {want}; got {f} frames (shape {shape})")
    if ch is not None and ch != 3:
        raise InputError(f"TGA expects {want}; got {ch} channels (shape {shape}): convert to RGB first")
    m = config.min_size
    for name, v in (("height", h), ("width", w)):
        if v is not None and v < m:
            raise InputError(f"TGA needs frames of at least {m}x{m} pixels; got {name} {v} (shape {shape})")


@keras.saving.register_keras_serializable(package="tga_keras")
class TGAModel(keras.Model):
    """The TGA network: ``lr_frames (B, F, H, W, 3)`` RGB [0,1] -> ``sr (B, s*H, s*W, 3)``.

    A functional model whose blocks are named ``intra_group``, ``attention``, ``inter_group``,
    ``upsample`` and ``bicubic``. With ``return_attention=True`` it also returns the attention
    weights ``(B, G, H, W)`` (softmax over the ``G`` groups). ``model.config`` is the
    :class:`TGAConfig`; ``get_config``/``from_config`` round-trip it.
    """

    def __init__(
        self, config: TGAConfig | dict[str, Any] | None = None, return_attention: bool = False, **kwargs: Any
    ) -> None:
        config = TGAConfig() if config is None else config
        config = config if isinstance(config, TGAConfig) else TGAConfig.from_dict(config)
        lr = keras.Input(shape=(config.frames, None, None, 3), name="lr_frames", dtype="float32")
        feats = IntraGroupModule(config, name="intra_group")(lr)
        fused, att = TemporalAttention(config.ng, name="attention")(feats)
        x = InterGroupModule(config, name="inter_group")(fused)
        residual = UpsampleHead(config, name="upsample")(x)
        reference = ReferenceFrame(config.center, name="reference", dtype="float32")(lr)
        # The bicubic base and the sum stay float32 under mixed precision: only the residual is
        # computed in the low-precision dtype, so the output keeps float32 resolution.
        base = BicubicUpsample(config.scale, name="bicubic", dtype="float32")(reference)
        sr = layers.Add(name="sr", dtype="float32")([base, residual])
        outputs = sr
        if return_attention:
            outputs = [sr, layers.Reshape((len(config.groups), -1), name="attention_weights")(att)]
        kwargs.setdefault("name", "tga")
        super().__init__(inputs=lr, outputs=outputs, **kwargs)
        self.config = config
        self.return_attention = bool(return_attention)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(inputs, "shape"):
            check_frames_shape(tuple(inputs.shape), self.config)
        return super().__call__(inputs, *args, **kwargs)

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(x, "shape"):
            check_frames_shape(tuple(x.shape), self.config)
        return super().predict(x, *args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "return_attention": self.return_attention, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> TGAModel:
        return cls(**config)


def build_tga(config: TGAConfig | None = None, return_attention: bool = False) -> TGAModel:
    """Build a TGA model (see :class:`TGAModel`). ``config`` defaults to ``TGAConfig.official()``."""
    return TGAModel(config, return_attention=return_attention)
