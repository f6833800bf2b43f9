"""TGAConfig: every hyper-parameter of a TGA network, frozen and JSON round-trippable."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from tga_keras.errors import InputError
from tga_keras.models.presets import preset_config

_SUPPORTED_SCALES = (2, 3, 4)

# Version of the saved form (``to_dict``), stored as "format" in every saved config. 1: no "format" key
# (configs written before commit b7b69c9). Among those, the ones without a ``stem_bias`` key predate commit
# fdd24a5, when ``dilation`` dilated the stem only and stem biases were always on: with dilation on they
# computed another network and are refused. 2: written with "format" (the dilated network is the official
# ``TGA/arch.py``: stem and fusion conv dilated, ``stem_bias``).
CONFIG_FORMAT = 2


@dataclasses.dataclass(frozen=True)
class TGAConfig:
    """Hyper-parameters of a TGA network.

    Attributes:
        frames: number of input LR frames (odd; the centre one is the reference). Neighbours are
            split into ``(frames - 1) // 2`` groups by temporal distance, each group holding the
            reference: for 7 frames (0,3,6), (2,3,4), (1,3,5).
        scale: upscaling factor (4 is the official two x2 depth-to-space head; 2 and 3 use one step).
        nf: feature width of the stem and of each dense block's input.
        ng: growth rate of the dense blocks (channels each unit adds).
        intra_units: units of the intra-group 2D dense block, as blocks (official: six blocks of 3).
        fusion3d_units: units of the inter-group 3D dense block, as (temporal-padded, reducing)
            (official: 2 + 2).
        inter_units: units of the inter-group 2D dense block, as blocks (official: seven blocks of 3).
        stem_units: spatial 3x3 conv-BN-ReLU units before the 3x3x3 temporal fusion (official: 3).
        reconstruction_width: channels of the conv before upsampling (official: 256).
        upsample_width: channels after the first depth-to-space (official: 128).
        bn_epsilon: BatchNorm epsilon (official: 1e-3).
        dilation: the paper's per-group dilation: every group runs the stem's 3x3 convs and the 3x3x3
            fusion conv with a spatial dilation rate equal to its temporal distance (3, 1, 2 for the
            groups (0,3,6), (2,3,4), (1,3,5)), each group through the shared stem BatchNorms on its
            own, as the dilated TGA that the official repository published first (``TGA/arch.py``
            with ``TGA.pth``). Off in the later release (``code/arch.py``).
        stem_bias: biases on the stem convs and the 3x3x3 fusion conv (the later release: yes; the
            first-published dilated network: no).
        align: the paper's fast spatial alignment: every window's neighbours are warped onto the
            reference by a feature-matched homography (:func:`tga_keras.preprocess.alignment.align`) before the
            network, by the inference core (``tga upscale/evaluate/benchmark/demo``) and by the
            training pipeline. Not part of the Keras graph (OpenCV runs it), so exported artifacts
            expect aligned windows; their manifest records the flag, and ``tga --backend`` aligns.
    """

    frames: int = 7
    scale: int = 4
    nf: int = 64
    ng: int = 16
    intra_units: tuple[int, ...] = (3, 3, 3, 3, 3, 3)
    fusion3d_units: tuple[int, int] = (2, 2)
    inter_units: tuple[int, ...] = (3, 3, 3, 3, 3, 3, 3)
    stem_units: int = 3
    reconstruction_width: int = 256
    upsample_width: int = 128
    bn_epsilon: float = 1e-3
    dilation: bool = False
    stem_bias: bool = True
    align: bool = False

    def __post_init__(self) -> None:
        # JSON gives lists: normalise to tuples so equality and hashing hold.
        for name in ("intra_units", "fusion3d_units", "inter_units"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range."""
        if not isinstance(self.frames, int) or self.frames < 3 or self.frames % 2 == 0:
            raise InputError(f"frames must be an odd integer >= 3, got {self.frames!r}")
        if self.scale not in _SUPPORTED_SCALES:
            raise InputError(f"scale must be one of {_SUPPORTED_SCALES}, got {self.scale!r}")
        for name in ("nf", "ng", "reconstruction_width", "upsample_width"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if self.stem_units < 1:
            raise InputError(f"stem_units must be >= 1, got {self.stem_units!r}")
        if not self.intra_units or min(self.intra_units) < 1:
            raise InputError(f"intra_units must be a non-empty tuple of positive ints, got {self.intra_units!r}")
        if not self.inter_units or min(self.inter_units) < 1:
            raise InputError(f"inter_units must be a non-empty tuple of positive ints, got {self.inter_units!r}")
        if len(self.fusion3d_units) != 2 or min(self.fusion3d_units) < 1:
            raise InputError(f"fusion3d_units must be two positive ints, got {self.fusion3d_units!r}")
        for name in ("dilation", "stem_bias", "align"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not self.bn_epsilon > 0:
            raise InputError(f"bn_epsilon must be > 0, got {self.bn_epsilon!r}")

    # --------------------------------------------------------------- derived
    @property
    def groups(self) -> tuple[tuple[int, int, int], ...]:
        """Frame indices of each group, ordered as the official release: (0,3,6), (2,3,4), (1,3,5).

        Group ``g`` holds the frames at temporal distance ``d`` from the centre, with the official
        ordering of distances: the largest first, then increasing (3, 1, 2 for 7 frames).
        """
        c = self.center
        return tuple((c - d, c, c + d) for d in self.group_distances)

    @property
    def group_distances(self) -> tuple[int, ...]:
        """Temporal distance of each group; for 7 frames (3, 1, 2) as in the official release."""
        r = self.frames // 2
        return (r,) + tuple(range(1, r))

    @property
    def center(self) -> int:
        return self.frames // 2

    @property
    def min_size(self) -> int:
        """Smallest LR height/width accepted: the in-graph bicubic mirrors 2 edge samples, and a
        3x3 window should see real pixels. ('same' zero padding serves any size, dilated too.)"""
        return 3

    @property
    def receptive_radius(self) -> int:
        """LR pixels on each side that can influence one output pixel: one per 3x3 convolution on the
        path (stem, 3x3x3 fusion, every dense unit's 3x3, compression, output and upsampling
        convs); the stem and the fusion conv count the largest dilation. Official: 50; paper: 58;
        small: 21."""
        stem = (self.stem_units + 1) * (max(self.group_distances) if self.dilation else 1)
        head, rest = self.fusion3d_units
        convs = sum(self.intra_units) + head + rest + 1 + sum(self.inter_units) + 1 + 1
        return stem + convs

    @property
    def tile_overlap(self) -> int:
        """Default LR context kept around each tile: half the receptive radius (official 25, paper 29,
        small 11). Max abs of tiled against whole-frame output on real frames: the shipped small model
        (version 1) 3.5e-3 at overlap 4, 3.1e-4 at 8, 1.1e-6 at 12 (bikes.mp4, LR 68x160, 48-pixel tiles), 9e-6 at
        this default (11) on carphone; the official and paper architectures (He-normal weights, whose
        residual reaches 0.72; bikes.mp4 LR 68x96, tiles 2 * overlap + 24) 1.5e-2 / 4.6e-2 at overlap 8,
        2.7e-6 / 1.9e-3 at 16, 1.3e-6 / 1.3e-6 at this default (25 / 29)."""
        return (self.receptive_radius + 1) // 2

    # ----------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON types, plus ``"format": CONFIG_FORMAT`` (the version of this form)."""
        d: dict[str, Any] = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        d["format"] = CONFIG_FORMAT
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TGAConfig":
        """Read a saved config (:meth:`to_dict`); ``InputError`` for unknown fields, a newer format,
        or a dilated network saved before ``stem_bias`` existed (it computed differently: see ``CONFIG_FORMAT``)."""
        if not isinstance(d, dict):
            raise InputError(f"a TGAConfig needs a dict, got {type(d).__name__}")
        d = dict(d)
        fmt = d.pop("format", 1)
        if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
            raise InputError(f"TGAConfig format must be a positive integer, got {fmt!r}")
        if fmt > CONFIG_FORMAT:
            raise InputError(
                f"this model was saved by a newer tga-keras (config format {fmt}; this version reads up to "
                f"{CONFIG_FORMAT}): upgrade tga-keras"
            )
        if fmt == 1 and d.get("dilation") and "stem_bias" not in d:
            raise InputError(
                "this dilated model was saved by tga-keras before its dilated network was made exact to the "
                "official TGA/arch.py (no stem_bias in its config: only the stem was dilated, with biases), so "
                "it would compute differently now; convert the checkpoint again (tga convert TGA.pth MODEL.keras "
                "--preset paper) or retrain"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputError(f"unknown TGAConfig fields: {', '.join(unknown)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TGAConfig":
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> "TGAConfig":
        return dataclasses.replace(self, **changes)

    # -------------------------------------------------------------- presets
    # The presets are defined once, in tga_keras.models.presets.TABLE; these read it.
    @classmethod
    def official(cls) -> "TGAConfig":
        """The released "TGA-without-align-dla" network (the ``official`` preset)."""
        return preset_config("official")

    @classmethod
    def paper(cls) -> "TGAConfig":
        """The dilated TGA the official repository published first, with the ``TGA.pth`` checkpoint
        (``TGA/arch.py``, commit 4c5c102): per-group dilation, no stem biases (the ``paper`` preset)."""
        return preset_config("paper")

    @classmethod
    def paper_full(cls) -> "TGAConfig":
        """The paper's full model: the dilated network (:meth:`paper`, same weights) with the fast
        spatial alignment before it (``align=True``; the ``paper_full`` preset)."""
        return preset_config("paper_full")

    @classmethod
    def small(cls) -> "TGAConfig":
        """A narrow, shallow variant that trains on a 2-core CPU in hours (the ``small`` preset; see README)."""
        return preset_config("small")

    @classmethod
    def preset(cls, name: str) -> "TGAConfig":
        """The config of preset ``name`` (:data:`tga_keras.models.presets.TABLE`); ``InputError`` listing
        the names for any other."""
        return preset_config(name)


__all__ = ["CONFIG_FORMAT", "TGAConfig"]
