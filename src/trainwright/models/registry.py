"""The ordered list of candidates, simplest first, and the serializers their families declare.

A model family is one module in this package with a module-level ``SPECS`` tuple: ``discover`` lists the package's
modules (``pkgutil``, sorted by name), imports each one explicitly and collects its specs, ordered by rung, then
module name, then the module's own order. So adding a family is adding one file; nothing registers itself by
being imported. Plugins come in through the ``trainwright.models`` entry-point group (each entry point names a
ModelSpec) and bring their serializers with them.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from importlib.metadata import entry_points

from trainwright.exceptions import ConfigError, Problem
from trainwright.models.serialize import Serializer
from trainwright.models.spec import ModelSpec

__all__ = ["REGISTRY", "all_specs", "discover", "get_serializer", "get_spec", "resolve", "serializers"]

_PACKAGE = __name__.rpartition(".")[0]  # trainwright.models


def _family_specs(module_name: str) -> tuple[ModelSpec, ...]:
    specs = getattr(importlib.import_module(module_name), "SPECS", None)
    if specs is None:
        return ()
    if not isinstance(specs, tuple) or not all(isinstance(s, ModelSpec) for s in specs):
        raise ConfigError(f"{module_name}.SPECS must be a tuple of ModelSpec (got {type(specs).__name__})")
    return specs


def discover(package: str = _PACKAGE) -> tuple[ModelSpec, ...]:
    """Every spec of every family module in ``package`` (modules whose names start with ``_`` are skipped)."""
    path = importlib.import_module(package).__path__
    names = sorted(m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_") and not m.ispkg)
    found = [(spec.rung, name, i, spec) for name in names for i, spec in enumerate(_family_specs(f"{package}.{name}"))]
    specs = tuple(spec for *_, spec in sorted(found, key=lambda t: t[:3]))
    spec_names = [s.name for s in specs]
    twice = sorted({n for n in spec_names if spec_names.count(n) > 1})
    if twice:
        raise ConfigError(f"model spec names used twice in {package}: {', '.join(twice)}")
    return specs


REGISTRY: tuple[ModelSpec, ...] = discover()


def _plugins() -> tuple[ModelSpec, ...]:
    found = []
    for ep in entry_points(group="trainwright.models"):
        spec = ep.load()
        if not isinstance(spec, ModelSpec):
            raise ConfigError(f"plugin {ep.name!r} does not name a ModelSpec (got {type(spec).__name__})")
        found.append(spec)
    return tuple(found)


def all_specs() -> tuple[ModelSpec, ...]:
    """Built-in specs then plugins, ordered by rung (stable)."""
    return tuple(sorted(REGISTRY + _plugins(), key=lambda s: s.rung))


def _module_serializers(package: str = _PACKAGE) -> tuple[Serializer, ...]:
    """Serializers a family module declares without a spec (``SERIALIZERS``: e.g. the ensemble, made of trials)."""
    path = importlib.import_module(package).__path__
    names = sorted(m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_") and not m.ispkg)
    return tuple(s for name in names for s in getattr(importlib.import_module(f"{package}.{name}"), "SERIALIZERS", ()))


def serializers() -> tuple[Serializer, ...]:
    """Each family's serializer once, in ladder order, then those declared without a spec. Two different
    serializers under one name are refused: the name is what a bundle records to find its serializer again."""
    by_name: dict[str, Serializer] = {}
    owners = [(spec.serializer, spec.name) for spec in all_specs()] + [(s, s.name) for s in _module_serializers()]
    for serializer, owner in owners:
        known = by_name.setdefault(serializer.name, serializer)
        if known is not serializer and known != serializer:
            raise ConfigError(f"two different serializers are named {known.name!r} (one of them for {owner!r})")
    return tuple(by_name.values())


def get_serializer(name: str) -> Serializer | None:
    return next((s for s in serializers() if s.name == name), None)


def get_spec(name: str) -> ModelSpec:
    return resolve([name])[0]


def resolve(names: list[str] | tuple[str, ...]) -> list[ModelSpec]:
    """Specs for ``names`` in ladder order; unknown names are reported together with the valid ones."""
    specs = {s.name: s for s in all_specs()}
    unknown = [n for n in names if n not in specs]
    if unknown:
        problems = []
        for n in unknown:
            close = difflib.get_close_matches(n, list(specs), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(Problem("config.unknown_model", f"unknown model '{n}'", fix=f"{hint}valid: {', '.join(specs)}"))
        raise ConfigError("unknown model name", problems)
    wanted = set(names)
    return [s for s in specs.values() if s.name in wanted]
