"""`trainwright monitor`: exit 0 on the training distribution, exit 6 (GateFailed) on drifted data; reports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.bundles import titanic_path
from trainwright.cli import main
from trainwright.exceptions import GateFailed


@pytest.fixture(scope="module")
def frames(lightgbm_bundle):
    frame = pd.read_csv(titanic_path())
    train_rows = json.loads((Path(lightgbm_bundle) / "split.json").read_text())["rows"]["train"]
    clean = frame.loc[train_rows].sample(600, replace=True, random_state=5)  # a fresh draw of the training rows
    drifted = clean.assign(age=clean["age"] * 1.8 + 10, sex=clean["sex"].where(clean.index % 4 != 0, "unknown"))
    return clean, drifted


def test_clean_data_exits_zero_with_reports(lightgbm_bundle, frames, tmp_path, capsys):
    clean, _ = frames
    clean.to_csv(tmp_path / "clean.csv", index=False)
    code = main(["monitor", str(lightgbm_bundle), str(tmp_path / "clean.csv"), "-o", str(tmp_path / "report")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no drift above the thresholds" in out
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    assert report["drifted"] is False and report["n_rows"] == 600
    assert {c["name"] for c in report["columns"]} == {"pclass", "sex", "age", "sibsp", "parch"}
    assert report["metric"]["metric"] == "roc_auc" and not report["metric"]["degraded"]
    page = (tmp_path / "report" / "drift.html").read_text()
    assert page.count("data:image/png;base64,") == 6 and "<script" not in page and "http" not in page.split("<body>")[1]


def test_drifted_data_exits_with_gate_failure(lightgbm_bundle, frames, tmp_path, capsys):
    _, drifted = frames
    drifted.drop(columns=["survived"]).to_csv(tmp_path / "new.csv", index=False)  # unlabelled
    code = main(["monitor", str(lightgbm_bundle), str(tmp_path / "new.csv"), "-o", str(tmp_path / "report")])
    captured = capsys.readouterr()
    assert code == GateFailed.exit_code == 6
    assert "drift detected" in captured.err and "[age]" in captured.err and "never seen" in captured.err
    assert "Traceback" not in captured.err
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    assert set(report["drifted_columns"]) == {"age", "sex"} and report["metric"] is None
    assert report["prediction"]["drifted"]


def test_threshold_is_configurable(lightgbm_bundle, frames, tmp_path):
    _, drifted = frames
    mild = drifted.assign(sex=frames[0]["sex"], age=frames[0]["age"] + 1.0)
    mild.to_csv(tmp_path / "mild.csv", index=False)
    args = ["monitor", str(lightgbm_bundle), str(tmp_path / "mild.csv"), "-o", str(tmp_path / "r")]
    assert main(args) == 0
    assert main([*args, "--threshold", "0.001", "--ks-pvalue", "0.9"]) == 6


def test_bad_input_is_a_clear_error(lightgbm_bundle, tmp_path, capsys):
    pd.DataFrame({"pclass": ["1st"], "sex": ["male"]}).to_csv(tmp_path / "thin.csv", index=False)
    assert main(["monitor", str(lightgbm_bundle), str(tmp_path / "thin.csv")]) == 2
    err = capsys.readouterr().err
    assert "age" in err and "Traceback" not in err
    assert main(["monitor", str(tmp_path / "nope"), str(tmp_path / "thin.csv")]) == 4
