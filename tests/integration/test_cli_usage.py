"""The command line itself: a usage error is one line and exit code 2, never a traceback; ``--version``; ``-h`` on
every command; shell completion; and ``--help`` without the heavy imports."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from tests.integration.cli import EXE, run_cli
from trainwright.cli import main
from trainwright.cli.app import build_app


def _one_error_line(err: str, *needles: str) -> str:
    """stderr is exactly one line, ``error: ...``, naming every needle; no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A data file and a folder standing in for a bundle: enough for the checks that come before any work."""
    (tmp_path / "d.csv").write_text("a,y\n1,2\n")
    (tmp_path / "B").mkdir()
    return tmp_path


@pytest.mark.parametrize(("args", "needle"), [
    (["train", "d.csv", "--bogus"], "--bogus"),
    (["train"], "'data'"),
    (["train", "d.csv", "--seed", "abc"], "--seed"),
    (["train", "d.csv", "--force", "true"], "--force"),
    (["train", "d.csv", "--time-budget"], "--time-budget"),
    (["predict", "B", "d.csv"], "--output"),
    (["predict", "B", "d.csv", "-o", "out.csv", "--chunksize", "0"], "--chunksize"),
    (["monitor", "B", "d.csv", "--threshold", "-1"], "--threshold"),
    (["monitor", "nowhere", "d.csv", "--threshold", "-1"], "--threshold"),  # before the bundle is even looked at
    (["monitor", "B", "d.csv", "--ks-pvalue", "1.5"], "--ks-pvalue"),
    (["monitor", "B", "d.csv", "--missing-rate", "nan"], "--missing-rate"),
    (["export", "B", "--format", "pdf"], "--format"),
    (["compare", "B", "B", "d.csv", "--n-boot", "5"], "--n-boot"),
    (["serve", "B", "--port", "http"], "--port"),
    (["serve", "B", "--port", "70000"], "--port"),
    (["runs", "--limit", "x"], "--limit"),
    (["runs", "show"], "'run_id'"),
    (["frobnicate"], "frobnicate"),
    (["--versoin"], "--versoin"),
])
def test_usage_error_is_one_line_and_exit_2(files: Path, capsys, args: list[str], needle: str) -> None:
    assert Path.cwd() == files  # every test runs in its own tmp_path (tests/conftest.py)
    assert main(args) == 2
    captured = capsys.readouterr()
    _one_error_line(captured.err, needle)
    assert captured.out == ""


def test_usage_errors_through_the_real_command(files: Path) -> None:
    cases = ((["train", "d.csv", "--seed", "abc"], "--seed"), (["train", "d.csv", "--force", "true"], "--force"),
             (["frobnicate"], "frobnicate"))
    for args, needle in cases:
        proc = run_cli(*args, cwd=files, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        _one_error_line(proc.stderr, needle)


def test_no_command_shows_the_help_then_one_error_line(files: Path) -> None:
    proc = run_cli(cwd=files, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Commands" in proc.stdout and "train" in proc.stdout
    _one_error_line(proc.stderr, "missing command")


def test_version_is_the_package_metadata(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == importlib.metadata.version("trainwright")


def _command_paths(command: typer.core.TyperGroup | typer.core.TyperCommand,
                   path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*path, name))


COMMANDS = list(_command_paths(typer.main.get_command(build_app())))


def test_every_registered_command_is_enumerated() -> None:
    assert {("train",), ("predict",), ("runs",), ("runs", "show")} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "trainwright")
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_on_every_command(path: tuple[str, ...], flag: str, capsys) -> None:
    assert main([*path, flag]) == 0
    captured = capsys.readouterr()
    assert "Usage:" in captured.out and " ".join(("trainwright", *path)) in captured.out
    assert captured.err == ""


def test_shell_completion_is_offered_and_works(tmp_path: Path, capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--install-completion" in out and "--show-completion" in out
    command = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "trainwright"]
    for words, cword, expected in (("trainwright mon", "1", "monitor"),
                                   ("trainwright monitor --thr", "2", "--threshold")):
        env = {**os.environ, "_TRAINWRIGHT_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
        proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0 and proc.stdout.split() == [expected], (proc.stdout, proc.stderr)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["train", "--help"], ["predict", "-h"]])
def test_help_and_version_leave_the_heavy_libraries_alone(tmp_path: Path, args: list[str]) -> None:
    code = ("import sys; from trainwright.cli import main; rc = main(sys.argv[1:]); "
            "heavy = sorted(m for m in ('numpy', 'pandas', 'sklearn', 'mlflow', 'lightgbm', 'torch', "
            "'trainwright.workflow') if m in sys.modules); print('exit', rc, 'heavy', heavy)")
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "exit 0 heavy []", (proc.stdout[-500:], proc.stderr[-2000:])


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys) -> None:
    app = typer.Typer()

    @app.command()
    def slow() -> None:
        raise KeyboardInterrupt

    @app.command()
    def other() -> None:
        """A second command, so that ``slow`` is a subcommand as in the real app."""

    monkeypatch.setattr("trainwright.cli.app.build_app", lambda: app)
    assert main(["slow"]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "interrupted" and "Traceback" not in captured.err
