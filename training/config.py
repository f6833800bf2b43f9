"""TrainConfig: everything one training run needs, read from a JSON file.

Paths in a config file are relative to that file's folder (absolute paths stay as they are), so a
config and its data can move together; a run folder keeps the config as written (``config.json``)
and resolves it again on every start, so a run folder copied to another machine or checkout
continues there with the same command.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING, Any

from tga_keras.models.presets import DEFAULT_PRESET, TRAINING_PRESET

if TYPE_CHECKING:
    from tga_keras.data.synthetic import MotionRange
    from tga_keras.models.config import TGAConfig

STRATEGIES = ("default", "mirrored", "multiworker")
MIXED_PRECISIONS = (None, "bfloat16", "float16")
LR_SCHEDULES = ("cosine", "step")
# "l1": mean absolute error per pixel; "l1_sum": summed over each sample's pixels, mean over the
# batch (the official reduction, tga_keras.losses.l1_sum); "charbonnier": a smooth L1, mean per pixel
LOSSES = ("l1", "l1_sum", "charbonnier")
_PATH_FIELDS = ("train_vimeo", "train_frame_folders", "train_stills", "val_frame_folders", "val_stills", "init_from")
_PATH_LIST_FIELDS = ("train_videos", "val_videos")


@dataclasses.dataclass
class TrainConfig:
    """A training run (see ``training/README.md`` for a worked example of every field)."""

    model: dict[str, Any] = dataclasses.field(default_factory=lambda: {"preset": TRAINING_PRESET})
    # --- data
    train_videos: list[str] = dataclasses.field(default_factory=list)
    train_vimeo: str | None = None  # root of vimeo_septuplet (sequences/, sep_trainlist.txt)
    train_frame_folders: str | None = None  # Vid4/REDS-style root (one folder per sequence)
    train_stills: str | None = None  # folder of still images -> synthetic motion
    train_stills_weight: int = 1  # each still is drawn this many times per pass over the data
    # largest synthetic motion of train_stills and val_stills: MotionRange fields (velocity HR px/frame,
    # acceleration, rotation deg/frame, angular_acceleration, zoom log-scale/frame; local motion: objects,
    # object_velocity HR px/frame, object_size fraction of the crop); {} = MotionRange()
    stills_motion: dict[str, float] = dataclasses.field(default_factory=dict)
    val_videos: list[str] = dataclasses.field(default_factory=list)
    val_frame_folders: str | None = None
    val_stills: str | None = None  # held-out stills -> fixed synthetic motion (key 0)
    val_frames: int = 20  # validation windows per epoch (0: no validation)
    degradation: str = "bd"
    hr_crop: int = 128
    # --- optimisation
    batch_size: int = 8  # the global batch (split over replicas and workers)
    steps_per_epoch: int = 200
    epochs: int = 100
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"  # cosine: to min_learning_rate over all steps; step: see below
    min_learning_rate: float = 1e-5
    lr_step_epochs: int = 10  # step schedule: multiply by lr_step_factor every N epochs
    lr_step_factor: float = 0.1
    adam_beta_1: float = 0.9
    adam_beta_2: float = 0.999
    adam_epsilon: float = 1e-7
    weight_decay: float = 0.0  # AdamW's decoupled decay
    l2_weight_decay: float = 0.0  # the official recipe: L2 on every weight (torch Adam weight_decay)
    loss: str = "l1"  # one of LOSSES
    init_from: str | None = None  # .keras or official .pth: start from these weights (fine-tuning)
    # --- execution
    strategy: str = "default"  # default | mirrored (GPUs of one machine) | multiworker (TF_CONFIG)
    sync_batch_norm: bool = True  # BatchNorm statistics over the global batch when data-parallel
    mixed_precision: str | None = None  # None | bfloat16 | float16 (with dynamic loss scaling)
    deterministic: bool = False  # TF op determinism: a resumed run equals an uninterrupted one
    tensorboard: bool = True  # scalars and pictures in RUN/tensorboard
    seed: int = 0

    @classmethod
    def from_file(cls, path: str) -> "TrainConfig":
        return cls.from_dict(read_config_file(path), base=os.path.dirname(os.path.abspath(path)))

    @classmethod
    def from_dict(cls, data: dict, base: str = ".") -> "TrainConfig":
        """A validated config with its paths resolved against ``base`` (``ValueError`` if bad)."""
        cfg = cls.parse(data)
        cfg.resolve_paths(base)
        cfg.validate()
        return cfg

    @classmethod
    def parse(cls, data: Any) -> "TrainConfig":
        """Fields checked for names and types only; paths left as written."""
        if not isinstance(data, dict):
            raise ValueError(f"a training config is a JSON object, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown training config fields: {', '.join(unknown)} (known: {', '.join(fields)})")
        defaults = cls()
        for name, value in data.items():
            _check_type(name, value, getattr(defaults, name), fields[name].type)
        return cls(**data)

    def resolve_paths(self, base: str) -> None:
        """Join every relative path field to the folder ``base`` (absolute ones stay as they are)."""

        def r(p: str | None) -> str | None:
            return p if p is None or os.path.isabs(p) else os.path.normpath(os.path.join(base, p))

        for name in _PATH_LIST_FIELDS:
            setattr(self, name, [r(p) for p in getattr(self, name)])
        for name in _PATH_FIELDS:
            setattr(self, name, r(getattr(self, name)))

    def validate(self) -> None:
        if not (self.train_videos or self.train_vimeo or self.train_frame_folders or self.train_stills):
            raise ValueError("no training data: set train_videos, train_vimeo, train_frame_folders or train_stills")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}, got {self.loss!r}")
        for name in ("batch_size", "steps_per_epoch", "epochs", "lr_step_epochs", "train_stills_weight"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.val_frames < 0:
            raise ValueError(f"val_frames must be >= 0, got {self.val_frames!r}")
        if not self.learning_rate > 0 or self.min_learning_rate < 0:
            raise ValueError("learning_rate must be > 0 and min_learning_rate >= 0")
        if self.weight_decay < 0 or self.l2_weight_decay < 0:
            raise ValueError("weight_decay and l2_weight_decay must be >= 0")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.mixed_precision not in MIXED_PRECISIONS:
            raise ValueError(f"mixed_precision must be null, 'bfloat16' or 'float16', got {self.mixed_precision!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        self.model_config()  # a bad preset or model field is a config error too
        self.motion_range()
        for name in _PATH_LIST_FIELDS:
            for p in getattr(self, name):
                if not os.path.exists(p):
                    raise FileNotFoundError(f"{name}: {p}: no such file")
        for name in _PATH_FIELDS:
            p = getattr(self, name)
            if p is not None and not os.path.exists(p):
                raise FileNotFoundError(f"{name}: {p}: no such file or folder")

    def motion_range(self) -> MotionRange:
        """The stills' :class:`MotionRange` (``ValueError`` for an unknown field or a bad value)."""
        from tga_keras.data.synthetic import MotionRange

        known = [f.name for f in dataclasses.fields(MotionRange)]
        for key, value in self.stills_motion.items():
            if key not in known:
                raise ValueError(f"stills_motion: unknown field {key!r} (known: {', '.join(known)})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e3:
                raise ValueError(f"stills_motion: {key} must be a number >= 0, got {json.dumps(value)}")
        fields: dict[str, Any] = {k: float(v) for k, v in self.stills_motion.items()}  # objects: checked whole
        try:
            return MotionRange(**fields)
        except ValueError as e:
            raise ValueError(f"stills_motion: {e}") from None

    def model_config(self) -> TGAConfig:
        from tga_keras.models.config import TGAConfig

        spec = dict(self.model)
        preset = spec.pop("preset", DEFAULT_PRESET)  # a "model" without "preset": the default architecture
        try:
            return TGAConfig.preset(preset).replace(**spec)
        except TypeError as e:
            raise ValueError(f"model: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_config_file(path: str) -> Any:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such config file")
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from None


def _check_type(name: str, value: Any, default: Any, annotation: object) -> None:
    """ValueError when ``value`` does not fit the field (judged from its annotation)."""
    ann = str(annotation)
    ok: bool
    if ann.startswith("list"):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif ann.startswith("dict"):
        ok = isinstance(value, dict)
    elif ann.startswith("str"):
        ok = isinstance(value, str) or (value is None and "None" in ann)
    elif ann == "bool":
        ok = isinstance(value, bool)
    elif ann == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif ann == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:  # pragma: no cover - every field's annotation is one of the above
        ok = True
    if not ok:
        want = {
            "list": "a list of strings",
            "dict": "an object",
            "bool": "true or false",
            "int": "an integer",
            "float": "a number",
        }.get(ann.split("[")[0].split(" ")[0], "a string" + (" or null" * ("None" in ann)))
        raise ValueError(f"training config field {name!r} must be {want}, got {json.dumps(value)}")


__all__ = ["LR_SCHEDULES", "MIXED_PRECISIONS", "STRATEGIES", "TrainConfig", "read_config_file"]
