"""Business metrics that mean it: the decision threshold tuned on out-of-fold predictions, carried by the bundle."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, fbeta_score, jaccard_score, matthews_corrcoef

from tests.conftest import dataset_path
from trainwright.data import Task, TaskKind
from trainwright.evaluation import score_one
from trainwright.evaluation.threshold import tune_threshold

TASK = Task(TaskKind.BINARY, "y", "fbeta", classes=("no", "yes"), positive_label="yes", beta=2.0)


def _problem(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    p = np.clip(0.25 * y + rng.beta(2, 5, n), 0, 1)
    return y, np.column_stack([1 - p, p])


@pytest.mark.parametrize(("metric", "reference"), [
    ("fbeta", lambda y, d: fbeta_score(y, d, beta=2.0, zero_division=0)),
    ("mcc", matthews_corrcoef),
    ("iou", lambda y, d: jaccard_score(y, d, zero_division=0)),
    ("cost", lambda y, d: -(confusion_matrix(y, d, labels=[0, 1]).ravel() @ np.array([0, 1.0, 5.0, 0]))),
])
def test_the_tuned_threshold_is_the_best_of_every_possible_cut(metric, reference) -> None:
    task = replace(TASK, metric=metric, costs=(("fn", 5.0), ("fp", 1.0)))
    for seed in range(3):
        y, proba = _problem(seed)
        cut = tune_threshold(y, proba, task)
        brute = max(reference(y, (proba[:, 1] >= c).astype(int)) for c in np.r_[np.unique(proba[:, 1]), 1.1])
        assert reference(y, (proba[:, 1] >= cut).astype(int)) == pytest.approx(brute)
        ours = score_one(metric, y, proba, replace(task, threshold=cut))  # the metric at the task's threshold
        assert (ours if metric != "cost" else -ours * len(y)) == pytest.approx(brute)


def test_cost_metric_against_a_hand_worked_case() -> None:
    y = np.array([1, 1, 0, 0, 0])
    proba = np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6], [0.9, 0.1], [0.8, 0.2]])
    task = replace(TASK, metric="cost", costs=(("fn", 5.0), ("fp", 1.0)))
    # at 0.5: tp=1, fn=1 (cost 5), fp=1 (cost 1), tn=2 -> 6 / 5 rows
    assert score_one("cost", y, proba, task) == pytest.approx(6 / 5)
    # at 0.25: every positive caught (0.8, 0.3), fp: 0.6 -> 1 / 5
    assert score_one("cost", y, proba, replace(task, threshold=0.25)) == pytest.approx(1 / 5)
    assert tune_threshold(y, proba, task) == pytest.approx((0.3 + 0.2) / 2)


def test_choosing_by_fbeta_tunes_the_threshold_and_the_bundle_predicts_with_it(tmp_path) -> None:
    import trainwright as tw

    frame = pd.read_csv(dataset_path("credit_data"))
    result = tw.train(frame, target="Status", preset="quick", metric="fbeta", beta=2.0, output_dir=str(tmp_path),
                      models=("dummy", "linear", "lightgbm"))
    chosen = result.chosen
    assert chosen.threshold is not None and chosen.threshold < 0.5  # recall weighs 4x: a lower cut
    assert result.task.threshold == chosen.threshold and "threshold" in result.schemes
    assert all(t.threshold is not None for t in result.leaderboard.ok())  # every candidate at its own cut
    test = frame.loc[result.split.test]
    y = result.task.encode(test["Status"])
    everyone = fbeta_score(y == result.task.classes.index(result.task.positive_label), np.ones(len(y)), beta=2.0)
    print(f"\ncredit_data F2 on test: chosen {chosen.trial_id} at {chosen.threshold:.3f}: "
          f"{result.test_scores['fbeta']:.4f}; everyone positive: {everyone:.4f}")
    assert result.test_scores["fbeta"] > everyone
    model = tw.load(result.bundle)
    assert model.task.threshold == pytest.approx(chosen.threshold)
    out = model.predict(test.drop(columns=["Status"]))
    pos = result.task.positive_label
    expected = np.where(out[f"proba_{pos}"] >= chosen.threshold, pos, next(c for c in result.task.classes if c != pos))
    assert (out["prediction"].to_numpy() == expected).all()
    predicted = result.task.encode(out["prediction"])
    assert fbeta_score(y, predicted, beta=2.0, pos_label=result.task.classes.index(pos)) == pytest.approx(
        result.test_scores["fbeta"])
