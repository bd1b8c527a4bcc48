"""Run the real ``trainwright`` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXE = ROOT / ".venv" / "bin" / "trainwright"


def run_cli(*args: object, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``trainwright ARGS`` in ``cwd``, output piped as in a CI log (no COLUMNS: the CLI's own width for piped output
    applies); no MLflow store."""
    command = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "trainwright"]
    env = {**{k: v for k, v in os.environ.items() if k != "COLUMNS"}, "TRAINWRIGHT_TRACKING": "0",
           "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([*command, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Non-zero exit with the class's code, one clean message (no traceback) that contains every needle."""
    assert proc.returncode == code, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    text = " ".join((proc.stderr + proc.stdout).split())  # rich may wrap long lines
    assert sum(line.startswith("error:") for line in proc.stderr.splitlines()) == 1, proc.stderr  # one message
    for needle in needles:
        assert needle in text, (needle, text)
    return text
