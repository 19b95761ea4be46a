"""Typed, validated run configuration: YAML recipes + ``--set a.b=c`` overrides.

A recipe is a YAML mapping::

    seed: 0
    data: {name: digits, resolution: 16}
    nets:
      g: {name: dcgan-g, base_channels: 32}
      d: {name: dcgan-d, base_channels: 32}
    algorithm: {name: unconditional, latent_dim: 64}
    objective: {name: ns}
    optim:
      g: {name: adam, lr: 2.0e-4}
      d: {name: adam, lr: 2.0e-4}
    train: {steps: 2000, batch_size: 64}

Every component is ``{name: ..., <kwargs>}`` and is checked against the registered
constructor by :meth:`ganforge.registry.Registry.validate`. All checks run in
:func:`load_config`, before any data is read or any run dir is made.
"""

from __future__ import annotations

import copy
import difflib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from ganforge import registry
from ganforge.errors import ConfigError
from ganforge.objectives.base import implied_penalties

Spec = dict[str, Any]


class EvalConfig(BaseModel):
    """Evaluation during training (``train.eval``): metrics on the EMA generator every N steps.

    Scores go to ``metrics.jsonl`` / TensorBoard as ``eval/<metric>``, their cards to
    ``cards/training.jsonl``, and with ``keep_best`` the full state of the best step per
    metric to ``checkpoints/best-<metric>.safetensors``.
    """

    model_config = ConfigDict(extra="forbid")

    #: evaluate every this many steps (0: never)
    every: Annotated[int, Field(ge=0)] = 0
    metrics: list[str] = ["fid"]
    #: generated samples per evaluation (real: the same number, or the whole split)
    n: Annotated[int, Field(gt=0)] = 2000
    #: feature extractor (None: inception-fid for images, identity for points)
    extractor: str | None = None
    #: reference split for datasets that have splits
    ref: str | None = "train"
    inception_weights: str | None = None
    seed: int = 0
    keep_best: bool = True


class TrainConfig(BaseModel):
    """How long and how the engine trains (everything the algorithm does not own)."""

    model_config = ConfigDict(extra="forbid")

    steps: Annotated[int, Field(gt=0)] = 2000
    batch_size: Annotated[int, Field(gt=0)] = 64
    #: decay of the exponential moving average of the generator (None: no EMA copy).
    ema: Annotated[float, Field(ge=0, lt=1)] | None = 0.999
    #: steps before the EMA starts averaging (until then it copies the weights).
    ema_start: Annotated[int, Field(ge=0)] = 0
    #: learning-rate schedule over train.steps: constant, or linear decay to 0 from
    #: lr_decay_start (SNGAN/BigGAN practice; decaying sharpens samples at the end).
    lr_schedule: Literal["constant", "linear"] = "constant"
    lr_decay_start: Annotated[int, Field(ge=0)] = 0
    #: clip the gradient norm of each phase's parameters to this value (None: off).
    grad_clip: Annotated[float, Field(gt=0)] | None = None
    #: fp32 everywhere; bf16/fp16 autocast on CUDA (no-op on CPU).
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    device: str = "auto"
    #: data parallel (torchrun): batch-norm statistics over the global batch
    sync_bn: bool = False
    #: image networks and batches in channels-last layout (faster convolutions on GPU)
    channels_last: bool = False
    #: torch.compile every network (not with gradient penalties: no double backward)
    compile: bool = False
    log_every: Annotated[int, Field(gt=0)] = 50
    sample_every: Annotated[int, Field(gt=0)] = 500
    ckpt_every: Annotated[int, Field(gt=0)] = 1000
    keep_last: Annotated[int, Field(gt=0)] = 3
    n_samples: Annotated[int, Field(gt=0, le=1024)] = 64
    sample_seed: int = 1234
    tensorboard: bool = True
    eval: EvalConfig = EvalConfig()


class RunConfig(BaseModel):
    """A whole run. Component specs are validated against the registries."""

    model_config = ConfigDict(extra="forbid")

    recipe: str | None = None
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    data: Spec
    nets: dict[str, Spec]
    algorithm: Spec
    objective: Spec
    #: regularisers that call the critic, e.g. [{name: gradient-penalty, weight: 10}]
    penalties: list[Spec] = []
    #: training techniques, e.g. [{name: instance-noise, std: 0.1}] (``ganforge zoo``)
    techniques: list[Spec] = []
    optim: dict[str, Spec]
    train: TrainConfig = TrainConfig()

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-able dict (tuples become lists)."""
        return _plain(self.model_dump())


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


# -- recipes ------------------------------------------------------------------------------
DEFAULT_RECIPE = "gan-digits"


def recipe_names() -> list[str]:
    """Names of the recipes shipped with ganforge."""
    folder = resources.files("ganforge") / "recipes"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_recipe(recipe: str | Path) -> dict[str, Any]:
    """A recipe by name (shipped) or by path to a YAML file."""
    path = Path(recipe)
    if str(recipe).endswith((".yaml", ".yml")) or path.exists():
        if not path.is_file():
            raise ConfigError(f"Recipe file {str(path)!r} does not exist.")
        text, name = path.read_text(encoding="utf-8"), path.stem
    else:
        names = recipe_names()
        if recipe not in names:
            close = difflib.get_close_matches(str(recipe), names, n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(
                f"Unknown recipe {recipe!r}.{hint} Shipped recipes: {', '.join(names)}. "
                "A path to your own YAML file works too."
            )
        text = (resources.files("ganforge") / "recipes" / f"{recipe}.yaml").read_text("utf-8")
        name = str(recipe)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"Recipe {name!r} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Recipe {name!r} must be a YAML mapping, got {type(data).__name__}.")
    data.setdefault("recipe", name)
    return data


# -- overrides ----------------------------------------------------------------------------
def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides; values are parsed as YAML (``1e-4``, ``[0.5, 0.9]``).

    Keys that do not exist yet are created (so a component's optional argument can be
    set); whether they are valid is decided by validation, which names the field.
    """
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"Override {item!r} is not of the form key.path=value, e.g. "
                "--set train.steps=500 or --set optim.d.lr=4e-4."
            )
        path, raw = item.split("=", 1)
        keys = path.strip().split(".")
        if not all(keys):
            raise ConfigError(f"Override {item!r} has an empty key in {path!r}.")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node = data
        for i, key in enumerate(keys[:-1]):
            nxt = node.get(key)
            if nxt is None:
                nxt = node[key] = {}
            if not isinstance(nxt, dict):
                where = ".".join(keys[: i + 1])
                raise ConfigError(
                    f"Override {item!r}: {where} is a value ({nxt!r}), not a section, "
                    f"so it has no key {keys[i + 1]!r}."
                )
            node = nxt
        node[keys[-1]] = value
    return data


# -- validation ---------------------------------------------------------------------------
def _explain_top(err: pydantic.ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            top = e["loc"][0]
            section = RunConfig if len(e["loc"]) == 1 else TrainConfig
            valid = list(section.model_fields)
            close = difflib.get_close_matches(str(e["loc"][-1]), valid, 1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            where = "the recipe" if len(e["loc"]) == 1 else f"section {top!r}"
            lines.append(f"{loc}: unknown key in {where}.{hint} Valid keys: {', '.join(valid)}.")
        elif e["type"] == "missing":
            lines.append(f"{loc}: required but not given.")
        else:
            lines.append(f"{loc}: {e['msg']} (got {e.get('input')!r}).")
    return "Invalid run config:\n" + "\n".join("  " + ln for ln in lines)


def validate(data: dict[str, Any]) -> RunConfig:
    """Validate a raw config dict; return it with every component resolved."""
    try:
        cfg = RunConfig(**data)
    except pydantic.ValidationError as e:
        raise ConfigError(_explain_top(e)) from None
    registry.load_all()
    algo = registry.ALGORITHMS.validate(cfg.algorithm, "algorithm")
    algo_cls = registry.ALGORITHMS.get(algo["name"])
    _check_keys("nets", set(cfg.nets), set(algo_cls.networks), algo["name"])
    _check_keys("optim", set(cfg.optim), set(algo_cls.optimizers), algo["name"])
    objective = registry.OBJECTIVES.validate(cfg.objective, "objective")
    penalties = [
        registry.PENALTIES.validate(p, f"penalties[{i}]") for i, p in enumerate(cfg.penalties)
    ]
    # An objective name may stand for objective + regulariser (wgan-gp); add what is
    # implied unless the recipe already lists a penalty of that name.
    obj_cls = registry.OBJECTIVES.get(objective["name"])
    obj_kwargs = {k: v for k, v in objective.items() if k != "name"}
    listed = {p["name"] for p in penalties}
    for spec in implied_penalties(obj_cls, obj_kwargs):
        if spec["name"] not in listed:
            penalties.append(registry.PENALTIES.validate(spec, f"objective {objective['name']!r}"))
    return cfg.model_copy(
        update={
            "algorithm": algo,
            "data": registry.DATASETS.validate(_skip_bad_files(cfg.data), "data"),
            "objective": objective,
            "penalties": penalties,
            "techniques": [
                registry.TECHNIQUES.validate(t, f"techniques[{i}]")
                for i, t in enumerate(cfg.techniques)
            ],
            "nets": {k: registry.NETS.validate(v, f"nets.{k}") for k, v in cfg.nets.items()},
            "optim": {
                k: registry.OPTIMIZERS.validate(v, f"optim.{k}") for k, v in cfg.optim.items()
            },
        }
    )


def _skip_bad_files(data: Spec) -> Spec:
    """``data.skip_bad_files`` (``--skip-bad-files``) for a dataset that reads no files.

    Datasets read from files take ``skip_bad_files`` as an argument (it leaves unreadable
    files of many-file sets out, with a warning). Bundled or generated datasets do not:
    there ``false`` is dropped, and ``true`` is an error that says why it cannot apply.
    """
    name = data.get("name")
    if "skip_bad_files" not in data or not isinstance(name, str) or name not in registry.DATASETS:
        return data  # the registry explains an unknown name
    if "skip_bad_files" in registry.DATASETS.parameters(name):
        return data
    if data["skip_bad_files"] in (False, None):
        return {k: v for k, v in data.items() if k != "skip_bad_files"}
    raise ConfigError(
        f"data.skip_bad_files: dataset {name!r} is bundled or generated in memory and reads "
        f"no files that could be skipped; leave out --skip-bad-files / data.skip_bad_files. "
        f"It applies to datasets read from many image files: image-folder, paired-folder, "
        f"unpaired-folder, the pix2pix / CycleGAN sets and the CIFAR-10 JPEG copy."
    )


def _check_keys(section: str, given: set[str], wanted: set[str], algo: str) -> None:
    if given != wanted:
        missing, extra = sorted(wanted - given), sorted(given - wanted)
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise ConfigError(
            f"{section}: algorithm {algo!r} needs exactly the entries "
            f"{', '.join(sorted(wanted))} ({'; '.join(parts)})."
        )


def load_config(
    recipe: str | Path | dict[str, Any] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    seed: int | None = None,
) -> RunConfig:
    """Read a recipe (name, path or dict), apply overrides, validate everything."""
    if recipe is None:
        recipe = DEFAULT_RECIPE
    data = copy.deepcopy(recipe) if isinstance(recipe, dict) else read_recipe(recipe)
    data = apply_overrides(data, overrides)
    if seed is not None:
        data["seed"] = seed
    return validate(data)


def save_config(cfg: RunConfig, path: Path) -> None:
    from ganforge.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def load_run_config(path: Path) -> RunConfig:
    """The resolved config saved in a run dir."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: is {path.parent} a ganforge run dir?")
    return load_config(yaml.safe_load(path.read_text("utf-8")))
