"""One :class:`Registry` type, one instance per kind of component.

A registry maps short, stable names (``ns``, ``dcgan``, ``ring8``) to constructors,
each with the paper it comes from. Component specs in recipes are plain dicts
``{name: ..., <kwargs>}``; :meth:`Registry.validate` checks the kwargs against the
constructor's signature (types, ranges from ``Annotated`` constraints, unknown and
missing keys) *before* anything is built, and :meth:`Registry.get` answers a
misspelt name with the closest registered ones.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pydantic

from ganforge.errors import ConfigError, UnknownNameError

T = TypeVar("T", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    """A registered constructor and what ``ganforge zoo`` says about it."""

    name: str
    obj: Callable[..., Any]
    paper: str
    summary: str


@dataclass
class Registry(Generic[T]):
    """Names -> constructors, for one kind of component.

    Args:
        kind: what the entries are ("objective", "network", ...), used in messages.
        injected: constructor parameters the builder always supplies (networks,
            the objective, optimizer parameters); a recipe may not set them.
        auto: parameters the builder fills in from the data when a recipe leaves
            them out (``in_shape``, ``latent_dim``, ...); validated when given.
    """

    kind: str
    injected: tuple[str, ...] = ()
    auto: tuple[str, ...] = ()
    _entries: dict[str, Entry] = field(default_factory=dict)
    _schemas: dict[str, type[pydantic.BaseModel]] = field(default_factory=dict)

    # -- registration -----------------------------------------------------------------
    def register(self, name: str, *, paper: str = "", summary: str = "") -> Callable[[T], T]:
        """Decorator: register a class or function under ``name``.

        ``summary`` defaults to the first line of the docstring.
        """

        def deco(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            doc = (inspect.getdoc(obj) or "").strip().splitlines()
            self._entries[name] = Entry(name, obj, paper, summary or (doc[0] if doc else ""))
            if inspect.isclass(obj):  # so that messages can name an instance's entry
                obj.registered_name = name  # type: ignore[attr-defined]
            return obj

        return deco

    # -- lookup -----------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str, where: str = "") -> Entry:
        """The entry for ``name``; an unknown name raises with the closest names."""
        if not isinstance(name, str) or name not in self._entries:
            raise UnknownNameError(self._unknown_message(name, where))
        return self._entries[name]

    def get(self, name: str, where: str = "") -> T:
        return self.entry(name, where).obj  # type: ignore[return-value]

    def _unknown_message(self, name: object, where: str) -> str:
        at = f" (at {where})" if where else ""
        close = difflib.get_close_matches(str(name), self.names(), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"Unknown {self.kind} {name!r}{at}.{hint} Registered {_plural(self.kind)}: "
            f"{', '.join(self.names())}. Run `ganforge zoo` to see each with its paper."
        )

    # -- validation and construction --------------------------------------------------
    def parameters(self, name: str) -> dict[str, inspect.Parameter]:
        """Constructor parameters a recipe may set (injected ones excluded)."""
        obj = self.get(name)
        target = obj.__init__ if inspect.isclass(obj) else obj
        params = dict(inspect.signature(target).parameters)
        params.pop("self", None)
        return {
            k: p
            for k, p in params.items()
            if k not in self.injected and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }

    def _schema(self, name: str) -> type[pydantic.BaseModel]:
        if name in self._schemas:
            return self._schemas[name]
        obj = self.get(name)
        target = obj.__init__ if inspect.isclass(obj) else obj
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception:  # unresolved forward references: fall back to Any
            hints = {}
        fields: dict[str, Any] = {}
        for pname, p in self.parameters(name).items():
            ann = hints.get(pname, Any)
            if p.default is not inspect.Parameter.empty:
                fields[pname] = (ann, p.default)
            elif pname in self.auto:
                fields[pname] = (ann | None, None)  # filled from the data when left out
            else:
                fields[pname] = (ann, ...)
        model = pydantic.create_model(
            f"{self.kind}_{name}",
            __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
            **fields,
        )
        self._schemas[name] = model
        return model

    def validate(self, spec: Any, where: str) -> dict[str, Any]:
        """Check a ``{name: ..., **kwargs}`` spec; return it resolved (defaults filled in).

        Raises:
            ConfigError: naming the field, what is wrong and the valid choices.
        """
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, dict) or "name" not in spec:
            raise ConfigError(
                f"{where} must be a mapping with a 'name' key, e.g. {{name: "
                f"{self.names()[0] if self._entries else '...'}}}; got {spec!r}."
            )
        name = spec["name"]
        self.entry(name, f"{where}.name")
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        schema = self._schema(name)
        try:
            model = schema(**kwargs)
        except pydantic.ValidationError as e:
            raise ConfigError(self._explain(e, name, where)) from None
        set_fields = model.model_fields_set
        out: dict[str, Any] = {"name": name}
        for k in schema.model_fields:
            if k in self.auto and k not in set_fields:
                continue
            out[k] = getattr(model, k)
        return out

    def _explain(self, err: pydantic.ValidationError, name: str, where: str) -> str:
        allowed = ", ".join(self.parameters(name)) or "(none)"
        lines = []
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"])
            if e["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(e["loc"][0]), list(self.parameters(name)), 1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                lines.append(f"{where}.{loc}: unknown key for {self.kind} {name!r}.{hint}")
            elif e["type"] == "missing":
                lines.append(f"{where}.{loc}: required by {self.kind} {name!r} but not given.")
            else:
                lines.append(f"{where}.{loc}: {e['msg']} (got {e.get('input')!r}).")
        return "\n".join(lines) + f"\nValid keys for {self.kind} {name!r}: {allowed}."

    def build(self, spec: dict[str, Any], where: str = "", **injected: Any) -> Any:
        """Validate ``spec`` and call the constructor with it and ``injected``."""
        resolved = self.validate(spec, where or self.kind)
        kwargs = {k: v for k, v in resolved.items() if k != "name"}
        return self.get(resolved["name"])(**injected, **kwargs)


# skip_bad_files is "auto" only in that a resolved spec leaves it out unless it is set:
# the data are the same either way when no file is damaged, and evaluation cards and
# cached statistics, keyed by the data spec, stay comparable with earlier ones.
DATASETS: Registry = Registry("dataset", auto=("skip_bad_files",))
NETS: Registry = Registry(
    "network",
    auto=(
        "latent_dim",
        "in_shape",
        "out_shape",
        "num_classes",
        "aux_dim",
        # image-to-image networks: channels, domains and upscaling come from the data
        "in_channels",
        "out_channels",
        "num_domains",
        "scale",
    ),
)
OBJECTIVES: Registry = Registry("objective")
PENALTIES: Registry = Registry("penalty")
ALGORITHMS: Registry = Registry(
    "algorithm", injected=("nets", "objective", "penalties", "techniques")
)
OPTIMIZERS: Registry = Registry("optimizer", injected=("params",))
TECHNIQUES: Registry = Registry("technique")
FEATURES: Registry = Registry("feature extractor", injected=("device",))
METRICS: Registry = Registry("metric")

ALL: dict[str, Registry] = {
    "datasets": DATASETS,
    "networks": NETS,
    "objectives": OBJECTIVES,
    "penalties": PENALTIES,
    "algorithms": ALGORITHMS,
    "optimizers": OPTIMIZERS,
    "techniques": TECHNIQUES,
    "feature extractors": FEATURES,
    "metrics": METRICS,
}


def load_all() -> None:
    """Import every built-in component module so the registries are populated."""
    import ganforge.algorithms
    import ganforge.data
    import ganforge.engine.optim
    import ganforge.metrics.features
    import ganforge.metrics.library
    import ganforge.nets
    import ganforge.objectives
    import ganforge.penalties
    import ganforge.techniques  # noqa: F401


def _plural(kind: str) -> str:
    """penalty -> penalties, metric -> metrics."""
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
