"""Report objects: data first, rendered second (reporting/ draws them as HTML, Markdown and JSON).

A ``Report`` is a title and ordered ``Section``s; a section holds paragraphs, ``Table``s and ``Figure``s.
A figure is a plot kind plus the numbers to draw, never an image: the renderers decide how it looks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainwright.data import Role, Schema, Split, Task
from trainwright.evaluation.diagnosis import Diagnosis
from trainwright.evaluation.importance import Importance
from trainwright.evaluation.leaderboard import Choice, Leaderboard
from trainwright.evaluation.report_parts import (
    bootstrap_interval,
    classification_curves,
    eda_figures,
    epoch_figures,
    example_grid,
    findings_rows,
    fmt,
    interval_text,
    regression_points,
    residuals_by_feature,
    split_achieved_lines,
    worst_mistakes,
)
from trainwright.fileio import jsonable
from trainwright.hygiene import AuditReport, DataProfile

__all__ = ["Figure", "Report", "ReportData", "Section", "Table", "audit_report", "run_report"]

FINDING_COLUMNS = ("severity", "code", "finding", "where", "examples", "fix", "rule")


@dataclass(frozen=True)
class Figure:
    kind: str  # the plot: class_balance, histogram, column, missingness, correlation, leaderboard, confusion, ...
    title: str
    data: Mapping[str, Any]
    caption: str = ""


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    kind: str = ""  # "findings" / "verdicts": rows start with a severity or status the renderer may colour


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class Report:
    kind: str  # run | audit
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    data: Mapping[str, Any] = field(default_factory=dict)  # the underlying objects, for the JSON rendering

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "subtitle": self.subtitle, "data": dict(self.data),
                "sections": [{"key": s.key, "title": s.title, "paragraphs": list(s.paragraphs),
                              "tables": [{"caption": t.caption, "columns": list(t.columns), "rows": [list(r) for r in t.rows]}
                                         for t in s.tables],
                              "figures": [{"kind": f.kind, "title": f.title, "caption": f.caption, "data": dict(f.data)}
                                          for f in s.figures]} for s in self.sections]}


@dataclass(frozen=True, eq=False)
class ReportData:
    """What the run report needs beyond the TrainResult: the chosen model's test predictions, its importance,
    and the audit. Computed by the workflow, once; the test set is not read again."""

    y_test: np.ndarray
    test_pred: np.ndarray
    audit: AuditReport | None = None
    importance: tuple[Importance, ...] = ()
    source: str = ""
    X_test: Any = None  # the test part's features (pandas), for residuals against features


def _findings_section(audit: AuditReport | None, key: str, title: str) -> Section:
    if audit is None:
        return Section(key, title, ("No audit was run.",))
    c = audit.counts()
    text = (f"{len(audit.findings)} findings: {c['blocking']} blocking, {c['warning']} warnings, {c['info']} notes "
            f"({audit.n_rows} rows, {audit.n_columns} columns, {audit.seconds:.2f} s).")
    paragraphs = [text, "Checks run: " + "; ".join(audit.checks) + "."]
    paragraphs += [f"Skipped: {s}." for s in audit.skipped]
    table = Table(FINDING_COLUMNS, findings_rows(audit), "Findings, most serious first", kind="findings")
    return Section(key, title, tuple(paragraphs), (table,) if audit.findings else ())


def audit_report(audit: AuditReport, profile: DataProfile | None) -> Report:
    """The audit: findings first, then the exploratory plots."""
    summary = Section("summary", "Summary", (
        f"Data: {audit.source} — {audit.n_rows} rows, {audit.n_columns} columns; target '{audit.target}' "
        f"({audit.task}).", "Nothing was trained. Severity: blocking stops 'train' (unless --force), warning deserves "
        "a look, info is for the record."))
    sections = [summary, _findings_section(audit, "findings", "Data checks")]
    if profile is not None:
        figs = [Figure(k, t, d) for k, t, d in eda_figures(profile)]
        target_figs = tuple(f for f in figs if f.kind in {"class_balance", "histogram"})
        overview = tuple(f for f in figs if f.kind in {"missingness", "correlation"})
        columns = tuple(f for f in figs if f.kind == "column")
        sections.append(Section("target", "Target", (), (), target_figs))
        sections.append(Section("overview", "Missing values and correlation", (), (), overview))
        note = (f"{profile.n_not_profiled} more columns are not drawn." if profile.n_not_profiled else "")
        stats = Table(("column", "role", "missing", "distinct", "mean", "std", "min", "median", "max"), tuple(
            (c.name, c.role, f"{c.missing_fraction:.1%}", str(c.n_unique), *(fmt(c.stats.get(k)) for k in
             ("mean", "std", "min", "median", "max"))) for c in profile.columns), "Per-column statistics")
        sections.append(Section("columns", "Columns: distribution and relation to the target",
                                tuple(p for p in (f"Statistics on {profile.n_sampled} of {profile.n_rows} rows.", note) if p),
                                (stats,), columns))
    if audit.extra.get("images"):  # after the target's class balance when there is one
        sections.insert(3 if profile is not None else 2, _images_audit_section(audit.extra["images"]))
    data = {"audit": audit.to_dict(), "profile": profile.to_dict() if profile else None}
    return Report("audit", f"Data audit: {audit.source}", f"target '{audit.target}'", tuple(sections), data)


def _images_audit_section(profiles: list[dict[str, Any]]) -> Section:
    """Per image column: the sizes, colour modes and formats found, unreadable files, and thumbnails per class."""
    text, tables, figs = [], [], []
    for p in profiles:
        (w0, w1), (h0, h1) = p["width_range"], p["height_range"]
        text.append(f"Column '{p['column']}': {p['n_images']} images, {w0}-{w1} px wide and {h0}-{h1} px high; "
                    + (f"{len(p['unreadable'])} cannot be read (listed under the data checks)." if p["unreadable"]
                       else "every file opens."))
        rows = [(what, str(value), str(count)) for what, key in (("size", "sizes"), ("colour mode", "modes"),
                                                                 ("format", "formats"))
                for value, count in p[key].items()]
        tables.append(Table(("property", "found", "images"), tuple(rows), f"'{p['column']}': what the files hold"))
        figs.append(Figure("image_grid", f"Examples per class ('{p['column']}')", example_grid(p["examples"]),
                           "a few files of each class, drawn at random"))
    return Section("images", "Images", tuple(text), tuple(tables), tuple(figs))


def _texts_run_section(schema: Schema, task: Task, data: ReportData | None) -> Section | None:
    """Free text: the test texts the chosen model got most wrong (most confident mistakes first)."""
    X = data.X_test if data is not None else None
    columns = [c for c in schema.names(Role.TEXT) if X is not None and c in X.columns]
    if data is None or X is None or not columns:
        return None
    texts = X[columns[0]].fillna("").astype(str).str.slice(0, 300).to_numpy()
    mistakes = worst_mistakes(data.y_test, data.test_pred, task, texts)
    rows = tuple((item["caption"], item["path"]) for row in mistakes["rows"] for item in row["items"])
    if not rows:
        return Section("texts", "Texts", ("The chosen model got every test text right.",))
    return Section("texts", "The test texts the chosen model gets most wrong", (
        f"From '{columns[0]}' (first 300 characters), most confident mistakes first.",),
        (Table(("true → predicted (p)", "text"), rows),))


def _images_run_section(schema: Schema, task: Task, data: ReportData | None) -> Section | None:
    """Image data: thumbnails of each class (from the audit) and the test images the chosen model got most wrong."""
    columns = schema.names(Role.IMAGE)
    if not columns or data is None:
        return None
    column = columns[0]
    profile = next((p for p in (data.audit.extra.get("images", []) if data.audit else []) if p["column"] == column),
                   None)
    figs, text = [], []
    if profile is not None:
        figs.append(Figure("image_grid", "Examples per class", example_grid(profile["examples"]),
                           "a few training files of each class"))
    if data.X_test is not None and column in data.X_test.columns:
        mistakes = worst_mistakes(data.y_test, data.test_pred, task, data.X_test[column].to_numpy())
        if mistakes["rows"]:
            what = "true → predicted (the predicted class's probability)" if task.is_classification else \
                "actual → predicted"
            figs.append(Figure("image_grid", "The worst mistakes on the test part", mistakes,
                               f"most confident mistakes first; {what}"))
        else:
            text.append("The chosen model got every test image right.")
    if len(columns) > 1:
        text.append(f"Drawn from '{column}' (of {len(columns)} image columns).")
    return Section("images", "Images", tuple(text), (), tuple(figs))


_MEMBERS_CAPTION = {  # how a trial made of trials combined them (workflow/search.py)
    "ensemble": "ensemble members (greedy selection over out-of-fold predictions)",
    "stack": "stacked members (a level-2 model on their out-of-fold predictions; the weights are its coefficients)",
}


def _audio_run_section(schema: Schema, task: Task, data: ReportData | None) -> Section | None:
    """Audio clips: the Fourier view, the mean log-mel spectrogram of each class's test clips."""
    columns = schema.names(Role.AUDIO)
    if not columns or data is None or data.X_test is None or columns[0] not in data.X_test.columns:
        return None
    from trainwright.features.audio import class_spectrograms

    labels = task.decode(data.y_test) if task.is_classification else np.round(np.asarray(data.y_test), 1)
    spectra = class_spectrograms(data.X_test[columns[0]].astype(str).tolist(), list(labels))
    return Section("audio", "Audio", (f"The Fourier view of '{columns[0]}': how each class sounds on average.",), (),
                   (Figure("spectrograms", "Mean log-mel spectrogram per class (test clips)", spectra,
                           "time across, mel bands up, one dB colour scale for every class"),))


def _leaderboard_section(board: Leaderboard, choice: Choice) -> Section:
    m = board.metric
    frame = board.to_frame()
    rows = tuple((r["trial_id"] + (" ✓" if r["trial_id"] == choice.chosen else ""), str(r["rung"]), r["status"],
                  fmt(r[f"val_{m}"]), fmt(r[f"train_{m}"]), fmt(r["cv_mean"]), fmt(r["cv_std"]), fmt(r["fit_s"], 2),
                  str(r["note"])[:80]) for _, r in frame.iterrows())
    table = Table(("trial", "rung", "status", f"val {m}", f"train {m}", "cv mean", "cv sd", "fit s", "note"), rows,
                  "Validation part; ✓ marks the chosen model")
    ok = frame[frame["status"] == "ok"]
    fig = Figure("leaderboard", f"Validation {m} by model", {
        "models": ok["trial_id"].tolist(), "scores": [float(v) for v in ok[f"val_{m}"]],
        "errors": [float(v) if not math.isnan(v) else 0.0 for v in ok["val_se"]], "chosen": choice.chosen,
        "metric": m, "greater_is_better": board.greater_is_better})
    return Section("leaderboard", "Leaderboard", (), (table,), (fig,))


def _evaluation_section(task: Task, data: ReportData | None) -> Section:
    if data is None:
        return Section("evaluation", "Evaluation of the chosen model", ("No test predictions were kept.",))
    figs: list[Figure] = []
    text = [f"On the {len(data.y_test)} test rows, predicted once by the model refitted on train + validation."]
    if task.is_classification:
        curves = classification_curves(data.y_test, data.test_pred, task)
        figs.append(Figure("confusion", "Confusion matrix (test part)", {"labels": curves["labels"], "matrix": curves["confusion"]}))
        note = curves["note"]
        if curves["curves"]:
            figs.append(Figure("roc", "ROC curve (test part)", {"curves": {k: v["roc"] for k, v in curves["curves"].items()}}, note))
            figs.append(Figure("pr", "Precision-recall curve (test part)", {"curves": {k: v["pr"] for k, v in curves["curves"].items()}}, note))
            figs.append(Figure("calibration", "Calibration (test part)",
                               {"curves": {k: v["calibration"] for k, v in curves["curves"].items()}}, note))
        else:
            text.append(f"No ROC, precision-recall or calibration curve: {note or 'no class has both outcomes in the test part'}.")
    else:
        points = regression_points(data.y_test, data.test_pred)
        figs.append(Figure("predicted_vs_actual", "Predicted vs actual (test part)", points))
        figs.append(Figure("residuals", "Residuals (test part)", points))
        by_feature = residuals_by_feature(data.y_test, data.test_pred, data.X_test, data.importance)
        if by_feature is not None:
            figs.append(Figure("residuals_by_feature", "Residuals against the most important features (test part)",
                               by_feature))
    return Section("evaluation", "Evaluation of the chosen model", tuple(text), (), tuple(figs))


def _importance_section(data: ReportData | None) -> Section:
    figs = tuple(Figure("importance", "Permutation importance" if i.method == "permutation" else "SHAP (mean |value|)",
                        i.to_dict(), i.note) for i in (data.importance if data else ()))
    text = () if figs else ("No importance was computed.",)
    if figs and not any(i.method == "shap" for i in data.importance):  # type: ignore[union-attr]
        text = ("SHAP values are drawn for tree models only; the chosen model is not one.",)
    return Section("importance", "Feature importance", text, (), figs)


def _diagnosis_section(diagnosis: Diagnosis | None) -> Section:
    if diagnosis is None:
        return Section("diagnosis", "Diagnosis", ("No diagnosis was made.",))
    rows = tuple((v.status, v.title, v.evidence, v.rule, v.next_step) for v in diagnosis.verdicts)
    table = Table(("status", "verdict", "evidence", "rule", "next step"), rows,
                  "Each verdict is a rule; skill is 0 at the dummy baseline and 1 when perfect", kind="verdicts")
    curve = diagnosis.learning_curve
    figs = (Figure("learning_curve", "Learning curve", curve.to_dict(), curve.note),) if curve and curve.fractions else ()
    return Section("diagnosis", "Diagnosis", (diagnosis.summary,), (table,), figs)


def _curves_section(curves: Mapping[str, list[dict[str, float]]] | None, chosen: str) -> Section | None:
    """The torch models' per-epoch curves (training loss, validation score), when any trained in this process."""
    drawn = epoch_figures(curves or {}, chosen)
    if not drawn:
        return None
    text = ("Per epoch: the training loss (left axis) and the validation score (right axis; higher is better: "
            "minus the validation loss of the networks), the best epoch marked: its weights are the ones kept.",)
    return Section("curves", "Training curves", text, (),
                   tuple(Figure("epochs", title, data, caption) for title, data, caption in drawn))


def _split_section(split: Split, audit: AuditReport | None) -> Section:
    sizes = split.sizes
    total = sum(sizes.values())
    rows = tuple((k, str(v), f"{v / total:.0%}") for k, v in sizes.items())
    cont = tuple((k, str(v)) for k, v in split.contamination.items())
    text = [f"Asked: {split.strategy} (random_state {split.random_state}, fingerprint {split.fingerprint}).",
            *split_achieved_lines(split)]
    if audit is not None:
        twins = [f.title for f in audit.findings if f.code.startswith("split.")]
        text.append("Twin check: " + ("; ".join(twins) if twins else "no test row has an identical or near-identical "
                                      "twin in training") + ".")
    return Section("split", "The split", tuple(text), (Table(("part", "rows", "share"), rows),
                                                        Table(("contamination check", "count"), cont)))


def run_report(*, run_id: str, source: str, task: Task, schema: Schema, split: Split, leaderboard: Leaderboard,
               choice: Choice, test_scores: Mapping[str, float], diagnosis: Diagnosis | None,
               data: ReportData | None, timings: Mapping[str, float] | None = None,
               curves: Mapping[str, list[dict[str, float]]] | None = None) -> Report:
    """The whole-workflow report, in the order a reader asks: problem, data, split, leaderboard, choice,
    evaluation, importance, diagnosis, the training curves of networks (``curves``: per-epoch records by trial
    label), and the one test result."""
    m = task.metric
    chosen = leaderboard.get(choice.chosen)
    problem = Section("problem", "The problem", (
        f"Predict '{task.target}' from {len(schema.features)} feature columns of {source}.",
        f"Task: {task.kind.value} ({task.reason}). Metric: {m}"
        + (f"; classes {', '.join(map(str, task.classes))}, positive '{task.positive_label}'" if task.positive_label is not None else "")
        + "."))
    choice_section = Section("choice", "The chosen model and why", (choice.reason,), (
        Table(("parameter", "value"), tuple((str(k), str(v)) for k, v in sorted(chosen.params.items()))[:30],
              f"{chosen.trial_id} ({chosen.name}, {chosen.family}, rung {chosen.rung})"),
        *((Table(("member", "weight"), tuple((m, f"{w:.3f}") for m, w in chosen.members),
                 _MEMBERS_CAPTION.get(chosen.family, "ensemble members")),) if chosen.members else ())))
    test_rows = tuple((k, fmt(v)) for k, v in test_scores.items())
    interval = bootstrap_interval(data.y_test, data.test_pred, task) if data is not None else None
    test = Section("test", "The test-set result", (
        f"{m} = {fmt(test_scores.get(m))} on {split.sizes['test']} rows, touched once, after the choice"
        + (f"; {interval_text(interval)}." if interval else "."),),
        (Table(("metric", "test"), test_rows),))
    parts = (problem, _findings_section(data.audit if data else None, "data", "Data checks"),
                _split_section(split, data.audit if data else None), _leaderboard_section(leaderboard, choice),
                choice_section, _evaluation_section(task, data), _images_run_section(schema, task, data),
                _texts_run_section(schema, task, data), _audio_run_section(schema, task, data),
                _importance_section(data), _diagnosis_section(diagnosis),
                _curves_section(curves, choice.chosen), test)
    sections = tuple(s for s in parts if s is not None)
    payload = {"run_id": run_id, "task": task.to_dict(), "split": {"sizes": split.sizes, "strategy": split.strategy,
               "contamination": split.contamination, "achieved": jsonable(split.achieved)}, "choice": choice.reason, "chosen": choice.chosen,
               "test_scores": jsonable(test_scores), "test_interval": jsonable(interval),
               "diagnosis": diagnosis.to_dict() if diagnosis else None, "audit": data.audit.to_dict() if data and data.audit else None,
               "timings": dict(timings or {})}
    return Report("run", f"Run {run_id}", f"{task.kind.value} · {task.target} · {m} = {fmt(test_scores.get(m))} (test)",
                  sections, payload)
