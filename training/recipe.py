"""Train a shipped model from scratch: ``python -m training.recipe [RECIPE] --output runs/NAME``.

A recipe (``training/configs/<model>/recipe.json``) is the whole chain that made a shipped model:

* ``prepare``: data tools (``python -m training.tools <tool> <output>``) run when their output folder
  is missing (paths relative to the recipe);
* ``stages``: training configs run in order, each in its own run folder ``OUTPUT/<name>/``. A stage with
  ``init`` fine-tunes the model that stage ``init`` produced; ``average_with_init: A`` packages the
  weight average ``(1 - A) * init + A * best`` instead of the run's best alone
  (:func:`training.package.package`); ``stop_after_epochs: N`` stops the run after epoch N of its
  schedule, as the shipped version of that stage did.

Each stage's model is ``OUTPUT/<name>/model/model.keras``; the last one is copied to
``OUTPUT/model.keras``. ``OUTPUT/configs/<name>.json`` records the config each stage ran: the stage's
config with ``init_from`` (the model of stage ``init``) and the ``--set`` values, every path relative
to ``OUTPUT/configs`` (so the file holds no machine paths and ``python -m training.run --config
OUTPUT/configs/<name>.json`` runs it as it is). The command is resumable: run it again after an
interruption and finished stages are skipped, the interrupted one continues from its run folder
(``training.run``'s state). A stage recorded with other paths that name the same files (absolute
ones, as older versions wrote) continues as recorded.

``--set KEY=VALUE`` (JSON value, repeatable) overrides a field of every stage's config, e.g. a short
form of the chain: ``--set epochs=1 --set steps_per_epoch=2``. Path values given this way are relative
to the current folder. ``--stages N`` stops after the first N stages.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from training.config import _PATH_FIELDS, _PATH_LIST_FIELDS, TrainConfig, read_config_file

DEFAULT_RECIPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs", "tga_small_bd_x4", "recipe.json")
PROG = "python -m training.recipe"


@dataclass(frozen=True)
class Stage:
    """One training run of a recipe; ``config`` is an absolute path."""

    name: str
    config: str
    init: str | None = None
    average_with_init: float | None = None
    stop_after_epochs: int | None = None  # stop before the end of the config's schedule (``training.run --epochs``)


@dataclass(frozen=True)
class Recipe:
    model: str
    stages: tuple[Stage, ...]
    prepare: tuple[tuple[str, str], ...]  # (tool, absolute output folder)

    @classmethod
    def from_file(cls, path: str) -> "Recipe":
        raw = read_config_file(path)
        base = os.path.dirname(os.path.abspath(path))
        if not isinstance(raw, dict) or not isinstance(raw.get("stages"), list) or not raw["stages"]:
            raise ValueError(f"{path}: a recipe is a JSON object with a non-empty list 'stages'")
        stages: list[Stage] = []
        for i, s in enumerate(raw["stages"]):
            if not isinstance(s, dict) or not {"name", "config"} <= s.keys():
                raise ValueError(f"{path}: stage {i + 1} needs 'name' and 'config'")
            unknown = set(s) - {"name", "config", "init", "average_with_init", "stop_after_epochs"}
            if unknown:
                raise ValueError(f"{path}: stage {s['name']}: unknown fields {', '.join(sorted(unknown))}")
            if s.get("init") is not None and s["init"] not in {t.name for t in stages}:
                raise ValueError(f"{path}: stage {s['name']}: init {s['init']!r} is not an earlier stage")
            weight = s.get("average_with_init")
            if weight is not None and (s.get("init") is None or not 0.0 <= float(weight) <= 1.0):
                raise ValueError(f"{path}: stage {s['name']}: average_with_init needs init and a share in [0, 1]")
            stop = s.get("stop_after_epochs")
            if stop is not None and (not isinstance(stop, int) or isinstance(stop, bool) or stop < 1):
                raise ValueError(f"{path}: stage {s['name']}: stop_after_epochs must be a whole number >= 1")
            stages.append(
                Stage(
                    s["name"],
                    os.path.normpath(os.path.join(base, s["config"])),
                    s.get("init"),
                    None if weight is None else float(weight),
                    s.get("stop_after_epochs"),
                )
            )
        prepare = tuple((p["tool"], os.path.normpath(os.path.join(base, p["output"]))) for p in raw.get("prepare", []))
        return cls(str(raw.get("model", os.path.basename(base))), tuple(stages), prepare)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["epochs=1", "train_videos=[\"a.mp4\"]"]`` -> ``{"epochs": 1, "train_videos": ["/abs/a.mp4"]}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text  # a bare string, e.g. a path
        if key in _PATH_FIELDS and isinstance(value, str):
            value = os.path.abspath(value)
        elif key in _PATH_LIST_FIELDS and isinstance(value, list):
            value = [os.path.abspath(p) for p in value]
        out[key] = value
    return out


def stage_config(stage: Stage, init_model: str | None, overrides: dict[str, Any], folder: str) -> dict[str, Any]:
    """The stage's config, ``init_from`` set from the chain and ``overrides`` applied (paths made
    absolute by :func:`parse_overrides`), every path relative to ``folder`` (``OUTPUT/configs``, where
    it is written and resolved): the stage config's own paths are relative to its file."""
    raw = read_config_file(stage.config)
    if not isinstance(raw, dict):
        raise ValueError(f"{stage.config}: a training config is a JSON object, got {type(raw).__name__}")
    raw = _rebased(raw, os.path.dirname(os.path.abspath(stage.config)), folder)
    if init_model is not None:
        raw["init_from"] = os.path.relpath(init_model, folder)
    raw.update(_rebased(overrides, os.getcwd(), folder))
    return raw


def _rebased(raw: dict[str, Any], base: str, folder: str) -> dict[str, Any]:
    """``raw`` with its path fields (relative to ``base``, or absolute) made relative to ``folder``."""

    def rel(path: Any) -> Any:
        if not isinstance(path, str):
            return path  # not a path: TrainConfig's checks name the field
        return os.path.relpath(os.path.normpath(os.path.join(base, path)), folder)

    out = dict(raw)
    for name in _PATH_FIELDS:
        if out.get(name) is not None:
            out[name] = rel(out[name])
    for name in _PATH_LIST_FIELDS:
        if isinstance(out.get(name), list):
            out[name] = [rel(p) for p in out[name]]
    return out


def stage_train_config(raw: dict[str, Any], folder: str) -> TrainConfig:
    """``raw`` (:func:`stage_config`) validated, its paths resolved against ``folder``."""
    return TrainConfig.from_dict(raw, base=folder)


def same_run(recorded: Any, raw: dict[str, Any], folder: str) -> bool:
    """Whether a stage's recorded config (``OUTPUT/configs/<name>.json``) computes what ``raw`` does:
    the same fields, the paths naming the same files once resolved against ``folder``."""
    if recorded == raw:
        return True
    try:
        a, b = TrainConfig.parse(recorded), TrainConfig.parse(raw)
    except ValueError:
        return False
    a.resolve_paths(folder)
    b.resolve_paths(folder)
    return a.to_dict() == b.to_dict()


def stage_model(output: str, name: str) -> str:
    return os.path.join(output, name, "model", "model.keras")


def run_recipe(
    recipe: Recipe,
    output: str,
    overrides: dict[str, Any] | None = None,
    stages: int | None = None,
    prepare: bool = True,
    verbose: int = 2,
) -> str:
    """Run (or continue) the recipe into ``output``; returns the path of the final ``model.keras``."""
    from tga_keras.io.files import atomic_path
    from training import tools
    from training.package import package
    from training.run import train

    output = os.path.abspath(output)  # init_from: the model of an earlier stage, wherever this is run from
    overrides = overrides or {}
    chain = recipe.stages[: stages or len(recipe.stages)]
    if prepare:
        for tool, folder in recipe.prepare:
            if not os.path.exists(folder):
                print(f"{PROG}: preparing {folder} (python -m training.tools {tool})", flush=True)
                rc = tools.main([tool, folder])
                if rc:
                    raise RuntimeError(f"python -m training.tools {tool} {folder} failed (exit {rc})")
    configs = os.path.join(output, "configs")
    os.makedirs(configs, exist_ok=True)
    for i, stage in enumerate(chain, 1):
        model_path = stage_model(output, stage.name)
        init_model = None if stage.init is None else stage_model(output, stage.init)
        raw = stage_config(stage, init_model, overrides, configs)
        config_path = os.path.join(configs, f"{stage.name}.json")
        if os.path.isfile(config_path):
            recorded = read_config_file(config_path)
            if not same_run(recorded, raw, configs):
                raise ValueError(
                    f"{output}: stage {stage.name} was run with another config ({config_path}; other --set values "
                    "or an edited recipe): use another --output"
                )
            raw = recorded  # continued as it began (its run folder holds this config)
        if os.path.isfile(model_path):
            print(f"{PROG}: stage {i}/{len(chain)} {stage.name}: done ({model_path})", flush=True)
            continue
        with atomic_path(config_path, overwrite=True) as tmp, open(tmp, "w") as f:
            f.write(json.dumps(raw, indent=2) + "\n")
        print(f"{PROG}: stage {i}/{len(chain)} {stage.name} (from {init_model or 'scratch'})", flush=True)
        run_dir = os.path.join(output, stage.name)
        cfg = stage_train_config(raw, configs)
        stop = None if stage.stop_after_epochs is None else min(stage.stop_after_epochs, cfg.epochs)
        train(cfg, run_dir, epochs=stop, verbose=verbose, raw=raw)
        weight = stage.average_with_init
        package(
            run_dir,
            os.path.dirname(model_path),
            overwrite=True,
            average_with=init_model if weight is not None else None,
            weight=1.0 if weight is None else weight,
        )
    final = os.path.join(output, "model.keras")
    with atomic_path(final, overwrite=True) as tmp:
        shutil.copyfile(stage_model(output, chain[-1].name), tmp)
    return final


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", nargs="?", default=DEFAULT_RECIPE, help="recipe JSON (default: the shipped model's)")
    p.add_argument("--output", required=True, help="folder of the run folders (run the same command to continue)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field of every stage")
    p.add_argument("--stages", type=int, metavar="N", help="stop after the first N stages")
    p.add_argument("--no-prepare", action="store_true", help="do not run the data tools (the data is elsewhere)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    args = p.parse_args(argv)
    if args.stages is not None and args.stages < 1:
        p.error("--stages must be >= 1")
    from tga_keras.cli.main import run_command

    return run_command(
        PROG,
        lambda: _run(args),
        args.debug,
        interrupted=lambda: f"\n{PROG}: stopped; run the same command to continue.",
    )


def _run(args: argparse.Namespace) -> int:
    from tga_keras.errors import InputError, UsageError

    try:
        recipe = Recipe.from_file(args.recipe)
        overrides = parse_overrides(args.set)
        final = run_recipe(recipe, args.output, overrides, args.stages, not args.no_prepare, 0 if args.quiet else 2)
    except ValueError as e:  # a mistake in the recipe, a stage config or --set: the user's (exit 2)
        if isinstance(e, InputError):
            raise
        raise UsageError(str(e)) from e
    print(final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
