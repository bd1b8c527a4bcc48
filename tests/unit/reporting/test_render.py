"""Renderers: every plot kind draws a real PNG of laptop size; HTML is self-contained; Markdown and JSON carry
the same sections; report objects are plain data."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from matplotlib.image import imread

from trainwright.data import infer_schema, infer_task
from trainwright.evaluation.report import audit_report
from trainwright.evaluation.report_parts import classification_curves
from trainwright.hygiene import audit_frame, profile_frame
from trainwright.reporting.plots import DRAWERS, draw
from trainwright.reporting.render import render_json, render_markdown, write_report

SAMPLES = {
    "class_balance": {"labels": ["a", "b"], "counts": [30, 10]},
    "histogram": {"edges": [0, 1, 2, 3], "counts": [1, 4, 2], "xlabel": "y"},
    "missingness": {"missing": {"a": 0.1, "b": 0.7, "c": 0.0}},
    "correlation": {"names": ["a", "b"], "matrix": [[1, 0.3], [0.3, 1]]},
    "column": {"name": "x", "edges": [0, 1, 2], "counts": [3, 4], "top_values": [], "missing_fraction": 0.1,
               "target": "y", "relation": {"kind": "hist_by_class", "edges": [0, 1, 2], "counts": {"a": [1, 2], "b": [2, 2]}}},
    "leaderboard": {"models": ["dummy", "linear"], "scores": [0.5, 0.9], "errors": [0.0, 0.02], "chosen": "linear",
                    "metric": "roc_auc", "greater_is_better": True},
    "confusion": {"labels": ["a", "b"], "matrix": [[5, 1], [2, 7]]},
    "roc": {"curves": {"b": {"fpr": [0, 0.2, 1], "tpr": [0, 0.8, 1], "auc": 0.8}}},
    "pr": {"curves": {"b": {"recall": [1, 0.5, 0], "precision": [0.5, 0.8, 1], "average_precision": 0.65,
                            "base_rate": 0.5}}},
    "calibration": {"curves": {"b": {"mean_predicted": [0.2, 0.5, 0.8], "fraction_positive": [0.1, 0.5, 0.9]}}},
    "predicted_vs_actual": {"actual": [1, 2, 3, 4], "predicted": [1.1, 1.9, 3.2, 3.7]},
    "residuals": {"actual": [1, 2, 3, 4], "predicted": [1.1, 1.9, 3.2, 3.7]},
    "importance": {"features": ["a", "b"], "values": [0.2, 0.05], "stds": [0.01, 0.01]},
    "residuals_by_feature": {"panels": [
        {"feature": "x", "kind": "numeric", "x": [1, 2, 3], "residual": [0.1, -0.2, 0.05], "n_missing": 0},
        {"feature": "c", "kind": "categorical", "categories": ["a", "b"], "residuals": [[0.1, -0.1], [0.3]]}]},
    "learning_curve": {"metric": "roc_auc", "n_rows": [10, 20, 40], "train_scores": [1, 0.95, 0.93],
                       "val_scores": [0.7, 0.8, 0.85]},
    "epochs": {"label": "mlp", "epoch": [1, 2, 3], "train_loss": [0.9, 0.5, 0.4], "lr": [1e-3, 1e-3, 1e-4],
               "val_score": [-0.8, -0.6, -0.62], "best_epoch": 2},
    "image_grid": {"rows": [{"label": c, "items": [{"path": "/nonexistent/gone.png", "caption": "a → b (p 0.91)"}] * 2}
                            for c in "ab"]},
    "spectrograms": {"classes": ["no", "yes", "maybe"], "sample_rate": 16000, "hop_length": 256, "n_mels": 8, "fmax": 8000,
                     "spectra": [[[-80.0 + 10 * (b + t % 3) for t in range(20)] for b in range(8)] for _ in range(3)]},
}


@pytest.mark.parametrize("kind", sorted(DRAWERS))
def test_every_plot_kind_draws_a_png_sized_for_a_laptop(kind):
    png = draw(kind, SAMPLES[kind])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(io.BytesIO(png))
    height, width = pixels.shape[:2]
    assert 200 <= width <= 900 and 150 <= height <= 520, (width, height)
    assert pixels[..., :3].std() > 0.01  # something was drawn


def test_classification_curves_match_sklearn(frame):
    from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p1 = np.clip(y * 0.4 + rng.random(300) * 0.6, 0, 1)
    task = infer_task(__import__("pandas").Series(np.where(y == 1, "yes", "no"), name="t"))
    out = classification_curves(y, np.column_stack([1 - p1, p1]), task)
    assert out["curves"]["yes"]["roc"]["auc"] == pytest.approx(roc_auc_score(y, p1))
    assert out["curves"]["yes"]["pr"]["average_precision"] == pytest.approx(average_precision_score(y, p1))
    assert out["confusion"] == confusion_matrix(y, (p1 >= 0.5).astype(int)).tolist()


@pytest.mark.parametrize("kind", ["confusion", "roc", "pr", "calibration"])
def test_multiclass_curves_draw_one_vs_rest_through_the_displays(kind):
    import pandas as pd

    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 400)
    proba = rng.dirichlet(np.ones(3), 400) + np.eye(3)[y]
    proba /= proba.sum(axis=1, keepdims=True)
    task = infer_task(pd.Series(np.array(["ant", "bee", "cat"])[y], name="t"))
    out = classification_curves(y, proba, task)
    assert list(out["curves"]) == ["ant", "bee", "cat"]
    data = {"labels": out["labels"], "matrix": out["confusion"]} if kind == "confusion" else {
        "curves": {k: v[kind] for k, v in out["curves"].items()}}
    assert draw(kind, data)[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def penguin_report(tmp_path_factory):
    """The audit report of penguins, rendered once (HTML, Markdown, JSON) into a temporary folder."""
    import pandas as pd

    from tests.conftest import dataset_path

    df = pd.read_csv(dataset_path("penguins"))
    audit = audit_frame(df, "species", source="penguins.csv")
    task, schema = infer_task(df["species"]), infer_schema(df, "species")
    report = audit_report(audit, profile_frame(df, task, schema))
    out = tmp_path_factory.mktemp("render") / "out"
    return report, write_report(report, out, "penguins.audit"), out


def test_audit_report_html_is_self_contained(penguin_report):
    report, files, _ = penguin_report
    html = files["html"].read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    for key in ("summary", "findings", "target", "overview", "columns"):
        assert f'<section id="{key}">' in html
    n_figures = sum(len(s.figures) for s in report.sections)
    assert html.count('src="data:image/png;base64,') == n_figures >= 6


def test_markdown_and_json_carry_the_same_sections(penguin_report):
    report, files, out = penguin_report
    md = files["markdown"].read_text()
    for s in report.sections:
        assert f"## {s.title}" in md
    data = json.loads(files["json"].read_text())
    assert [s["key"] for s in data["sections"]] == [s.key for s in report.sections]
    assert {p.name for p in files.values()} == {"penguins.audit.html", "penguins.audit.md", "penguins.audit.json"}
    pngs = list((out / "penguins.audit_figures").glob("*.png"))
    assert len(pngs) == md.count("](penguins.audit_figures/") == sum(len(s.figures) for s in report.sections)
    assert render_markdown(report).count("- figure:") == len(pngs)  # without files, figures are listed by title


def test_json_has_no_nan(penguin_report):
    text = render_json(penguin_report[0])
    assert "NaN" not in text and "Infinity" not in text
