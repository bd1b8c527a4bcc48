"""The examples run as a user runs them, and print what they promise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_example(tmp_path: Path) -> None:
    env = {**os.environ, "TRAINWRIGHT_TRACKING": "0", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "task: binary" in out and "metric: roc_auc" in out
    assert re.search(r"^\s*dummy\s+0\.5", out, re.M)  # the baseline row comes first, at chance
    score = re.search(r"test roc_auc: ([\d.]+) on (\d+) rows", out)
    assert score and 0.7 < float(score.group(1)) <= 1.0
    bundle = Path(re.search(r"model bundle: (\S+)", out).group(1))  # type: ignore[union-attr]
    assert (tmp_path / bundle / "manifest.json").is_file()
    assert "proba_survived" in out
    assert len(pd.read_csv(tmp_path / bundle.parent / "leaderboard.csv")) >= 2
