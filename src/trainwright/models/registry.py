"""The one explicit, ordered list of candidates, simplest first. Plugins come in through the
``trainwright.models`` entry-point group (each entry point names a ModelSpec)."""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points

from trainwright.exceptions import ConfigError, Problem
from trainwright.models.baseline import DUMMY
from trainwright.models.gbdt import CATBOOST, HIST_GRADIENT_BOOSTING, LIGHTGBM, XGBOOST
from trainwright.models.linear import LINEAR
from trainwright.models.neighbors import KNN
from trainwright.models.spec import ModelSpec
from trainwright.models.svm import SVM
from trainwright.models.trees import EXTRA_TREES, RANDOM_FOREST

__all__ = ["REGISTRY", "all_specs", "get_spec", "resolve"]

REGISTRY: tuple[ModelSpec, ...] = (
    DUMMY, LINEAR, SVM, KNN, RANDOM_FOREST, EXTRA_TREES, HIST_GRADIENT_BOOSTING, LIGHTGBM, XGBOOST, CATBOOST,
)


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
