"""The Typer application. Each command lives in its own module with a ``register(app)`` function.

Building the app imports only Typer and the command modules, whose heavy imports (pandas, scikit-learn, MLflow,
the workflow) stay inside the command functions: ``trainwright --help`` stays instant (``bench/cli_startup.py``).
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

__all__ = ["COMMAND_MODULES", "build_app"]

COMMAND_MODULES = ("train", "tune", "predict", "audit", "runs", "promote", "compare", "export", "serve", "monitor",
                   "finetune")


def _print_version(value: bool) -> None:
    if value:
        from trainwright.lineage import package_version

        print(package_version("trainwright") or "unknown")
        raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """From a labelled table to a tested, packaged, served and monitored model."""


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="trainwright", help="From a labelled table to a tested, packaged, served and monitored model.",
        no_args_is_help=True, pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
    )
    app.callback()(_root)
    for name in COMMAND_MODULES:
        importlib.import_module(f"trainwright.cli.{name}").register(app)
    return app
