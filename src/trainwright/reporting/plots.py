"""Matplotlib drawings of report Figures, as PNG bytes. One function per figure kind; each draws on a Figure of its
own (no pyplot figures, no global state).

The confusion matrix, ROC, precision-recall and calibration plots are scikit-learn's Display classes drawn on those
axes. Reports are data first, so a figure holds the computed curve (report_parts.py: ``roc_curve``,
``precision_recall_curve``, ``calibration_curve``), not every test prediction: the displays are built from the
curve (their constructors) rather than ``from_predictions``, which would compute the same curve from the raw
predictions.

Sizes are chosen to read on a laptop screen: about 760 px wide at 100 dpi, never more than ~480 px tall.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["DRAWERS", "draw"]

WIDE, HEIGHT, DPI = 7.6, 3.4, 100
CHOSEN, OTHER, ACCENT = "#2b7a3d", "#7f9cb8", "#c0392b"


def _figure(width: float = WIDE, height: float = HEIGHT, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    axes = fig.subplots(1, ncols)
    return fig, axes


def _png(fig: Any) -> bytes:
    """Tight layout once (constrained layout costs a second full draw per figure), then PNG."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "tight_layout not applied" on crowded axes: still drawn
        fig.tight_layout(pad=0.6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _short(text: str, n: int = 18) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _bars(ax: Any, labels: list[str], values: list[float], color: Any = OTHER, horizontal: bool = False) -> None:
    pos = np.arange(len(labels))
    if horizontal:
        ax.barh(pos, values, color=color)
        ax.set_yticks(pos, [_short(x, 28) for x in labels], fontsize=8)
        ax.invert_yaxis()
    else:
        ax.bar(pos, values, color=color)
        ax.set_xticks(pos, [_short(x) for x in labels], rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center", fontsize=8)


def class_balance(d: Mapping[str, Any]) -> bytes:
    fig, ax = _figure(height=2.8)
    _bars(ax, d["labels"], d["counts"])
    total = sum(d["counts"])
    for i, c in enumerate(d["counts"]):
        ax.annotate(f"{c / total:.0%}", (i, c), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("rows")
    return _png(fig)


def histogram(d: Mapping[str, Any]) -> bytes:
    fig, ax = _figure(height=2.8)
    edges = np.asarray(d["edges"])
    ax.stairs(d["counts"], edges, fill=True, color=OTHER)
    ax.set_xlabel(d.get("xlabel", ""))
    ax.set_ylabel("rows")
    return _png(fig)


def missingness(d: Mapping[str, Any]) -> bytes:
    items = sorted(d["missing"].items(), key=lambda kv: -kv[1])[:30]
    fig, ax = _figure(height=min(4.8, max(2.0, 1.0 + 0.16 * len(items))))
    _bars(ax, [k for k, _ in items], [v for _, v in items], color=[ACCENT if v >= 0.5 else OTHER for _, v in items], horizontal=True)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of values missing")
    return _png(fig)


def correlation(d: Mapping[str, Any]) -> bytes:
    names, m = d["names"], np.asarray(d["matrix"], dtype=float)
    size = min(7.6, 2.5 + 0.18 * len(names))
    fig, ax = _figure(width=size + 1.2, height=min(size, 4.8))
    im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
    ticks = np.arange(len(names))
    font = 8 if len(names) <= 20 else 5
    ax.set_xticks(ticks, [_short(n, 14) for n in names], rotation=90, fontsize=font)
    ax.set_yticks(ticks, [_short(n, 14) for n in names], fontsize=font)
    fig.colorbar(im, ax=ax, shrink=0.8, label="r")
    return _png(fig)


def column(d: Mapping[str, Any]) -> bytes:
    fig, (left, right) = _figure(height=2.6, ncols=2)
    if d["edges"]:
        left.stairs(d["counts"], np.asarray(d["edges"]), fill=True, color=OTHER)
        left.set_ylabel("rows")
    else:
        _bars(left, d["top_values"], d["counts"])
    left.set_title(f"distribution ({d['missing_fraction']:.0%} missing)", fontsize=9)
    rel = d.get("relation") or {}
    kind = rel.get("kind")
    if kind == "hist_by_class":
        edges = np.asarray(rel["edges"])
        for label, counts in rel["counts"].items():
            total = max(sum(counts), 1)
            right.stairs(np.asarray(counts) / total, edges, label=_short(label, 12))
        right.legend(fontsize=7)
        right.set_ylabel("share within class")
    elif kind == "scatter":
        right.scatter(rel["x"], rel["y"], s=6, alpha=0.5, color=OTHER)
        right.set_ylabel(_short(d.get("target", "target")))
    elif kind == "share_by_value":
        shares = np.asarray(rel["shares"])
        bottom = np.zeros(len(rel["values"]))
        for j, cls in enumerate(rel["classes"][:8]):
            right.bar(np.arange(len(bottom)), shares[:, j], bottom=bottom, label=_short(cls, 12))
            bottom += shares[:, j]
        right.set_xticks(np.arange(len(bottom)), [_short(v, 10) for v in rel["values"]], rotation=30, ha="right", fontsize=7)
        right.legend(fontsize=7)
        right.set_ylabel("class share")
    elif kind == "mean_by_value":
        _bars(right, rel["values"], rel["means"])
        right.set_ylabel(f"mean {_short(d.get('target', 'target'))}")
    right.set_title("relation to the target", fontsize=9)
    return _png(fig)


def leaderboard(d: Mapping[str, Any]) -> bytes:
    models = d["models"]
    fig, ax = _figure(height=min(4.8, 1.2 + 0.35 * len(models)))
    pos = np.arange(len(models))
    for i, (m, score, err) in enumerate(zip(models, d["scores"], d["errors"], strict=True)):  # dots: the axis is zoomed
        ax.errorbar(score, i, xerr=err, fmt="o", ms=7, capsize=4, color=CHOSEN if m == d["chosen"] else OTHER)
    ax.grid(axis="x", alpha=0.3)
    ax.set_yticks(pos, models, fontsize=9)
    lo, hi = min(d["scores"]), max(d["scores"])
    pad = (hi - lo) * 0.15 or 0.05
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(len(models) - 0.5, -0.5)
    ax.set_xlabel(f"validation {d['metric']} ({'higher' if d['greater_is_better'] else 'lower'} is better; green: chosen; "
                  "whiskers: ± 1 SE)")
    return _png(fig)


def confusion(d: Mapping[str, Any]) -> bytes:
    """scikit-learn's ConfusionMatrixDisplay of the stored counts (rows: actual, columns: predicted)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    k = len(d["labels"])
    size = min(4.8, 2.4 + 0.3 * k)
    fig, ax = _figure(width=size + 1.0, height=size)
    display = ConfusionMatrixDisplay(np.asarray(d["matrix"], dtype=int), display_labels=[_short(x, 10) for x in d["labels"]])
    display.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d", xticks_rotation=30 if k > 3 else "horizontal",
                 text_kw={"fontsize": 8})
    ax.tick_params(labelsize=8)
    return _png(fig)


def _positive(d: Mapping[str, Any]) -> str | None:
    """The positive label when there is one curve (binary), for the axis labels; None for one-vs-rest curves."""
    return next(iter(d["curves"])) if len(d["curves"]) == 1 else None


def _legend(ax: Any, loc: str) -> None:
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=7, loc=loc)


def _average_style(name: str) -> dict[str, Any]:
    """Micro and macro averages (multiclass) drawn thick and dashed, in black and grey, over the per-class curves."""
    if name == "micro average":
        return {"color": "black", "linestyle": "-.", "linewidth": 2.0}
    if name == "macro average":
        return {"color": "dimgray", "linestyle": ":", "linewidth": 2.0}
    return {}


def roc(d: Mapping[str, Any]) -> bytes:
    """scikit-learn's RocCurveDisplay, one curve per class (binary: the positive class; multiclass: one-vs-rest)."""
    from sklearn.metrics import RocCurveDisplay

    fig, ax = _figure(width=5.2, height=3.6)
    curves = list(d["curves"].items())
    for i, (name, c) in enumerate(curves):
        display = RocCurveDisplay(fpr=np.asarray(c["fpr"]), tpr=np.asarray(c["tpr"]), roc_auc=c["auc"],
                                  name=_short(name, 16), pos_label=_positive(d))
        display.plot(ax=ax, plot_chance_level=i == len(curves) - 1, curve_kwargs=_average_style(name))
    _legend(ax, "lower right")
    return _png(fig)


def pr(d: Mapping[str, Any]) -> bytes:
    """scikit-learn's PrecisionRecallDisplay: step-wise curves labelled with their average precision; the chance
    level (the positive class's share) for a binary target."""
    from sklearn.metrics import PrecisionRecallDisplay

    fig, ax = _figure(width=5.2, height=3.6)
    positive = _positive(d)
    for name, c in d["curves"].items():
        display = PrecisionRecallDisplay(precision=np.asarray(c["precision"]), recall=np.asarray(c["recall"]),
                                         average_precision=c.get("average_precision"), name=_short(name, 16),
                                         pos_label=positive, prevalence_pos_label=c["base_rate"])
        display.plot(ax=ax, plot_chance_level=positive is not None, curve_kwargs=_average_style(name))
    _legend(ax, "lower left")
    return _png(fig)


def calibration(d: Mapping[str, Any]) -> bytes:
    """scikit-learn's CalibrationDisplay of the stored reliability curves (quantile bins), one per class."""
    from sklearn.calibration import CalibrationDisplay

    fig, ax = _figure(width=5.2, height=3.6)
    for i, (name, c) in enumerate(d["curves"].items()):
        # the curve is stored, not the predictions: y_prob is only kept by the display, never drawn
        display = CalibrationDisplay(np.asarray(c["fraction_positive"]), np.asarray(c["mean_predicted"]), y_prob=None,
                                     pos_label=_positive(d))
        display.plot(ax=ax, name=_short(name, 16), ref_line=i == 0, marker="o", ms=3, **_average_style(name))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    _legend(ax, "lower right")
    return _png(fig)


def predicted_vs_actual(d: Mapping[str, Any]) -> bytes:
    fig, ax = _figure(width=5.2, height=3.8)
    a, p = np.asarray(d["actual"]), np.asarray(d["predicted"])
    ax.scatter(a, p, s=8, alpha=0.5, color=OTHER)
    lo, hi = float(min(a.min(), p.min())), float(max(a.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], ls="--", color="grey", lw=1)
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    return _png(fig)


def residuals(d: Mapping[str, Any]) -> bytes:
    fig, (left, right) = _figure(height=3.0, ncols=2)
    a, p = np.asarray(d["actual"]), np.asarray(d["predicted"])
    r = a - p
    left.scatter(p, r, s=8, alpha=0.5, color=OTHER)
    left.axhline(0, ls="--", color="grey", lw=1)
    left.set_xlabel("predicted")
    left.set_ylabel("actual - predicted")
    right.hist(r, bins=30, color=OTHER)
    right.set_xlabel("residual")
    return _png(fig)


def residuals_by_feature(d: Mapping[str, Any]) -> bytes:
    """Residuals against each of the most important features: a scatter for numbers, boxes for categories."""
    panels = list(d["panels"])
    fig, axes = _figure(width=4.0 * len(panels), height=3.0, ncols=len(panels))
    for ax, panel in zip(np.atleast_1d(axes), panels, strict=True):
        if panel["kind"] == "numeric":
            ax.scatter(panel["x"], panel["residual"], s=8, alpha=0.5, color=OTHER)
        else:
            ax.boxplot(panel["residuals"], tick_labels=[_short(c, 10) for c in panel["categories"]])
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.axhline(0, ls="--", color="grey", lw=1)
        ax.set_xlabel(_short(panel["feature"], 30))
    np.atleast_1d(axes)[0].set_ylabel("actual - predicted")
    return _png(fig)


def importance(d: Mapping[str, Any]) -> bytes:
    names = list(d["features"])[:15]
    values = list(d["values"])[:15]
    fig, ax = _figure(height=min(4.8, 1.0 + 0.25 * len(names)))
    pos = np.arange(len(names))
    stds = list(d.get("stds") or [])[:15]
    ax.barh(pos, values, xerr=stds if stds else None, color=OTHER, capsize=2)
    ax.set_yticks(pos, [_short(n, 30) for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("importance")
    return _png(fig)


def learning_curve(d: Mapping[str, Any]) -> bytes:
    fig, ax = _figure(width=5.6, height=3.4)
    ax.plot(d["n_rows"], d["train_scores"], marker="o", label="train", color=OTHER)
    ax.plot(d["n_rows"], d["val_scores"], marker="o", label="validation", color=CHOSEN)
    ax.set_xlabel("training rows")
    ax.set_ylabel(d["metric"])
    ax.legend(fontsize=8)
    return _png(fig)


def epochs(d: Mapping[str, Any]) -> bytes:
    """One fit's training loss per epoch (left axis) and validation score (right axis), the best epoch marked."""
    fig, ax = _figure(width=5.6, height=3.2)
    ax.plot(d["epoch"], d["train_loss"], marker=".", color=OTHER, label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    if "val_score" in d:
        right = ax.twinx()
        right.plot(d["epoch"], d["val_score"], marker=".", color=CHOSEN, label="validation score")
        right.set_ylabel("validation score")
        if "best_epoch" in d:
            right.axvline(d["best_epoch"], ls="--", color=ACCENT, lw=1, label=f"best epoch {d['best_epoch']}")
        lines = ax.get_lines() + right.get_lines()
        ax.legend(lines, [str(line.get_label()) for line in lines], fontsize=8, loc="center right")
    return _png(fig)


THUMB, LABEL_WIDTH, CAPTION_HEIGHT, GAP = 64, 96, 26, 6


def _thumbnail(path: str) -> Any:
    """The image shrunk (or, when tiny, enlarged without smoothing) into a THUMB square; grey when unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except Exception:  # a file gone since the run: a grey square, not a broken report
        return Image.new("RGB", (THUMB, THUMB), (200, 200, 200))
    scale = THUMB / max(image.size)
    resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, resample)


def image_grid(d: Mapping[str, Any]) -> bytes:
    """Thumbnails in rows (a class's examples, or the worst mistakes), each row's label on its left and each
    thumbnail's caption under it. Drawn with Pillow: dozens of small images, no axes."""
    from PIL import Image, ImageDraw, ImageFont

    rows = [r for r in d["rows"] if r["items"]]
    labelled = any(r["label"] for r in rows)
    captions = any(i["caption"] for r in rows for i in r["items"])
    per_row = max((len(r["items"]) for r in rows), default=1)
    cell_w, cell_h = THUMB + 40 * captions + GAP, THUMB + CAPTION_HEIGHT * captions + GAP
    left = LABEL_WIDTH * labelled
    sheet = Image.new("RGB", (left + per_row * cell_w + GAP, max(1, len(rows)) * cell_h + GAP), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=11)
    for r, row in enumerate(rows):
        top = GAP + r * cell_h
        if labelled:
            draw.text((GAP, top + THUMB // 2 - 6), _short(str(row["label"]), 14), fill="#1d2733", font=font)
        for c, item in enumerate(row["items"]):
            x = left + GAP + c * cell_w
            thumb = _thumbnail(item["path"])
            sheet.paste(thumb, (x + (cell_w - GAP - thumb.width) // 2, top + (THUMB - thumb.height) // 2))
            # the bitmap font has no arrow; "true → predicted (p 0.91)" goes on two lines under the thumbnail
            for k, line in enumerate(item["caption"].replace("→", "->").replace(" (", "\n(").split("\n")[:2]):
                draw.text((x, top + THUMB + 2 + 12 * k), _short(line, 18), fill="#5b6b7c", font=font)
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _spectrograms(d: Mapping[str, Any]) -> bytes:
    from trainwright.features.audio import draw_class_spectrograms

    return draw_class_spectrograms(d)


DRAWERS: dict[str, Callable[[Mapping[str, Any]], bytes]] = {
    "class_balance": class_balance, "histogram": histogram, "missingness": missingness, "correlation": correlation,
    "column": column, "leaderboard": leaderboard, "confusion": confusion, "roc": roc, "pr": pr,
    "calibration": calibration, "predicted_vs_actual": predicted_vs_actual, "residuals": residuals,
    "residuals_by_feature": residuals_by_feature,
    "importance": importance, "learning_curve": learning_curve, "epochs": epochs,
    "image_grid": image_grid, "spectrograms": _spectrograms,
}


def draw(kind: str, data: Mapping[str, Any]) -> bytes:
    """PNG bytes of one figure."""
    return DRAWERS[kind](data)
