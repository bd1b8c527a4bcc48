"""Layer 7: the command line. ``main`` turns a user's mistake into one message and an exit code.

The exit codes are listed once, in ``trainwright.exceptions`` (and the README): 0 success, 2 usage or bad input,
3 no candidate trained, 4 bundle, 5 experiment store, 6 a gate failed, 130 interrupted, 1 anything unexpected (a
bug: its traceback is shown).
"""

from __future__ import annotations

import sys
from itertools import pairwise
from typing import Any

from trainwright.exceptions import EXIT_INTERRUPTED, EXIT_USAGE

__all__ = ["main"]


def _flag_given_a_value(exc: Any, argv: list[str]) -> str | None:
    """``--force true``: Click sees 'true' as an extra argument; name the flag instead."""
    ctx = getattr(exc, "ctx", None)
    if ctx is None or not exc.message.startswith("Got unexpected extra argument"):
        return None
    flags = {opt for p in ctx.command.params if getattr(p, "is_flag", False) for opt in p.opts}
    for before, value in pairwise(argv):
        if before in flags and f"({value}" in exc.message:
            return f"{before} is a flag and takes no value (got '{value}'): write {before} alone"
    return None


def _show_usage_error(exc: Any, argv: list[str]) -> None:
    """One line on stderr: the problem (naming the option or argument) and where to read more."""
    from typer._click.exceptions import NoArgsIsHelpError

    from trainwright.cli._console import print_usage_error

    if isinstance(exc, NoArgsIsHelpError):  # ``trainwright`` alone: the help (Typer printed it), then one line
        if exc.format_message().strip():  # Click's plain help comes back as the message instead
            print(exc.format_message(), file=sys.stderr)
        print_usage_error("missing command: choose one of the commands above")
        return
    message = " ".join((_flag_given_a_value(exc, argv) or exc.format_message()).split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    print_usage_error(message)


def main(argv: list[str] | None = None) -> int:
    from typer import Abort, TyperException

    from trainwright.cli._console import print_error
    from trainwright.cli.app import build_app
    from trainwright.exceptions import TrainwrightError

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        # Typer returns a command's ``typer.Exit`` code, and 130 for Ctrl+C (KeyboardInterrupt), instead of raising
        result = build_app()(args=args, prog_name="trainwright", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except TrainwrightError as exc:
        print_error(exc)
        code = exc.exit_code
    except TyperException as exc:  # Typer's own (vendored Click) usage errors: no traceback, one line
        _show_usage_error(exc, args)
        code = EXIT_USAGE
    except (Abort, KeyboardInterrupt):
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        print("interrupted", file=sys.stderr)
    if argv is None:
        sys.exit(code)
    return code
