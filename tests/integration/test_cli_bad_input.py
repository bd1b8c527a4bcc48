"""Bad input at the door, through the real CLI: exit code 2 (or the class's code), the column/file and a fix named,
no traceback. And ``predict`` with missing, mistyped and extra columns; its output is written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dataset_path
from tests.integration.cli import assert_clean_failure, run_cli


@pytest.fixture
def penguins() -> pd.DataFrame:
    return pd.read_csv(dataset_path("penguins"))


def _train(tmp_path: Path, data: Path, target: str, *extra: str):
    return run_cli("train", data, "--target", target, "--preset", "quick", "--models", "dummy", *extra, cwd=tmp_path)


def test_file_missing(tmp_path: Path) -> None:
    proc = _train(tmp_path, tmp_path / "nowhere.csv", "y")
    assert_clean_failure(proc, 2, "data file not found", "nowhere.csv", "check the path")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    assert_clean_failure(_train(tmp_path, tmp_path / "empty.csv", "y"), 2, "empty.csv", "empty", "->")


@pytest.mark.parametrize(("name", "content"), [("sheet.csv", b"PK\x03\x04\x00\x00binary\x00junk" * 50),
                                               ("broken.parquet", b"PAR1 not really parquet")])
def test_unparsable_file(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    assert_clean_failure(_train(tmp_path, tmp_path / name, "y"), 2, f"cannot read {tmp_path / name}", "->")


def test_target_absent_lists_close_names(tmp_path: Path) -> None:
    proc = _train(tmp_path, dataset_path("penguins"), "specie")
    assert_clean_failure(proc, 2, "target.absent", "[specie]", "did you mean 'species'?")


def test_target_all_missing(tmp_path: Path, penguins: pd.DataFrame) -> None:
    penguins.assign(species=np.nan).to_csv(tmp_path / "p.csv", index=False)
    assert_clean_failure(_train(tmp_path, tmp_path / "p.csv", "species"), 2, "target.all_missing", "[species]",
                         "choose the column that holds the labels")


def test_one_class_only(tmp_path: Path, penguins: pd.DataFrame) -> None:
    penguins.assign(species="Adelie").to_csv(tmp_path / "p.csv", index=False)
    assert_clean_failure(_train(tmp_path, tmp_path / "p.csv", "species"), 2, "target.one_class", "[species]",
                         "at least two different target values")


def test_class_too_rare_refused_then_dropped_with_force(tmp_path: Path, penguins: pd.DataFrame) -> None:
    penguins.loc[[0, 1], "species"] = "Emperor"
    penguins.to_csv(tmp_path / "p.csv", index=False)
    assert_clean_failure(_train(tmp_path, tmp_path / "p.csv", "species"), 2, "target.rare_class", "[species]",
                         "'Emperor' has 2 row(s)", "--force")
    forced = _train(tmp_path, tmp_path / "p.csv", "species", "--force")
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert "dropped 2 rows of classes too rare to split: Emperor" in " ".join(forced.stdout.split())


def test_rows_with_missing_target_dropped_and_counted(tmp_path: Path, penguins: pd.DataFrame) -> None:
    penguins.loc[[3, 50, 100], "species"] = np.nan
    penguins.to_csv(tmp_path / "p.csv", index=False)
    proc = _train(tmp_path, tmp_path / "p.csv", "species")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "note: dropped 3 rows whose target 'species' is missing" in " ".join(proc.stdout.split())


def test_every_problem_at_once(tmp_path: Path) -> None:
    proc = run_cli("train", dataset_path("penguins"), "--target", "specie", "--group-column", "islnd", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    text = " ".join(proc.stderr.split())
    assert "[specie]" in text and "[islnd]" in text and "did you mean 'island'?" in text


def test_unknown_config_key_suggests_nearest(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text("target: species\npreest: quick\n", encoding="utf-8")
    proc = run_cli("train", dataset_path("penguins"), "--config", tmp_path / "run.yaml", cwd=tmp_path)
    assert_clean_failure(proc, 2, "unknown key 'preest'", "did you mean 'preset'?")


def test_split_fractions_out_of_range_refused(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text("split:\n  train: 0.4\n  validation: 0.3\n  test: 0.3\n", encoding="utf-8")
    proc = run_cli("train", dataset_path("penguins"), "--target", "species", "--config", tmp_path / "run.yaml",
                   cwd=tmp_path)
    assert_clean_failure(proc, 2, "train=0.4", "split.force")


# --- predict ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def titanic_csv(tmp_path: Path) -> pd.DataFrame:
    return pd.read_csv(dataset_path("titanic"))


def test_predict_missing_columns_all_listed(tmp_path: Path, titanic_bundle: Path, titanic_csv: pd.DataFrame) -> None:
    titanic_csv.drop(columns=["age", "sex", "survived"]).to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("predict", titanic_bundle, tmp_path / "new.csv", "-o", tmp_path / "out.csv", cwd=tmp_path)
    text = assert_clean_failure(proc, 2, "schema.missing_column", "[age]", "[sex]", "add the column")
    assert "[pclass]" not in text
    assert not (tmp_path / "out.csv").exists()


def test_predict_mistyped_column_names_column_and_values(tmp_path: Path, titanic_bundle: Path,
                                                         titanic_csv: pd.DataFrame) -> None:
    frame = titanic_csv.astype({"age": object})
    frame.loc[[5, 6], "age"] = ["twenty", "n/a yet"]
    frame.to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("predict", titanic_bundle, tmp_path / "new.csv", "-o", tmp_path / "out.csv", cwd=tmp_path)
    assert_clean_failure(proc, 2, "schema.bad_value", "[age]", "2 values are not numbers", "twenty", "n/a yet",
                         "send numbers or leave the value empty")


def test_predict_extra_columns_ignored_with_warning(tmp_path: Path, titanic_bundle: Path,
                                                    titanic_csv: pd.DataFrame) -> None:
    titanic_csv.assign(ticket="A/5", deck="C").to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("predict", titanic_bundle, tmp_path / "new.csv", "-o", tmp_path / "out.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "ticket, deck" in warnings[0]
    assert len(pd.read_csv(tmp_path / "out.csv")) == len(titanic_csv)


def test_predict_output_is_atomic(tmp_path: Path, titanic_bundle: Path, titanic_csv: pd.DataFrame) -> None:
    frame = titanic_csv.astype({"age": object})
    frame.loc[len(frame) - 1, "age"] = "old"  # the very last row: earlier chunks are scored before it fails
    frame.to_csv(tmp_path / "new.csv", index=False)
    previous = tmp_path / "scored.csv"
    previous.write_text("yesterday's predictions\n")
    proc = run_cli("predict", titanic_bundle, tmp_path / "new.csv", "-o", previous, "--chunksize", "100", cwd=tmp_path)
    assert_clean_failure(proc, 2, "[age]", "old")
    assert previous.read_text() == "yesterday's predictions\n"
    proc = run_cli("predict", titanic_bundle, tmp_path / "new.csv", "-o", tmp_path / "fresh.parquet", "--chunksize", "100",
                   cwd=tmp_path)
    assert proc.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "scored.csv"]  # no partial or temporary file


def test_predict_with_a_missing_bundle(tmp_path: Path) -> None:
    (tmp_path / "new.csv").write_text("a\n1\n")
    proc = run_cli("predict", tmp_path / "no-model", tmp_path / "new.csv", "-o", tmp_path / "out.csv", cwd=tmp_path)
    assert_clean_failure(proc, 4, "no model bundle", "runs/<id>/model")


@pytest.mark.parametrize("args", [
    ("train", "nowhere.csv", "--target", "y"),
    ("audit", "nowhere.csv", "--target", "y"),
    ("predict", "no-model", "nowhere.csv", "-o", "out.csv"),
    ("monitor", "no-model", "nowhere.csv"),
])
def test_a_mistyped_path_is_refused_before_the_heavy_imports(tmp_path: Path, args: tuple[str, ...]) -> None:
    import subprocess
    import sys

    code = ("import sys; from trainwright.cli import main; rc = main(sys.argv[1:]); "
            "heavy = sorted(m for m in ('pandas', 'sklearn', 'mlflow', 'lightgbm') if m in sys.modules); "
            "print('exit', rc, 'heavy', heavy)")
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=120)
    assert "error:" in proc.stderr and ("nowhere.csv" in proc.stderr or "no-model" in proc.stderr), proc.stderr
    assert proc.stdout.split()[:2] == ["exit", "2" if args[0] in {"train", "audit"} else "4"], proc.stdout
    assert proc.stdout.strip().endswith("heavy []"), proc.stdout  # refused at once, not after seconds of imports


# --- exit codes: one table (README, trainwright.exceptions) ------------------------------------------------------------

def test_infinite_regression_target_is_bad_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)}).assign(y=lambda f: 2 * f["a"] + 1)
    frame.loc[[17, 40], "y"] = [np.inf, -np.inf]
    frame.to_csv(tmp_path / "inf.csv", index=False)
    assert_clean_failure(_train(tmp_path, tmp_path / "inf.csv", "y"), 2, "target.not_finite", "[y]", "first at row 17")


def test_every_model_excluded_is_a_config_error(tmp_path: Path) -> None:
    proc = run_cli("train", dataset_path("penguins"), "--target", "species", "--preset", "quick",
                   "--exclude", "dummy,linear,lightgbm", cwd=tmp_path)
    assert_clean_failure(proc, 2, "no model left to train", "--exclude")


def test_audit_with_a_blocking_finding_exits_2_and_says_so_last(tmp_path: Path, capsys) -> None:
    from trainwright.cli import main

    frame = pd.read_csv(dataset_path("iris"))
    frame["species_code"] = frame["species"].map({"setosa": 0, "versicolor": 1, "virginica": 2})  # a target copy
    frame.to_csv(tmp_path / "leaky.csv", index=False)
    assert main(["audit", str(tmp_path / "leaky.csv"), "--target", "species", "-o", str(tmp_path / "r")]) == 2
    captured = capsys.readouterr()
    assert "leakage.target_copy" in (tmp_path / "r" / "leaky.audit.json").read_text()  # the report is still written
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("error:") and "blocking" in last and "Traceback" not in captured.err


# --- nothing lost: outputs never overwrite an input, and bad output paths are refused before any work ---------------

def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_predict_refuses_to_overwrite_its_input(tmp_path: Path, titanic_bundle: Path,
                                                titanic_csv: pd.DataFrame) -> None:
    titanic_csv.to_csv(tmp_path / "p.csv", index=False)
    before = _sha(tmp_path / "p.csv")
    for output in ("p.csv", "./p.csv", tmp_path / "sub" / ".." / "p.csv"):
        proc = run_cli("predict", titanic_bundle, "p.csv", "-o", output, cwd=tmp_path)
        assert_clean_failure(proc, 2, "output.is_input", "is also an input of this command")
    assert _sha(tmp_path / "p.csv") == before  # byte for byte
    bundle_files = sorted((p.name, _sha(p)) for p in Path(titanic_bundle).iterdir() if p.is_file())
    proc = run_cli("predict", titanic_bundle, "p.csv", "-o", Path(titanic_bundle) / "scored.csv", cwd=tmp_path)
    assert_clean_failure(proc, 2, "output.inside_input")
    assert sorted((p.name, _sha(p)) for p in Path(titanic_bundle).iterdir() if p.is_file()) == bundle_files


@pytest.mark.parametrize(("output", "needles"), [
    ("out.xlsx", ("'.xlsx' is not a supported output format", ".csv, .parquet, .pq")),
    ("out.tsv", ("'.tsv'",)),
    ("folder", ("folder is a folder", "output.is_dir")),
    ("p.csv/out.csv", ("p.csv is a file, not a folder",)),
])
def test_predict_refuses_an_output_it_cannot_honour(tmp_path: Path, output: str, needles: tuple[str, ...]) -> None:
    (tmp_path / "p.csv").write_text("a\n1\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "model").mkdir()  # the door checks come before the bundle is read
    proc = run_cli("predict", "model", "p.csv", "-o", output, cwd=tmp_path)
    assert_clean_failure(proc, 2, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "model", "p.csv"]


@pytest.mark.parametrize("args", [
    ("monitor", "model", "new.csv", "-o", "taken"),
    ("audit", "new.csv", "--target", "y", "--output-dir", "taken"),
    ("export", "model", "-o", "taken"),
    ("export", "model", "--format", "mlflow", "-o", "full"),
    ("monitor", "model", "new.csv", "-o", "model/drift"),
    ("serve", "model", "--log", "model/requests.jsonl"),
])
def test_a_bad_output_folder_is_refused_before_the_heavy_imports(tmp_path: Path, args: tuple[str, ...]) -> None:
    import subprocess
    import sys
    import time

    (tmp_path / "new.csv").write_text("a,y\n1,2\n")
    (tmp_path / "taken").write_text("a file where a folder is wanted\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "MLmodel").write_text("an earlier export\n")
    (tmp_path / "model").mkdir()
    code = ("import sys; from trainwright.cli import main; rc = main(sys.argv[1:]); "
            "heavy = sorted(m for m in ('pandas', 'sklearn', 'mlflow', 'lightgbm') if m in sys.modules); "
            "print('exit', rc, 'heavy', heavy)")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True,
                          check=False, timeout=120)
    assert time.monotonic() - start < 10, "refused in seconds"
    assert proc.stdout.strip().splitlines()[-1] == "exit 2 heavy []", (proc.stdout, proc.stderr)
    assert args[-1] in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "taken").read_text() == "a file where a folder is wanted\n"
    assert not (tmp_path / "model" / "drift").exists()
