"""`trainwright audit` and the audit `train` runs first, through the real command line."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.unit.hygiene.test_audit import planted
from trainwright.cli import main


@pytest.fixture(scope="module")
def planted_csv(tmp_path_factory) -> tuple[Path, dict]:
    frame, truth = planted()
    path = tmp_path_factory.mktemp("data") / "patients.csv"
    frame.to_csv(path, index=False)
    return path, truth


def test_audit_writes_html_and_json_and_fix_leaves_the_original_alone(planted_csv, capsys):
    path, truth = planted_csv
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code = main(["audit", str(path), "--target", "diagnosis", "--fix", "--output-dir", "reports"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert Path("reports/patients.audit.html").stat().st_size > 50_000
    report = json.loads(Path("reports/patients.audit.json").read_text())
    codes = {f["code"] for f in report["data"]["audit"]["findings"]}
    assert {"duplicates.exact", "duplicates.conflicting", "leakage.single_column", "column.identifier",
            "labels.suspect"} <= codes
    assert "exact duplicate rows" in out and "Cleaned file" in out
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    cleaned = pd.read_csv(path.with_name("patients.clean.csv"))
    assert "patient_id" not in cleaned.columns and len(cleaned) == len(pd.read_csv(path)) - len(truth["dups"])
    changes = json.loads(path.with_name("patients.clean.changes.json").read_text())
    assert changes["source"] == str(path) and changes["rows_after"] == len(cleaned)


def test_audit_of_a_regression_target(data_path, capsys):
    code = main(["audit", str(data_path("diabetes")), "--target", "progression", "-o", "out"])
    assert code == 0, capsys.readouterr()
    data = json.loads(Path("out/diabetes.audit.json").read_text())
    assert data["data"]["audit"]["task"] == "regression"
    assert any("label noise: only for classification" in s for s in data["data"]["audit"]["skipped"])


def test_audit_bad_input_is_one_clear_message_and_exit_2(data_path):
    run = subprocess.run([sys.executable, "-m", "trainwright", "audit", str(data_path("iris")), "--target", "specis"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "specis" in run.stderr and "species" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "trainwright", "audit", str(data_path("iris")), "--target", "species",
                          "--time-column", "when"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "when" in run.stderr and "Traceback" not in run.stderr


def test_train_refuses_a_target_copy_unless_forced(data_path, tmp_path, capsys):
    df = pd.read_csv(data_path("iris"))
    df["species_code"] = df["species"].map({"setosa": 0, "versicolor": 1, "virginica": 2})
    path = tmp_path / "iris_leaky.csv"
    df.to_csv(path, index=False)
    args = ["train", str(path), "--target", "species", "--preset", "quick", "--models", "dummy,linear", "--no-tracking"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "leakage.target_copy" in err and "species_code" in err and "--force" in err
    assert not Path("runs").exists() or not any(Path("runs").iterdir())
    assert main([*args, "--force"]) == 0
    out = capsys.readouterr().out
    assert "blocking" in out and "Report:" in out
    run_dir = next(Path("runs").iterdir())
    assert {"report.html", "report.md", "report.json"} <= {p.name for p in run_dir.iterdir()}


def test_fix_that_would_remove_many_rows_needs_the_flag(data_path, tmp_path, capsys):
    credit = pd.read_csv(data_path("credit_data"))
    many = pd.concat([credit, credit.sample(int(0.06 * len(credit)), random_state=0)], ignore_index=True)
    path = tmp_path / "credit_many.csv"
    many.to_csv(path, index=False)
    args = ["audit", str(path), "--target", "Status", "--fix", "-o", str(tmp_path / "reports")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--allow-drop-rows" in err and "Traceback" not in err and not path.with_name("credit_many.clean.csv").exists()
    assert main([*args, "--allow-drop-rows"]) == 0
    out = capsys.readouterr().out
    assert f"{len(many) - len(many.drop_duplicates())} removed" in out
