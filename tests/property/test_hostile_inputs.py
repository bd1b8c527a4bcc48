"""Generated hostile inputs through ``audit``, ``train``, ``predict``, ``monitor`` and ``compare``.

Each case ends in a valid result or the documented error: one ``error:`` message, the documented exit code, no
traceback, no partial file (see ``hostile.check``). The default run is a seeded subset (``derandomize``: the same
cases every time) of 208 cases; ``pytest -m slow`` runs the full set of over 1,000.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.property.hostile import SEEDS, Table, check, configs, finite_scores, make_table, run, tables

QUICK = ("--preset", "quick", "--models", "dummy,linear", "--no-tracking")
TRAIN_CODES = {0, 2, 3}  # 3: no candidate could be trained (a documented outcome, never a traceback)


def SLOW(test: Any) -> Any:  # the full set: opt-in, and past the default per-test timeout
    return pytest.mark.slow(pytest.mark.timeout(7200)(test))


def _settings(n: int) -> Callable[[Any], Any]:
    return settings(max_examples=n, derandomize=True, database=None, deadline=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


def _both(body: Callable[..., None], strategy: Any, fast: int, full: int) -> tuple[Any, Any]:
    """The same property twice: a seeded subset for every run and the full set under the ``slow`` marker."""
    return _settings(fast)(given(strategy)(body)), SLOW(_settings(full)(given(strategy)(body)))


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hostile-") as name:
        yield Path(name)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hostile-bundle")
    data = make_table(set(), 80, 0).write(home, "clean")
    outcome = run("train", data, "--target", "y", *QUICK, "--output-dir", home / "runs")
    assert outcome.code == 0, outcome.err
    return next((home / "runs").iterdir()) / "model"


# --- train ------------------------------------------------------------------------------------------------------

def _train(table: Table) -> None:
    with _folder() as folder:
        data = table.write(folder)
        outcome = run("train", data, "--target", table.target, *QUICK, "--output-dir", folder / "runs")
        check(outcome, TRAIN_CODES, folder, context=f"train {table.defects}")
        runs = folder / "runs"
        finished = [p for p in runs.iterdir()] if runs.is_dir() else []
        if outcome.code == 0:
            assert len(finished) == 1 and (finished[0] / "run.json").is_file(), finished
            assert finite_scores(finished[0]), (table.defects, (finished[0] / "run.json").read_text())
        else:
            assert finished == [], f"a failed train left {finished}"


test_train_hostile_tables, test_train_hostile_tables_full = _both(_train, tables(), 25, 300)


# --- audit ------------------------------------------------------------------------------------------------------

def _audit(table: Table) -> None:
    with _folder() as folder:
        data = table.write(folder)
        outcome = run("audit", data, "--target", table.target, "-o", folder / "reports")
        check(outcome, {0, 2}, folder, context=f"audit {table.defects}")


test_audit_hostile_tables, test_audit_hostile_tables_full = _both(_audit, tables(), 15, 150)


# --- predict, monitor, compare against one bundle ----------------------------------------------------------------

@pytest.fixture(scope="module")
def scored(bundle: Path) -> Callable[[Table], None]:
    def body(table: Table) -> None:
        with _folder() as folder:
            data = table.write(folder)
            out = folder / "scored.csv"
            outcome = run("predict", bundle, data, "-o", out)
            check(outcome, {0, 2}, folder, outputs=(out,), context=f"predict {table.defects}")
            if outcome.code == 0:
                assert out.is_file() and out.read_text(encoding="utf-8").startswith("prediction")
    return body


@given(tables(max_defects=3, n_rows=(1, 40)))
@_settings(100)
def test_predict_hostile_tables(scored: Callable[[Table], None], table: Table) -> None:
    scored(table)


@SLOW
@given(tables(max_defects=3, n_rows=(1, 40)))
@_settings(300)
def test_predict_hostile_tables_full(scored: Callable[[Table], None], table: Table) -> None:
    scored(table)


@pytest.fixture(scope="module")
def monitored(bundle: Path) -> Callable[[Table], None]:
    def body(table: Table) -> None:
        with _folder() as folder:
            data = table.write(folder)
            outcome = run("monitor", bundle, data, "-o", folder / "drift")
            check(outcome, {0, 2, 6}, folder, context=f"monitor {table.defects}")
            if outcome.code in {0, 6}:
                assert json.loads((folder / "drift" / "drift.json").read_text(encoding="utf-8"))
    return body


@given(tables(n_rows=(5, 40)))
@_settings(25)
def test_monitor_hostile_tables(monitored: Callable[[Table], None], table: Table) -> None:
    monitored(table)


@SLOW
@given(tables(n_rows=(5, 40)))
@_settings(150)
def test_monitor_hostile_tables_full(monitored: Callable[[Table], None], table: Table) -> None:
    monitored(table)


def _compare(bundle: Path, table: Table) -> None:
    with _folder() as folder:
        data = table.write(folder)
        outcome = run("compare", bundle, bundle, data, "--n-boot", "100")
        check(outcome, {0, 2, 6}, folder, context=f"compare {table.defects}")


@given(tables(max_defects=2))
@_settings(3)
def test_compare_hostile_tables(bundle: Path, table: Table) -> None:
    _compare(bundle, table)


@SLOW
@given(tables(max_defects=2))
@_settings(60)
def test_compare_hostile_tables_full(bundle: Path, table: Table) -> None:
    _compare(bundle, table)


# --- configs and seeds ------------------------------------------------------------------------------------------

def _config(case: tuple[bytes, dict[str, Any]]) -> None:
    content, _values = case
    with _folder() as folder:
        data = make_table(set(), 40, 1).write(folder)
        config = folder / "run.yaml"
        config.write_bytes(content)
        outcome = run("train", data, "--target", "y", "--config", config, "--no-tracking", "--output-dir",
                      folder / "runs")
        check(outcome, TRAIN_CODES, folder, context=f"config {content!r}")
        if "'modles'" in outcome.err:
            assert "models" in outcome.err, outcome.err  # the unknown key and the nearest valid one


test_config_hostile, test_config_hostile_full = _both(_config, configs(), 20, 150)


def _seed(case: tuple[Any, str]) -> None:
    seed, command = case
    with _folder() as folder:
        data = make_table(set(), 40, 2).write(folder)
        if command == "train":
            outcome = run("train", data, "--target", "y", *QUICK, "--seed", seed, "--output-dir", folder / "runs")
        else:
            outcome = run("audit", data, "--target", "y", "--seed", seed, "-o", folder / "reports")
        check(outcome, {0, 2}, folder, context=f"{command} --seed {seed!r}")
        if isinstance(seed, int) and not 0 <= seed < 2**32:
            assert outcome.code == 2 and "seed" in outcome.err, outcome.err


test_seed_hostile, test_seed_hostile_full = _both(_seed, st.tuples(SEEDS, st.sampled_from(["train", "audit"])), 20, 100)


# --- the cases a user reported, said out loud -------------------------------------------------------------------

def test_a_regression_target_of_1e308_is_refused_not_a_finished_run_with_infinite_rmse(tmp_path: Path) -> None:
    table = make_table({"regression", "huge_target"}, 40, 3)
    outcome = run("train", table.write(tmp_path), "--target", "y", *QUICK, "--output-dir", tmp_path / "runs")
    check(outcome, {2}, tmp_path)
    assert "target.too_large" in outcome.err and "rescale" in outcome.err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize(("defects", "extra", "said"), [
    ({"dup_names"}, (), "duplicate column names"),
    ({"empty_name"}, (), "without a name"),
    ({"decimal_comma", "semicolons"}, (), "decimal comma"),
    ({"mixed_dates"}, ("--time-column", "when"), "not dates"),
])
def test_data_read_differently_is_said_out_loud(tmp_path: Path, defects: set[str], extra: tuple[str, ...],
                                                said: str) -> None:
    table = make_table(defects, 40, 3)
    outcome = run("train", table.write(tmp_path), "--target", "y", *QUICK, *extra, "--output-dir", tmp_path / "runs")
    check(outcome, {0}, tmp_path)
    assert said in " ".join(outcome.err.split()), outcome.err


def test_time_column_that_holds_no_times_is_refused(tmp_path: Path) -> None:
    table = make_table(set(), 40, 3)
    outcome = run("train", table.write(tmp_path), "--target", "y", *QUICK, "--time-column", "cat")
    check(outcome, {2}, tmp_path)
    assert "split.time_not_time" in outcome.err and "[cat]" in outcome.err


@pytest.mark.parametrize("case", [
    ("config-latin1", 2), ("train-mixed-zones", 0), ("predict-inf-header-only", 0)])
def test_hostile_inputs_through_the_real_command(tmp_path: Path, bundle: Path, case: tuple[str, int]) -> None:
    """A few of the cases above as a user runs them: a real ``trainwright`` process."""
    name, code = case
    if name == "config-latin1":
        (tmp_path / "run.yaml").write_bytes(b"# r\xe9sum\xe9\nmodles: [dummy]\n")
        args = ["train", make_table(set(), 40, 1).write(tmp_path), "--target", "y", "--config", "run.yaml",
                "--no-tracking"]
    elif name == "train-mixed-zones":
        args = ["train", make_table({"mixed_dates"}, 40, 16).write(tmp_path), "--target", "y", *QUICK]
    else:
        args = ["predict", bundle, make_table({"header_only", "inf_feature"}, 0, 1).write(tmp_path), "-o", "p.csv"]
    env = {**os.environ, "TRAINWRIGHT_TRACKING": "0", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "trainwright", *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    from tests.property.hostile import Outcome

    check(Outcome(proc.returncode, proc.stdout, proc.stderr), {code}, tmp_path, context=name)


def test_a_config_split_of_the_wrong_type_is_named_with_split_flags_given(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text('split: "half"\n', encoding="utf-8")
    data = make_table(set(), 40, 1).write(tmp_path)
    outcome = run("train", data, "--target", "y", "--config", tmp_path / "run.yaml", "--time-column", "when",
                  "--no-tracking")
    check(outcome, {2}, tmp_path)
    assert "'split'" in outcome.err
