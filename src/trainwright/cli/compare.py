"""``trainwright compare CHALLENGER CHAMPION data.csv``: the regression gate. Exits 6 when the challenger is
significantly worse, so it can stop a CI pipeline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["load_model", "register"]


def _is_bundle(path: Path) -> bool:
    return (path / "manifest.json").is_file()


def load_model(ref: str, *, data: Path, tracking_uri: str | None, model_name: str | None,
               target: str | None = None) -> tuple[Any, str]:
    """A bundle Model from a bundle or run directory, ``champion``, or a run id in the store; and where it came from.
    ``champion``: the registered model ``model_name``, else the one registered model with a champion that predicts
    ``target`` (the other model's target)."""
    from trainwright.bundle import load

    path = Path(ref)
    if path.is_dir():
        bundle = path if _is_bundle(path) or not _is_bundle(path / "model") else path / "model"
        return load(bundle), str(bundle)
    import mlflow.pyfunc

    from trainwright.tracking import Store
    from trainwright.tracking.registry import CHAMPION, find_champion, find_run, model_uri
    from trainwright.tracking.store import quiet_mlflow

    with quiet_mlflow():
        store = Store(tracking_uri).open(create=False)
        if ref == CHAMPION:
            _, uri = find_champion(store, name=model_name, target=target)
        else:
            uri = model_uri(find_run(store, ref))
        store.use()
        model = mlflow.pyfunc.load_model(uri).unwrap_python_model().model
    return model, uri


def _check_pair(challenger: Any, champion: Any) -> None:
    from trainwright.exceptions import DataError, Problem

    a, b = challenger.task, champion.task
    if a.kind != b.kind or list(a.classes) != list(b.classes) or a.target != b.target:
        raise DataError("the two models do not predict the same thing", [Problem(
            "compare.incompatible", f"challenger: {a.kind.value} {a.target} {list(a.classes)}; champion: "
            f"{b.kind.value} {b.target} {list(b.classes)}", fix="compare models trained for the same target")])


def _labelled(data: Path, target: str, slice_column: str | None) -> Any:
    from trainwright.data import load_table
    from trainwright.exceptions import DataError, Problem

    frame = load_table(data)
    missing = [c for c in (target, slice_column) if c and c not in frame.columns]
    if missing:
        raise DataError(f"cannot compare on {data}", [Problem(
            "compare.column_absent", f"column '{c}' is not in {data}", column=c,
            fix=f"columns are: {', '.join(map(str, frame.columns[:20]))}") for c in missing])
    frame = frame.loc[frame[target].notna()]
    if len(frame) < 2:
        raise DataError(f"cannot compare on {data}", [Problem(
            "compare.too_few_rows", f"{len(frame)} labelled row(s) in '{target}'", column=target,
            fix="compare on a labelled file with more rows")])
    return frame


def _render(result: Any, challenger_src: str, champion_src: str) -> None:
    from rich.table import Table

    from trainwright.cli._console import console

    console.print(f"challenger: {challenger_src}\nchampion:   {champion_src}", highlight=False)
    console.print(result.summary(), highlight=False, soft_wrap=True)
    if result.mcnemar is not None:
        m = result.mcnemar
        console.print(f"McNemar ({m.method}): only challenger right on {m.challenger_only} rows, only champion right "
                      f"on {m.champion_only}; p = {m.p_value:.4g}", highlight=False)
    if result.slices:
        table = Table(title=f"By {result.slice_column} ({result.metric})", title_justify="left")
        for col in ("value", "rows", "challenger", "champion", "difference", "CI", "verdict"):
            table.add_column(col, no_wrap=True)
        for s in result.slices:
            table.add_row(s.value, str(s.n), f"{s.challenger:.4f}", f"{s.champion:.4f}", f"{s.difference:+.4f}",
                          f"[{s.ci_low:+.4f}, {s.ci_high:+.4f}]", s.verdict)
        console.print(table)
    console.print(f"[bold]verdict:[/] {result.verdict}")


def compare_command(
    challenger: Annotated[str, typer.Argument(help="bundle or run directory, run id, or 'champion'")],
    champion: Annotated[str, typer.Argument(help="bundle or run directory, run id, or 'champion'")],
    data: Annotated[Path, typer.Argument(help="labelled rows neither model was trained on (CSV, Parquet, JSONL)")],
    slice_column: Annotated[str | None, typer.Option("--slice-column", help="categorical column for per-slice differences")] = None,
    metric: Annotated[str | None, typer.Option(help="metric (default: the champion's)")] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", min=100, help="bootstrap resamples")] = 1000,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="confidence level of the interval")] = 0.95,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="random_state of the bootstrap")] = 0,
    model_name: Annotated[str | None, typer.Option("--model-name", help="registered model for 'champion' (default: "
                                                   "the one with a champion predicting the same target)")] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="MLflow store for run ids and 'champion'")] = None,
) -> None:
    """Score CHALLENGER and CHAMPION on the same labelled DATA; exit 6 when the challenger is significantly worse."""
    from trainwright.exceptions import check_data_file

    check_data_file(data)  # a mistyped path is refused before seconds of loading two models
    from trainwright.cli._console import surfaced_warnings
    from trainwright.evaluation.comparison import compare_predictions
    from trainwright.evaluation.metrics import check_metric
    from trainwright.exceptions import GateFailed, Problem

    with surfaced_warnings():
        new, new_src = load_model(challenger, data=data, tracking_uri=tracking_uri, model_name=model_name)
        old, old_src = load_model(champion, data=data, tracking_uri=tracking_uri, model_name=model_name,
                                  target=new.task.target)
        _check_pair(new, old)
        task = old.task if metric is None else replace(old.task, metric=metric)
        check_metric(task)
        frame = _labelled(data, task.target, slice_column)
        y = task.encode(frame[task.target])
        result = compare_predictions(y, new.predict_detail(frame)[2], old.predict_detail(frame)[2], task,
                                     slices=frame[slice_column].tolist() if slice_column else None,
                                     slice_column=slice_column, n_boot=n_boot, confidence=confidence, random_state=seed)
    _render(result, new_src, old_src)
    if result.worse:
        raise GateFailed("the challenger is significantly worse than the champion", [Problem(
            "gate.worse", result.summary(), fix="keep the champion; look at the slices and the leaderboard")])


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)
