"""``trainwright serve``: a REST server for a bundle, bound to 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def serve_command(
    bundle: Annotated[Path, typer.Argument(help="a model bundle: runs/<id>/model")],
    host: Annotated[str, typer.Option(help="address to bind; 0.0.0.0 exposes the server to the network")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port to listen on")] = 8000,
    api_key: Annotated[str | None, typer.Option("--api-key", help="require this key in X-API-Key (default: "
                                                "$TRAINWRIGHT_API_KEY)")] = None,
    log: Annotated[Path | None, typer.Option("--log-requests", "--log", help="append requests and predictions to "
                                             "this JSON-lines file, rotated (default: no request log)")] = None,
    log_max_bytes: Annotated[int, typer.Option("--log-max-bytes", min=1,
                                               help="rotate the request log at this size")] = 10_000_000,
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", min=1, help="larger requests get 413")] = 1_000_000,
) -> None:
    """Serve BUNDLE over HTTP: POST /predict, GET /health /metadata /metrics /drift, docs at /docs."""
    from trainwright.cli._paths import check_output_file
    from trainwright.exceptions import check_bundle_dir

    check_bundle_dir(bundle)  # before seconds of imports
    if log is not None:  # the request log is appended to: never inside the bundle, never a folder
        check_output_file(log, inputs=(bundle,))
    from trainwright.cli._console import console, err_console
    from trainwright.serving import API_KEY_ENV, ServeSettings, serve

    key = api_key or os.environ.get(API_KEY_ENV) or None
    if host not in _LOOPBACK:
        err_console.print(f"[yellow]warning:[/] binding {host}: the server is reachable from other machines"
                          + ("" if key else " and has no API key (--api-key)"), highlight=False)
    settings = ServeSettings(api_key=key, max_body_bytes=max_body_bytes, log_path=log, log_max_bytes=log_max_bytes)

    def ready(app: object) -> None:
        logged = f"request log: {log}" if log is not None else "no request log (--log-requests PATH)"
        console.print(f"serving {bundle} on http://{host}:{port} (docs: /docs; {logged})", highlight=False)

    serve(bundle, host=host, port=port, settings=settings, on_ready=ready)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
