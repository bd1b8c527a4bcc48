"""Hooks between the boosting rounds of LightGBM, XGBoost and CatBoost: a deadline and a per-round report.

Why: a time budget is only held if a fit that runs long can be stopped, and a search only prunes a poor trial early if
it sees its validation score while it trains. Each library has its own callback protocol; ``round_hooks`` hides them
behind one call. A fit stopped at the deadline keeps the rounds it made (a usable, smaller model); a report may raise
(the search's pruner does) and the exception leaves ``fit`` as it is.

The libraries are never imported here: an estimator of one can only exist once its library is imported.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["REPORT_EVERY", "RoundReport", "round_hooks", "stops_at_deadline"]

REPORT_EVERY = 10  # rounds between two reports (a journal-stored study writes a line per report)

# (round, validation value, whether higher is better): told every REPORT_EVERY rounds while a model trains
RoundReport = Callable[[int, float, bool], None]
_MAXIMISED_XGB = ("auc", "aucpr", "map", "ndcg", "pre")


def _is(estimator: Any, module: str, name: str) -> bool:
    library = sys.modules.get(module)
    return library is not None and isinstance(estimator, getattr(library, name))


def _lightgbm(deadline: float, report: RoundReport | None) -> dict[str, Any]:
    import lightgbm as lgb

    def hook(env: Any) -> None:
        results = env.evaluation_result_list or []
        if report is not None and results and (env.iteration + 1) % REPORT_EVERY == 0:
            _, _, value, higher = results[0][:4]
            report(env.iteration + 1, float(value), bool(higher))
        if time.monotonic() >= deadline:  # keep what was made: best_iteration becomes this round
            raise lgb.callback.EarlyStopException(env.iteration, results)

    return {"callbacks": [hook]}


def _xgboost_callback(deadline: float, report: RoundReport | None) -> Any:
    import xgboost as xgb

    class _Hook(xgb.callback.TrainingCallback):  # type: ignore[misc]
        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
            if report is not None and evals_log and (epoch + 1) % REPORT_EVERY == 0:
                data = next(iter(evals_log.values()))
                name, values = next(iter(data.items()))
                value = values[-1][0] if isinstance(values[-1], tuple) else values[-1]
                report(epoch + 1, float(value), name.split("@")[0] in _MAXIMISED_XGB)
            # True stops the training; never on the first round (XGBoost's early stopping, after this callback in
            # its list, must see one round to record a best iteration)
            return epoch >= 1 and time.monotonic() >= deadline

    return _Hook()


class _CatBoostHook:
    """CatBoost's ``after_iteration`` protocol: False stops the training."""

    def __init__(self, deadline: float, report: RoundReport | None) -> None:
        self.deadline, self.report = deadline, report

    def after_iteration(self, info: Any) -> bool:
        validation = (info.metrics or {}).get("validation") or {}
        if self.report is not None and validation and (info.iteration + 1) % REPORT_EVERY == 0:
            name, values = next(iter(validation.items()))
            self.report(info.iteration + 1, float(values[-1]), name in {"AUC", "Accuracy", "R2", "PRAUC"})
        return time.monotonic() < self.deadline


def round_hooks(estimator: Any, deadline: float = math.inf,
                report: RoundReport | None = None) -> tuple[dict[str, Any], Callable[[], None]]:
    """Fit keyword arguments that stop ``estimator`` at ``deadline`` (``time.monotonic`` seconds) and send
    ``report`` its validation score every few rounds, and a function to call after the fit (it removes what had to
    be set on the estimator itself). Another kind of estimator, or no deadline and no report: ``({}, no-op)``."""
    def nothing() -> None:
        return None

    if math.isinf(deadline) and report is None:
        return {}, nothing
    if _is(estimator, "lightgbm", "LGBMModel"):
        return _lightgbm(deadline, report), nothing
    if _is(estimator, "xgboost", "XGBModel"):  # XGBoost takes callbacks as a parameter, not in fit
        estimator.set_params(callbacks=[_xgboost_callback(deadline, report)])
        return {}, lambda: estimator.set_params(callbacks=None)
    if _is(estimator, "catboost", "CatBoost"):
        return {"callbacks": [_CatBoostHook(deadline, report)]}, nothing
    return {}, nothing


def stops_at_deadline(estimator: Any) -> bool:
    """Whether ``round_hooks`` can stop ``estimator`` between its rounds (LightGBM, XGBoost, CatBoost)."""
    return any(_is(estimator, module, name) for module, name in (
        ("lightgbm", "LGBMModel"), ("xgboost", "XGBModel"), ("catboost", "CatBoost")))
