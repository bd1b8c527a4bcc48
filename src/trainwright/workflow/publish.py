"""The run folder: the bundle, leaderboard and split first (renamed into place as soon as they are complete, so the
log can copy the model while the analysis runs), then the listeners' files (the report), then run.json last."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainwright.bundle import write_bundle
from trainwright.data import rows_of
from trainwright.drift import build_profile
from trainwright.fileio import jsonable
from trainwright.lineage import lineage
from trainwright.tracking.stale import write_owner
from trainwright.training import Event, predict_matrix
from trainwright.workflow.prepare import Prepared
from trainwright.workflow.result import TrainResult
from trainwright.workflow.steps import RunState, timed

__all__ = ["publish_bundle", "run_summary"]


def _write_run(tmp: Path, result: TrainResult, prep: Prepared, pipeline: Any) -> None:
    board = result.leaderboard.to_frame()
    board.to_csv(tmp / "leaderboard.csv", index=False)
    chosen = result.chosen
    metadata = {
        "run_id": result.run_id, "trial_id": chosen.trial_id, "model": chosen.name, "family": chosen.family,
        "params": chosen.params, "seed": chosen.seed, "source": prep.source, "fingerprints": prep.fingerprints,
        "created": datetime.now(UTC).isoformat(), "features": prep.schema.features,
        "lineage": lineage(result.config.seed), "choice": result.choice.reason,
    }
    metrics = {"metric": result.task.metric, "test": jsonable(result.test_scores),
               "validation": jsonable(dict(chosen.val_scores)), "train": jsonable(dict(chosen.train_scores)),
               "cv": list(chosen.cv_scores)}
    documents = {"schema": prep.schema.to_dict(), "task": result.task.to_dict(), "metrics": metrics,
                 "split": result.split.manifest(), "config": result.config.to_dict(), "metadata": metadata}
    train_X, _ = rows_of(prep.X, result.split.train)  # reference profile for monitoring: the TRAIN part only
    documents["profile"] = build_profile(train_X, prep.schema, result.task, predict_matrix(pipeline, train_X, result.task),
                                         random_state=result.config.seed).to_dict()
    write_bundle(tmp / "model", pipeline, documents)
    (tmp / "split.json").write_text(json.dumps(result.split.manifest()), encoding="utf-8")


def run_summary(result: TrainResult, prep: Prepared) -> dict[str, Any]:
    chosen = result.chosen
    return {
        "run_id": result.run_id, "source": prep.source, "task": result.task.kind.value, "metric": result.task.metric,
        "chosen": chosen.trial_id, "model": chosen.name, "best": result.choice.best, "reason": result.choice.reason,
        "validation_score": chosen.score(result.task.metric), "test_scores": jsonable(result.test_scores),
        "split": result.split.sizes, "notes": list(result.notes), "timings": result.timings,
        "created": datetime.now(UTC).isoformat(),
    }


def publish_bundle(run: RunState, result: TrainResult, pipeline: Any) -> None:
    """The bundle, leaderboard and split under a hidden name, renamed into place as soon as they are complete, so
    the log can copy the model while the analysis and the report are made."""
    tmp = result.run_dir.with_name(f".{run.run_id}.partial")
    tmp.mkdir(parents=True)
    try:
        write_owner(tmp)  # a later run removes this folder if this process is killed (tracking/stale.py)
        with timed(run, "bundle_s"):
            _write_run(tmp, result, run.prep, pipeline)
        os.replace(tmp, result.run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    run.notify(Event("done", None, step="bundle", payload=result.bundle))
