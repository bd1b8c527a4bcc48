"""ModelSpec: one registry entry — name, family, rung, tags, defaults, search space, portfolio, builder.

A search space is Optuna's vocabulary (``FloatDistribution(log=True)``, ``IntDistribution``,
``CategoricalDistribution``): a mapping of parameter name to distribution, or a callable that makes one from the
``BuildContext`` (task kind, rows, classes), so a space can depend on the task and the data size. Optuna is
imported inside those callables only: building the registry never imports it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models.serialize import SKOPS, Serializer

__all__ = ["ALL_TASKS", "BuildContext", "EarlyStopping", "ModelSpec", "SearchSpace"]

ALL_TASKS = frozenset(TaskKind)


@dataclass(frozen=True)
class BuildContext:
    """What a builder may know about the problem when it makes an estimator."""

    task: TaskKind
    n_rows: int
    n_classes: int
    random_state: int
    n_jobs: int = -1
    device: str = "cpu"  # where a torch model trains ("cpu", "cuda", "cuda:1"); tree and linear models ignore it
    deadline: float = math.inf  # time.monotonic() seconds: a model that trains in epochs stops after this


# parameter name -> optuna.distributions.BaseDistribution, or a callable making that mapping from the context
SearchSpace = Mapping[str, Any] | Callable[["BuildContext"], Mapping[str, Any]]


@dataclass(frozen=True)
class EarlyStopping:
    """How a boosted model stops on the validation part, and how to refit with the number it found."""

    fit_kwargs: Callable[[Any, Any, Any], dict[str, Any]]  # (X_val, y_val, estimator) -> fit kwargs
    best_iteration: Callable[[Any], int | None]
    fixed: Callable[[Mapping[str, Any], int], dict[str, Any]]  # params with that many iterations, no stopping


@dataclass(frozen=True)
class ModelSpec:
    """A candidate on the ladder. ``build(ctx, params)`` returns an unfitted scikit-learn estimator."""

    name: str
    family: str
    rung: int
    build: Callable[[BuildContext, Mapping[str, Any]], Any]
    needs: FeatureNeeds
    tasks: frozenset[TaskKind] = ALL_TASKS
    defaults: Mapping[str, Any] = field(default_factory=dict)
    search_space: SearchSpace = field(default_factory=dict)
    portfolio: tuple[Mapping[str, Any], ...] = ()  # known-good overrides of the defaults, tried before any sampling
    early_stopping: EarlyStopping | None = None
    max_rows: int | None = None  # skip above this many training rows (and say so)
    relative_cost: float = 1.0  # rough fit cost relative to the linear model, for the time budget
    tags: frozenset[str] = frozenset()
    description: str = ""
    serializer: Serializer = SKOPS  # how its fitted estimator travels in a bundle (models/serialize.py)

    @property
    def is_baseline(self) -> bool:
        return self.rung == 0

    def supports(self, task: TaskKind) -> bool:
        return task in self.tasks

    def space(self, ctx: BuildContext) -> dict[str, Any]:
        """The search space for this problem: parameter name -> Optuna distribution (empty: nothing to search)."""
        space = self.search_space(ctx) if callable(self.search_space) else self.search_space
        return dict(space)

    def params(self, overrides: Mapping[str, Any] | None = None, *, size_scale: float = 1.0) -> dict[str, Any]:
        """Defaults, ensemble size scaled by the preset, then ``overrides``."""
        params = dict(self.defaults)
        if "n_estimators" in params and size_scale != 1.0:
            params["n_estimators"] = max(10, round(params["n_estimators"] * size_scale))
        return {**params, **(overrides or {})}
