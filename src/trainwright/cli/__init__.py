"""Layer 7: the command line. ``main`` turns a user's mistake into one message and an exit code."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    import click

    from trainwright.cli._console import print_error
    from trainwright.cli.app import build_app
    from trainwright.exceptions import TrainwrightError

    app = build_app()
    try:
        result = app(args=argv, prog_name="trainwright", standalone_mode=False)
    except TrainwrightError as exc:
        print_error(exc)
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        code = 130
    else:
        code = result if isinstance(result, int) else 0
    if argv is None:
        sys.exit(code)
    return code
