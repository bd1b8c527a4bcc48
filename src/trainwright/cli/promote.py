"""``trainwright promote RUN_ID``: register the run's model and move the ``champion`` alias to it."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register"]


def promote_command(
    run_id: Annotated[str, typer.Argument(help="a trainwright run id (see 'trainwright runs') or MLflow run id")],
    name: Annotated[str | None, typer.Option("--name", help="registered model name (default: the dataset's)")] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="MLflow store")] = None,
) -> None:
    """Register RUN_ID's model in the MLflow model registry and make it the champion."""
    from trainwright.cli._console import console
    from trainwright.tracking.registry import promote

    done = promote(run_id, uri=tracking_uri, name=name)
    before = f" (was version {done.previous})" if done.previous else ""
    console.print(f"Registered model '{done.name}' (name from {done.name_from}): {done.name} version {done.version} "
                  f"is now the champion{before}: run {done.run_id}, {done.model_uri}; compare against it with "
                  f"'trainwright compare RUN champion DATA' (--model-name {done.name} if several)",
                  highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("promote")(promote_command)
