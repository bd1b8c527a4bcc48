"""Trained bundles shared by the bundle, serving, monitoring and export tests (session fixtures in conftest)."""

from __future__ import annotations

from pathlib import Path

TITANIC = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "titanic.csv"


def titanic_path() -> Path:
    if TITANIC.exists():
        return TITANIC
    return Path(__file__).resolve().parents[1] / "datasets" / "titanic.csv"


def train_bundle(output_dir: Path, models: tuple[str, ...], **overrides: object) -> Path:
    """The whole workflow on titanic with the quick preset, no tracking; returns the bundle directory.

    Training is not under test here: warnings raised by the run's extras (reports, importance) are not errors."""
    import warnings

    from trainwright.workflow import train

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(titanic_path(), target="survived", preset="quick", models=models, output_dir=str(output_dir),
                       tracking=False, **overrides)
    return result.bundle


def quick_bundle(output_dir: Path, model: str = "lightgbm", n_estimators: int = 100) -> Path:
    """A bundle written the way the workflow writes one (schema, task, metrics, metadata, train-part profile),
    without the ladder, cross-validation and report extras: one fixed-size fit on 80% of titanic."""
    import numpy as np

    from trainwright.bundle import write_bundle
    from trainwright.config import load_config
    from trainwright.drift import build_profile
    from trainwright.evaluation import score_all
    from trainwright.lineage import lineage
    from trainwright.models import get_spec
    from trainwright.training import FitContext, fit_pipeline, predict_matrix
    from trainwright.workflow import prepare

    cfg = load_config(None, target="survived", preset="quick", tracking=False)
    prep = prepare(titanic_path(), cfg)
    order = np.random.default_rng(0).permutation(len(prep.X))
    train, test = order[: int(0.8 * len(order))], order[int(0.8 * len(order)):]
    spec = get_spec(model)
    params = {**spec.defaults, "n_estimators": n_estimators} if "n_estimators" in spec.defaults else dict(spec.defaults)
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
    pipeline, _, _ = fit_pipeline(spec, ctx, prep.X.iloc[train], prep.y[train], params)
    X_train = prep.X.iloc[train]
    scores = score_all(prep.y[test], predict_matrix(pipeline, prep.X.iloc[test], prep.task), prep.task)
    documents = {
        "schema": prep.schema.to_dict(), "task": prep.task.to_dict(),
        "metrics": {"metric": prep.task.metric, "test": scores},
        "metadata": {"run_id": f"quick-{model}", "model": model, "family": spec.family, "params": params,
                     "features": prep.schema.features, "lineage": lineage(0)},
        "profile": build_profile(X_train, prep.schema, prep.task, predict_matrix(pipeline, X_train, prep.task)).to_dict(),
        "split": {"rows": {"train": prep.X.index[train].tolist(), "test": prep.X.index[test].tolist()}},
    }
    return write_bundle(Path(output_dir) / "model", pipeline, documents)
