"""Keras layers of the TGA network (all registered under the ``tga_keras`` package)."""

from tga_keras.models.layers.bicubic import BicubicUpsample
from tga_keras.models.layers.modules import (
    InterGroupModule,
    IntraGroupModule,
    ReferenceFrame,
    TemporalAttention,
    UpsampleHead,
)
from tga_keras.models.layers.units import ConvBNReLU, DenseUnit, PreActivation, TemporalDenseUnit

__all__ = [
    "BicubicUpsample",
    "ConvBNReLU",
    "DenseUnit",
    "PreActivation",
    "TemporalDenseUnit",
    "InterGroupModule",
    "IntraGroupModule",
    "ReferenceFrame",
    "TemporalAttention",
    "UpsampleHead",
]
