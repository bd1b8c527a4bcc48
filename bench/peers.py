"""trainwright against its peers on the shared datasets: the same 75/25 split, the same budget, one subprocess per fit.

    .venv/bin/python bench/peers.py                                   # every dataset, 60 s budget
    .venv/bin/python bench/peers.py --datasets diabetes,penguins --budget 30 --systems trainwright,hgb,lightgbm

Systems: ``trainwright`` (balanced, simplest within noise), ``trainwright-best`` (balanced, ``--choose best``),
``trainwright-bestpreset`` (the ``best`` preset: bagged, stacked, chosen by the best score), ``hgb`` and ``lightgbm``
(scikit-learn HistGradientBoosting and LightGBM with their defaults, categoricals as pandas categories);
``autogluon`` (medium_quality), ``autogluon-best`` (best_quality) and ``flaml`` run with ``--peers-python`` (default
/tmp/peers-venv/bin/python, a separate virtualenv: ``pip install torch==2.13.0`` first, then ``flaml[automl]
autogluon.tabular lightgbm catboost torch==2.13.0``) where that interpreter has them.
Each fit runs in its own subprocess (so peak memory is its own) on the 75 % part, stratified for classes, seed 0;
the 25 % part is scored once: ROC-AUC (binary), log-loss and accuracy (multiclass), RMSE (regression). Printed per
dataset: metric, fit wall time, predict ms per 1,000 rows, peak RSS; then mean rank per system. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
TARGETS = {"titanic": "survived", "credit_data": "Status", "breast_cancer": "diagnosis", "penguins": "species",
           "iris": "species", "wine": "cultivar", "digits": "digit", "diabetes": "progression",
           "vega_cars": "Miles_per_Gallon", "bikeshare": "bikers", "fine_foods": "score"}
SYSTEMS = ("trainwright", "trainwright-best", "trainwright-bestpreset", "hgb", "lightgbm", "autogluon", "autogluon-best",
           "flaml")
PEERS = {"autogluon": "autogluon.tabular", "autogluon-best": "autogluon.tabular", "flaml": "flaml"}
PEERS_PYTHON = "/tmp/peers-venv/bin/python"

# One fit, run as ``python -c CHILD data target budget system workdir``: prints one JSON line.
CHILD = r'''
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
from sklearn.model_selection import train_test_split
warnings.filterwarnings("ignore")
path, target, budget, system, workdir = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
frame = pd.read_csv(path).dropna(subset=[target])
y = frame[target]
classification = not pd.api.types.is_numeric_dtype(y) or y.nunique() <= 10
train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=y if classification else None)
X_train, y_train, X_test, y_test = train.drop(columns=[target]), train[target], test.drop(columns=[target]), test[target]
start = time.perf_counter()
import os, pickle
def size_of(path):
    return sum(f.stat().st_size for f in __import__("pathlib").Path(path).rglob("*") if f.is_file())
if system.startswith("trainwright"):
    import trainwright as tw
    preset = "best" if system == "trainwright-bestpreset" else "balanced"
    result = tw.train(train, target=target, preset=preset, time_budget=budget, output_dir=workdir, tracking=False,
                      choose="best" if system == "trainwright-best" else None)
    fit_s = time.perf_counter() - start
    model = tw.load(result.bundle)
    t0 = time.perf_counter(); out = model.predict(X_test); predict_s = time.perf_counter() - t0
    size = size_of(result.bundle)
    if classification:
        classes = [str(c) for c in result.task.classes]
        proba = out[[f"proba_{c}" for c in result.task.classes]].to_numpy()
    else:
        pred = out["prediction"].to_numpy()
elif system.startswith("autogluon"):
    from autogluon.tabular import TabularPredictor
    kind = ("binary" if y.nunique() == 2 else "multiclass") if classification else "regression"
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "root_mean_squared_error"}[kind]
    model = TabularPredictor(label=target, problem_type=kind, eval_metric=metric, path=f"{workdir}/ag", verbosity=0)
    model.fit(train, time_limit=budget, presets="best_quality" if system.endswith("best") else "medium_quality",
              num_cpus=2, num_gpus=0)
    fit_s = time.perf_counter() - start
    t0 = time.perf_counter()
    if classification:
        frame = model.predict_proba(X_test); classes = [str(c) for c in frame.columns]; proba = frame.to_numpy()
    else:
        pred = model.predict(X_test).to_numpy()
    predict_s = time.perf_counter() - t0
    size = size_of(f"{workdir}/ag")
elif system == "flaml":
    from flaml import AutoML
    kind = ("binary" if y.nunique() == 2 else "multiclass") if classification else "regression"
    model = AutoML()
    model.fit(X_train, y_train, task="classification" if classification else "regression", time_budget=budget,
              metric={"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[kind], n_jobs=2, verbose=0,
              seed=0)
    fit_s = time.perf_counter() - start
    t0 = time.perf_counter()
    if classification:
        proba = model.predict_proba(X_test); classes = [str(c) for c in model.classes_]
    else:
        pred = model.predict(X_test)
    predict_s = time.perf_counter() - t0
    size = len(pickle.dumps(model))
else:
    categorical = [c for c in X_train if not pd.api.types.is_numeric_dtype(X_train[c])]
    for part in (X_train, X_test):
        for c in categorical:
            part[c] = pd.Categorical(part[c], categories=sorted(X_train[c].dropna().unique()))
    if system == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier as C, HistGradientBoostingRegressor as R
        model = (C if classification else R)(categorical_features="from_dtype", random_state=0)
    elif system == "lightgbm":
        from lightgbm import LGBMClassifier as C, LGBMRegressor as R
        model = (C if classification else R)(random_state=0, verbose=-1)
    else:
        raise SystemExit(json.dumps({"error": f"{system}: not wired in this skeleton"}))
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    t0 = time.perf_counter()
    if classification:
        proba = model.predict_proba(X_test); classes = [str(c) for c in model.classes_]
    else:
        pred = model.predict(X_test)
    predict_s = time.perf_counter() - t0
    size = len(pickle.dumps(model))
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score, root_mean_squared_error
scores = {}
if classification:
    truth = y_test.astype(str).to_numpy()
    if len(classes) == 2:
        scores["roc_auc"] = roc_auc_score(truth == classes[1], proba[:, 1])
    else:
        scores["log_loss"] = log_loss(truth, proba, labels=classes)
    scores["accuracy"] = accuracy_score(truth, np.asarray(classes)[proba.argmax(axis=1)])
else:
    scores["rmse"] = root_mean_squared_error(y_test, pred)
print(json.dumps({"scores": scores, "fit_s": fit_s, "predict_ms_per_1k": predict_s * 1e6 / len(X_test),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "size_mb": size / 1e6}))
'''


def python_for(system: str, peers_python: str) -> str:
    return peers_python if system in PEERS else sys.executable


def available(system: str, peers_python: str) -> bool:
    module = PEERS.get(system)
    if module is None:
        return True
    if not Path(peers_python).is_file():
        return False
    probe = subprocess.run([peers_python, "-c", f"import {module}"], capture_output=True, check=False)
    return probe.returncode == 0


def run_one(path: Path, target: str, budget: float, system: str, python: str) -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        t0 = time.perf_counter()
        proc = subprocess.run([python, "-c", CHILD, str(path), target, str(budget), system, workdir],
                              capture_output=True, text=True, timeout=budget * 5 + 120, check=False,
                              env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
        wall = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200], "wall_s": wall}
    return {**json.loads(lines[-1]), "wall_s": wall}


def _normalised(scored: list[tuple[str, float]], higher: bool) -> dict[str, float]:
    """Per dataset: 1 for the best system, 0 for the worst, linear between."""
    values = [v for _, v in scored]
    best, worst = (max(values), min(values)) if higher else (min(values), max(values))
    span = best - worst
    return {s: 1.0 if span == 0 else (v - worst) / span for s, v in scored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(TARGETS))
    parser.add_argument("--systems", default="trainwright,trainwright-best,hgb,lightgbm,autogluon,flaml")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--peers-python", default=PEERS_PYTHON)
    args = parser.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown systems {unknown}; known: {', '.join(SYSTEMS)}")
    ranks: dict[str, list[int]] = {s: [] for s in systems}
    normalised: dict[str, list[float]] = {s: [] for s in systems}
    ready = {s: available(s, args.peers_python) for s in systems}
    for name in [d for d in args.datasets.split(",") if d]:
        results = {s: run_one(DATASETS / f"{name}.csv", TARGETS[name], args.budget, s,
                              python_for(s, args.peers_python)) if ready[s]
                   else {"error": f"not installed in {python_for(s, args.peers_python)}"} for s in systems}
        metric = next((m for r in results.values() for m in ("roc_auc", "log_loss", "rmse") if m in r.get("scores", {})),
                      None)
        print(f"\n{name} ({metric})", flush=True)
        for system, r in results.items():
            if "error" in r:
                print(f"  {system:<22} error: {r['error']}")
                continue
            print(f"  {system:<22} {r['scores'][metric]:.4f}  fit {r['fit_s']:6.1f} s  wall {r['wall_s']:6.1f} s  "
                  f"predict {r['predict_ms_per_1k']:8.2f} ms/1k  peak {r['peak_mb']:6.0f} MB  "
                  f"size {r.get('size_mb', float('nan')):7.2f} MB", flush=True)
        scored = [(s, r["scores"][metric]) for s, r in results.items() if "error" not in r]
        higher = metric == "roc_auc"
        ordered = sorted(scored, key=lambda sr: -sr[1] if higher else sr[1])
        for rank, (system, _) in enumerate(ordered, start=1):
            ranks[system].append(rank)
        for system, value in _normalised(scored, higher).items():
            normalised[system].append(value)
    print("\nmean rank: " + ", ".join(f"{s} {sum(r) / len(r):.2f}" for s, r in ranks.items() if r))
    print("mean normalised score (1 = best on every dataset): "
          + ", ".join(f"{s} {sum(v) / len(v):.3f}" for s, v in normalised.items() if v))
    print("worst rank: " + ", ".join(f"{s} {max(r)}" for s, r in ranks.items() if r))


if __name__ == "__main__":
    main()
