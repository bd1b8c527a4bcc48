"""The Typer application. Each command lives in its own module with a ``register(app)`` function."""

from __future__ import annotations

import importlib

import typer

__all__ = ["COMMAND_MODULES", "build_app"]

COMMAND_MODULES = ("train", "predict", "audit", "runs", "promote", "compare", "export", "serve", "monitor")


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="trainwright", help="From a labelled table to a tested, packaged, served and monitored model.",
        no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"trainwright.cli.{name}").register(app)
    return app
