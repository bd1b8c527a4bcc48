"""The detection and segmentation workflow, beside the tabular one: folder -> checked annotations -> split by image
-> ladder simplest first (each rung early-stopped on the validation images) -> choice -> one test -> bundle ->
report data.

``workflow.train`` sends a run here when ``task`` is ``detection`` or ``segmentation``, or when the folder's layout
says so (``data.annotations.detect_layout``). Dense tasks stay out of ``TaskKind``: their metrics (IoU, Dice,
COCO mAP) are per pixel and per box, not per row, and would not fit the row-metric tables. The chosen rung is
not refit on train + validation: the networks need the validation images to stop, and the test scores the very
weights that are bundled.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.config import Config, load_config
from trainwright.data.annotations import (
    DenseDataset,
    DenseKind,
    DenseSplit,
    detect_layout,
    read_dense,
    split_images,
)
from trainwright.evaluation.dense_metrics import (
    ImageBoxes,
    confusion_matrix,
    detection_scores,
    segmentation_scores,
)
from trainwright.exceptions import ConfigError, DataError, Problem, TrainingError
from trainwright.models._dense_base import (
    DenseArrays,
    DenseSettings,
    DenseSpec,
    read_image,
    save_dense_bundle,
)
from trainwright.models.detection import DENSE_SPECS as DETECTION_SPECS
from trainwright.models.segmentation import DENSE_SPECS as SEGMENTATION_SPECS
from trainwright.workflow.dense_report import write_report

__all__ = ["DENSE_TASKS", "DenseResult", "dense_task_of", "train_dense"]

DENSE_TASKS = ("detection", "segmentation")
ALL_DENSE_SPECS: tuple[DenseSpec, ...] = SEGMENTATION_SPECS + DETECTION_SPECS
_EPOCHS = {"quick": 15, "balanced": 60, "thorough": 150}
_TOP_RUNG = {"quick": 2, "balanced": 3, "thorough": 3}
_RESERVE = 0.05  # share of the time budget kept for what follows the ladder (an epoch may also overrun a little)
_TOLERANCE = 0.01  # a simpler rung within this of the best validation score is chosen


@dataclass(frozen=True)
class DenseResult:
    """What a detection or segmentation run returns. ``leaderboard`` rows: model, rung, status, val score, fit
    seconds, note. ``test_scores``: the chosen model's metrics on the test images, measured once."""

    run_id: str
    run_dir: Path
    task: str
    metric: str
    classes: tuple[str, ...]
    leaderboard: tuple[dict[str, Any], ...]
    chosen: str
    reason: str
    test_scores: dict[str, Any]
    bundle: Path
    split_sizes: dict[str, int]
    input_size: int
    report_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def test_score(self) -> float:
        return float(self.test_scores[self.metric])

    def summary_lines(self) -> list[str]:
        """The terminal summary: the ladder, the choice and the one test result."""
        lines = [f"{self.task}: {len(self.classes)} classes ({', '.join(self.classes)}); images train/validation/"
                 f"test = {self.split_sizes['train']}/{self.split_sizes['validation']}/{self.split_sizes['test']}; "
                 f"input {self.input_size}x{self.input_size}", f"Leaderboard: {self.metric} on the validation images"]
        for row in self.leaderboard:
            score = "" if row["val"] is None else f"{row['val']:.4f}"
            mark = " ✓" if row["model"] == self.chosen else ""
            epochs = f"{row['epochs']:>3} epochs" if row.get("epochs") else " " * 10
            lines.append(f"  {row['model'] + mark:<20} rung {row['rung']}  {score:>7}  {row['fit_s']:>7.1f} s  "
                         f"{epochs}  {row['status']}{': ' + row['note'] if row['note'] else ''}")
        lines.append(f"Chosen: {self.reason}")
        lines.append(f"Test (touched once, after the choice): {self.metric} = {self.test_score:.4f} on "
                     f"{self.split_sizes['test']} images")
        lines.append(f"Run: {self.run_dir}\nModel bundle: {self.bundle}")
        if self.report_path is not None:
            lines.append(f"Report: {self.report_path}")
        return lines


def dense_task_of(data: Any, config: Any, overrides: dict[str, Any]) -> DenseKind | None:
    """Detection or segmentation when asked for (``task``) or when the folder's layout says so, else None."""
    task = overrides.get("task") or getattr(config, "task", None)
    if task is None and isinstance(config, str | Path) and Path(config).is_file():
        import yaml

        loaded = yaml.safe_load(Path(config).read_text(encoding="utf-8-sig"))
        task = loaded.get("task") if isinstance(loaded, dict) else None
    if task in DENSE_TASKS:
        return task  # type: ignore[no-any-return]
    if task not in (None, "auto") or not isinstance(data, str | Path):
        return None
    return detect_layout(data)


def _resolve(config: Config | str | Path | None, kind: str, overrides: dict[str, Any]) -> Config:
    values = {**overrides, "task": kind}
    if isinstance(config, Config):
        return load_config(None, **{**config.to_dict(), **values})
    values.setdefault("target", "label")  # a dense folder has no target column; the config model wants a name
    return load_config(config, **values)


def input_size(dataset: DenseDataset) -> int:
    """The square side images are resized to: the median longer side, rounded to a multiple of 16, 64..512."""
    sides = [max(item.width, item.height) for item in dataset.items]
    return int(min(512, max(64, 16 * round(float(np.median(sides)) / 16))))


def load_arrays(dataset: DenseDataset, size: int) -> DenseArrays:
    """Every image resized to ``size`` (masks by nearest neighbour, boxes scaled), in memory."""
    from PIL import Image

    images, masks, boxes = [], [], []
    for item in dataset.items:
        pixels, (width, height) = read_image(item.image, size)
        images.append(pixels)
        sx, sy = size / width, size / height
        boxes.append(np.asarray([[b.x * sx, b.y * sy, b.width * sx, b.height * sy, b.label] for b in item.boxes],
                                np.float32).reshape(-1, 5))
        if item.mask is not None:
            with Image.open(item.mask) as mask:
                masks.append(np.asarray(mask.resize((size, size), Image.Resampling.NEAREST), dtype=np.int64))
    return DenseArrays(np.stack(images), np.stack(masks) if len(masks) == len(images) else None, tuple(boxes))


def ladder_specs(kind: str, cfg: Config) -> list[DenseSpec]:
    """The rungs of the task, simplest first: the names given (``models``), else the preset's."""
    own = [s for s in ALL_DENSE_SPECS if s.task == kind]
    if cfg.models is not None:
        unknown = [n for n in cfg.models if n not in {s.name for s in own}]
        if unknown:
            raise ConfigError(f"unknown {kind} model(s): {', '.join(unknown)}", [Problem(
                "config.models", f"{', '.join(unknown)} is not a {kind} model",
                fix=f"choose from {', '.join(s.name for s in own)}")])
        own = [s for s in own if s.name in cfg.models]
    else:
        own = [s for s in own if s.rung <= _TOP_RUNG[cfg.preset]]
    return sorted((s for s in own if s.name not in cfg.exclude_models), key=lambda s: s.rung)


def _detections(found: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[ImageBoxes]:
    return [ImageBoxes(b, lab, s) for b, lab, s in found]


def _truth(boxes: tuple[np.ndarray, ...]) -> list[ImageBoxes]:
    return [ImageBoxes(b[:, :4], b[:, 4].astype(np.int64)) for b in boxes]


def evaluate(model: Any, kind: str, data: DenseArrays, classes: tuple[str, ...]) -> tuple[dict[str, Any], Any]:
    """The task's metrics of ``model`` on ``data`` and its predictions (masks or detections per image)."""
    size = data.images.shape[-1]
    if kind == "segmentation":
        assert data.masks is not None
        pred = model.predict_masks(data.images)
        matrix = confusion_matrix(data.masks, pred, len(classes) + 1)
        return segmentation_scores(matrix, ("background", *classes)).to_dict(), pred
    found = model.predict_boxes(data.images)
    scores = detection_scores(_truth(data.boxes), _detections(found), [(size, size)] * len(data), classes)
    return scores.to_dict(), found


def _fit_rung(spec: DenseSpec, kind: str, dataset: DenseDataset, arrays: DenseArrays, split: DenseSplit,
              settings: DenseSettings) -> tuple[dict[str, Any], Any]:
    row: dict[str, Any] = {"model": spec.name, "rung": spec.rung, "val": None, "fit_s": 0.0, "status": "ok",
                           "note": spec.description}
    if spec.needs_masks and arrays.masks is None:
        row.update(status="no baseline", note="no masks in the data: a per-pixel baseline cannot be trained, and "
                   "boxes alone give no honest simple detector")
        return row, None
    model = spec.build(dataset.classes, {})
    if kind == "detection" and hasattr(model, "score"):
        size = arrays.images.shape[-1]
        model.score = lambda truth, found: detection_scores(
            _truth(truth), _detections(found), [(size, size)] * len(truth), dataset.classes).map50
    start = time.monotonic()
    try:
        model.fit(arrays.subset(split.train), arrays.subset(split.validation), settings)
        scores, _ = evaluate(model, kind, arrays.subset(split.validation), dataset.classes)
    except (RuntimeError, ValueError, MemoryError) as exc:  # one rung failing leaves the others
        row.update(status="failed", note=f"{type(exc).__name__}: {str(exc)[:160]}", fit_s=time.monotonic() - start)
        return row, None
    history = getattr(model, "history_", [])
    row.update(val=scores["mean_iou" if kind == "segmentation" else "map50"], fit_s=time.monotonic() - start,
               val_scores=scores, epochs=len(history) or None, threads=settings.n_threads)
    return row, model


def _choose(rows: list[dict[str, Any]], metric: str) -> tuple[str, str]:
    scored = [r for r in rows if r["val"] is not None and math.isfinite(r["val"])]
    if not scored:
        raise TrainingError("no candidate could be trained",
                            [Problem("training.all_failed", f"{r['model']}: {r['status']} {r['note']}") for r in rows])
    best = max(scored, key=lambda r: r["val"])
    chosen = next(r for r in scored if r["val"] >= best["val"] - _TOLERANCE)
    if chosen is best:
        return best["model"], f"{best['model']}: the best {metric} on validation ({best['val']:.4f})"
    return chosen["model"], (f"{chosen['model']}: the simplest rung within {_TOLERANCE} of the best {metric} "
                             f"({chosen['val']:.4f} vs {best['model']} {best['val']:.4f})")


def idle_cores() -> int:
    """The cores not busy right now (cores minus the 1-minute load average), at least one. Torch's and LightGBM's
    thread pools slow down several-fold when they ask for more threads than there are idle cores (on a shared
    2-core machine: 30 s an epoch with 2 threads, 5 s with 1)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return cores
    return max(1, min(cores, int(cores - load + 0.5)))


def _settings(cfg: Config, deadline: float, n_left: int) -> DenseSettings:
    share = (deadline - time.monotonic()) / max(n_left, 1)
    return DenseSettings(max_epochs=_EPOCHS[cfg.preset], deadline=time.monotonic() + max(share, 1.0),
                         device=cfg.device, seed=cfg.seed, patience=10 if cfg.preset != "quick" else 5,
                         n_threads=idle_cores())


def train_dense(data: str | Path, kind: DenseKind, *, config: Config | str | Path | None = None,
                tracker: Any = None, on_event: Any = None, **overrides: Any) -> DenseResult:
    """The whole dense workflow; see the module's docstring. ``on_event`` hears one ``start`` event per rung (a
    progress bar's description). Nothing is logged to MLflow yet (the tracker, when given, is closed)."""
    try:
        return _run(data, kind, config, overrides, on_event or (lambda event: None))
    finally:
        getattr(tracker, "close", lambda: None)()


def _run(data: Any, kind: DenseKind, config: Any, overrides: dict[str, Any], notify: Any) -> DenseResult:
    from trainwright.training.events import Event

    if not isinstance(data, str | Path):
        raise DataError(f"{kind} reads a folder of images, not a table", [Problem(
            "annotations.layout", "a DataFrame was given", fix="pass the folder's path")])
    cfg = _resolve(config, kind, overrides)
    start = time.monotonic()
    deadline = start + cfg.effective_time_budget * (1 - _RESERVE)  # the rest: the test, the bundle, the report
    dataset = read_dense(data, kind)
    split = split_images(dataset, (cfg.split.train, cfg.split.validation, cfg.split.test), cfg.seed)
    size = input_size(dataset)
    arrays = load_arrays(dataset, size)
    timings = {"prepare_s": round(time.monotonic() - start, 3)}
    specs = ladder_specs(kind, cfg)
    rows, models = [], {}
    for i, spec in enumerate(specs):
        notify(Event("start", None, step=f"fitting {spec.name} ({kind}, rung {spec.rung})"))
        row, model = _fit_rung(spec, kind, dataset, arrays, split, _settings(cfg, deadline, len(specs) - i))
        rows.append(row)
        if model is not None:
            models[spec.name] = model
    metric = "mean_iou" if kind == "segmentation" else "map50"
    chosen, reason = _choose(rows, metric)
    test = arrays.subset(split.test)
    test_scores, test_pred = evaluate(models[chosen], kind, test, dataset.classes)  # the one look at the test part
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    run_dir = Path(cfg.output_dir) / run_id
    partial = Path(cfg.output_dir) / f".{run_id}.partial"
    try:
        spec = next(s for s in specs if s.name == chosen)
        meta = {"input_size": size, "run_id": run_id, "category_ids": list(dataset.category_ids),
                "created": datetime.now(UTC).isoformat(), "val_scores": next(r for r in rows if r["model"] == chosen)
                .get("val_scores"), "test_scores": test_scores, "metric": metric}
        save_dense_bundle(partial / "model", models[chosen], spec, meta)
        timings["total_s"] = round(time.monotonic() - start, 3)
        result = DenseResult(run_id, run_dir, kind, metric, dataset.classes, tuple(rows), chosen, reason, test_scores,
                             run_dir / "model", split.sizes, size, timings=timings)
        report = write_report(partial, result, [dataset.items[i] for i in split.test], test, test_pred)
        (partial / "run.json").write_text(json.dumps(_summary(result, dataset, split), indent=2, default=str),
                                          encoding="utf-8")
        partial.rename(run_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return DenseResult(**{**result.__dict__, "report_path": run_dir / report.name})


def _summary(result: DenseResult, dataset: DenseDataset, split: DenseSplit) -> dict[str, Any]:
    rows = [{k: v for k, v in r.items() if k != "val_scores"} for r in result.leaderboard]
    return {"run_id": result.run_id, "task": result.task, "source": str(dataset.root), "format": dataset.source_format,
            "fingerprint": dataset.fingerprint, "classes": list(result.classes), "split": split.sizes,
            "split_seed": split.seed, "leaderboard": rows, "chosen": result.chosen, "reason": result.reason,
            "metric": result.metric, "test_scores": result.test_scores, "timings": result.timings,
            "input_size": result.input_size}
