"""Text end to end through the real CLI: ``train`` on a small CSV of reviews beside a number climbs the text ladder
(the leaderboard shows each text rung), the report lists the test texts the chosen model gets most wrong, and the
chosen model's bundle scores new reviews through ``predict``. The fine_foods quality bar is under ``slow``: fine-tuned
MiniLM beats TF-IDF + logistic regression on test ROC-AUC (bench/text.py prints every rung)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from tests.integration.cli import run_cli
from tests.unit.text.corpus import reviews

RUNGS = ("dummy", "linear", "word2vec_linear", "lstm")  # MiniLM rungs: unit tests (their loading costs ~10 s)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("text_cli")
    reviews(150, with_number=True, flipped=0.15).to_csv(cwd / "reviews.csv", index=False)
    proc = run_cli("train", "reviews.csv", "--target", "score", "--preset", "quick", "--models", ",".join(RUNGS),
                   cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cwd, proc.stdout


def test_the_leaderboard_shows_every_text_rung(trained: tuple[Path, str]) -> None:
    _, out = trained
    for name in RUNGS:
        assert re.search(rf"^ *{name}\b", out, re.MULTILINE), name
    assert "Test (touched once, after the choice): roc_auc" in out


def test_the_report_shows_the_texts_most_wrong(trained: tuple[Path, str]) -> None:
    cwd, _ = trained
    (run,) = [p for p in (cwd / "runs").iterdir() if not p.name.startswith(".")]
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "The test texts the chosen model gets most wrong" in html
    assert re.search(r"(great|other) → (great|other) \(p 0\.\d\d\)", html)


def test_predict_scores_new_reviews(trained: tuple[Path, str]) -> None:
    cwd, _ = trained
    (run,) = [p for p in (cwd / "runs").iterdir() if not p.name.startswith(".")]
    fresh = reviews(60, seed=7, with_number=True)
    fresh.drop(columns="score").to_csv(cwd / "new.csv", index=False)
    proc = run_cli("predict", run / "model", "new.csv", "-o", "scored.csv", cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scored = pd.read_csv(cwd / "scored.csv")
    assert list(scored.columns) == ["prediction", "proba_great", "proba_other"]
    assert (scored["prediction"] == fresh["score"]).mean() > 0.8
    chosen = json.loads((run / "run.json").read_text())["chosen"]
    assert chosen in RUNGS[1:]


def _fine_foods_split():
    from sklearn.model_selection import train_test_split

    from trainwright.config import load_config
    from trainwright.workflow import prepare

    prep = prepare(dataset_path("fine_foods"), load_config(None, target="score", preset="quick", tracking=False))
    rows = np.arange(len(prep.y))
    train, rest = train_test_split(rows, test_size=0.4, stratify=prep.y, random_state=0)
    val, test = train_test_split(rest, test_size=0.5, stratify=prep.y[rest], random_state=0)
    return prep, train, val, test


@pytest.mark.slow
def test_fine_foods_fine_tuned_minilm_beats_tfidf() -> None:
    """The quality bar (bench/text.py prints every rung): on fine_foods (3000 train, 1000 validation, 1000 test
    reviews), MiniLM fine-tuned within 15 minutes beats TF-IDF + logistic regression on test ROC-AUC."""
    import time

    from sklearn.metrics import roc_auc_score

    from trainwright.models import get_spec
    from trainwright.training import FitContext, fit_pipeline, predict_matrix

    prep, train, val, test = _fine_foods_split()
    scores = {}
    for name in ("linear", "minilm_finetune"):
        spec = get_spec(name)
        ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1, deadline=time.monotonic() + 900)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline, _, _ = fit_pipeline(spec, ctx, prep.X.iloc[train], prep.y[train], spec.params(),
                                          X_val=prep.X.iloc[val], y_val=prep.y[val])
        scores[name] = roc_auc_score(prep.y[test], predict_matrix(pipeline, prep.X.iloc[test], prep.task)[:, 1])
    assert scores["minilm_finetune"] > scores["linear"] > 0.85, scores
