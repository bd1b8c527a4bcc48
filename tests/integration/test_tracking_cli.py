"""The engineer's log through the real CLI: a real SQLite MLflow store, real processes, real models."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.cli import main

TRAIN = ("--preset", "quick", "--seed", "0")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TRAINWRIGHT_TRACKING", "MLFLOW_TRACKING_URI"}}
    return {**env, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "200", **extra}


def spawn(args: list[str], cwd: Path, **kwargs: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trainwright", *args], cwd=cwd, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def run_cli(capsys, monkeypatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("COLUMNS", "200")
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- two processes at once, on one fresh store: both land, and agree to the last digit -----------------------

@pytest.fixture(scope="module")
def concurrent(tmp_path_factory):
    home = tmp_path_factory.mktemp("concurrent")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    args = ["train", str(dataset_path("iris")), "--target", "species", *TRAIN, "--models", "dummy,linear,lightgbm",
            "--tracking-uri", uri]
    procs = [spawn([*args, "--output-dir", str(home / name)], home) for name in ("runs_a", "runs_b")]
    outputs = [p.communicate(timeout=280) for p in procs]
    return home, uri, [p.returncode for p in procs], outputs


def test_two_train_processes_writing_one_fresh_sqlite_store_both_land_complete(concurrent):
    from trainwright.tracking import Store

    home, uri, codes, outputs = concurrent
    assert codes == [0, 0], outputs
    store = Store(uri).open(create=False)
    parents = store.client.search_runs([store.experiment_id], "tags.`trainwright.kind` = 'parent'")
    assert len(parents) == 2
    for parent in parents:
        assert parent.info.status == "FINISHED" and parent.data.tags["trainwright.model_uri"].startswith("models:/")
        children = store.client.search_runs([store.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        assert sorted(c.data.tags["model"] for c in children) == ["dummy", "lightgbm", "linear"]
        assert all(c.info.status == "FINISHED" and "val_log_loss" in c.data.metrics for c in children)
    assert {p.data.tags["trainwright.run_id"] for p in parents} == {d.name for d in home.glob("runs_*/*")}


def test_same_data_and_config_give_the_same_leaderboard_to_the_last_digit_in_two_processes(concurrent):
    home, _, codes, _ = concurrent
    assert codes == [0, 0]
    boards, tests = [], []
    for name in ("runs_a", "runs_b"):
        (run,) = (home / name).iterdir()
        # read as text: equal strings are equal to the last printed digit
        boards.append(pd.read_csv(run / "leaderboard.csv", dtype=str).drop(columns=["fit_s", "predict_ms_per_1k"]))
        tests.append(json.loads((run / "run.json").read_text())["test_scores"])
    pd.testing.assert_frame_equal(boards[0], boards[1], check_exact=True)
    assert tests[0] == tests[1]
    assert set(boards[0]["model"]) == {"dummy", "linear", "lightgbm"} and boards[0]["cv_mean"].notna().sum() >= 2


# --- a store that cannot be used: one error, exit code 5, no traceback, nothing trained ------------------------

def test_read_only_store_directory_fails_before_training_with_one_clear_error():
    top = Path(tempfile.mkdtemp(prefix="trainwright-ro-"))
    try:
        store_dir, work = top / "store", top / "work"
        store_dir.mkdir()
        work.mkdir()
        os.chmod(top, 0o755)
        os.chmod(work, 0o777)
        os.chmod(store_dir, 0o555)
        # root writes through chmod 555: run the CLI as an unprivileged user so the directory really is read-only
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        start = time.monotonic()
        proc = subprocess.run([*prefix, sys.executable, "-m", "trainwright", "train", str(dataset_path("iris")),
                               "--target", "species", *TRAIN, "--tracking-uri", f"sqlite:///{store_dir / 'mlflow.db'}"],
                              cwd=work, env=cli_env(HOME=str(work)), capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - start
        assert proc.returncode == 5, proc.stderr
        assert "not writable" in proc.stderr and str(store_dir) in proc.stderr and "--no-tracking" in proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
        assert not (work / "runs").exists() and list(store_dir.iterdir()) == []
        assert elapsed < 60
    finally:
        os.chmod(top / "store", 0o755)
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.parametrize("uri", ["nosuchscheme://nowhere/x", "sqlite:////proc/mlflow.db"])
def test_bad_tracking_uri_is_exit_code_5_without_traceback_and_nothing_trained(capsys, monkeypatch, tracking_on, uri):
    from trainwright.exceptions import TrackingError

    code, out = run_cli(capsys, monkeypatch, "train", str(dataset_path("iris")), "--target", "species", *TRAIN,
                        "--tracking-uri", uri)
    assert code == TrackingError.exit_code == 5
    assert out.count("error:") == 1 and uri in out and "Traceback" not in out
    assert not Path("runs").exists()


# --- seeds -----------------------------------------------------------------------------------------------------

def test_seeds_3_reports_mean_and_std_and_chooses_on_them(capsys, monkeypatch, tracking_on):
    code, out = run_cli(capsys, monkeypatch, "train", str(dataset_path("iris")), "--target", "species", *TRAIN,
                        "--models", "dummy,linear", "--seeds", "3", "--no-tracking")
    assert code == 0, out
    assert "seeds: linear log_loss" in out and "±" in out and "3 seeds x 3 folds" in out
    (run,) = Path("runs").iterdir()
    board = pd.read_csv(run / "leaderboard.csv").set_index("model")
    assert board.loc["linear", "seed_std"] > 0 and board.loc["linear", "seed_mean"] > 0
    assert "mean over seeds" in json.loads((run / "run.json").read_text())["reason"]
    assert not Path("mlflow.db").exists()


# --- runs, promote, compare ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def champion_store(tmp_path_factory):
    """Three titanic runs in one store: lightgbm (seed 0), dummy only, lightgbm (seed 1). Trained through the
    workflow with its default tracker (the CLI's train path is covered above; this skips its report)."""
    from trainwright.workflow import train

    home = tmp_path_factory.mktemp("champion")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    data = str(dataset_path("titanic"))
    ids = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        mp.delenv("TRAINWRIGHT_TRACKING", raising=False)
        for name, models, seed in (("lightgbm", ("lightgbm",), 0), ("dummy", ("dummy",), 0),
                                   ("lightgbm_seed1", ("lightgbm",), 1)):
            result = train(data, target="survived", preset="quick", models=models, seed=seed, tracking_uri=uri,
                           output_dir=str(home / name), cv_folds=2)
            ids[name] = result.run_id
    return home, uri, data, ids


def test_runs_lists_every_train_run_and_shows_one(champion_store, capsys, monkeypatch):
    _, uri, _, ids = champion_store
    code, out = run_cli(capsys, monkeypatch, "runs", "--tracking-uri", uri)
    assert code == 0 and all(run_id in out for run_id in ids.values())
    assert "titanic" in out and "binary" in out and "FINISHED" in out
    code, out = run_cli(capsys, monkeypatch, "runs", "show", ids["lightgbm"], "--tracking-uri", uri)
    assert code == 0 and "chosen: lightgbm" in out and "file_sha256" in out and "test: " in out
    assert "95% bootstrap interval [" in out and "_ci_" not in out
    from trainwright.tracking import Store
    from trainwright.tracking.registry import find_run

    run = find_run(Store(uri).open(create=False), ids["lightgbm"])  # the training data as an mlflow.data input
    (given,) = run.inputs.dataset_inputs
    assert given.dataset.name == "titanic" and given.dataset.source_type == "local"
    assert run.data.tags["file_sha256"].startswith(given.dataset.digest) and '"name": "age"' in given.dataset.schema
    assert {t.key: t.value for t in given.tags}["trainwright.file_sha256"] == run.data.tags["file_sha256"]
    # the logged model carries the bundle's schema as its signature, and MLflow's serving check accepts requests
    import warnings

    import mlflow
    from mlflow.models import validate_serving_input

    mlflow.set_tracking_uri(uri)
    info = mlflow.models.get_model_info(run.data.tags["trainwright.model_uri"])
    inputs = {c["name"]: c for c in info.signature.inputs.to_dict()}
    assert set(inputs) == {"pclass", "sex", "age", "sibsp", "parch"} and inputs["age"]["required"] is False
    assert info.saved_input_example_info is not None
    request = '{"dataframe_records": [{"pclass": "3rd", "sex": "male", "age": 30, "sibsp": 1, "parch": 0}, ' \
              '{"pclass": "1st", "sex": "female", "age": null, "sibsp": 0, "parch": 2}]}'
    with warnings.catch_warnings():  # deprecated in 3.13 for mlflow.models.predict, which needs a fresh environment
        warnings.simplefilter("ignore", FutureWarning)
        out = validate_serving_input(run.data.tags["trainwright.model_uri"], request)
    assert len(out) == 2 and "proba_survived" in out.columns
    code, out = run_cli(capsys, monkeypatch, "runs", "show", "no-such-run", "--tracking-uri", uri)
    assert code == 5 and "no run 'no-such-run'" in out and "Traceback" not in out


def test_promote_then_compare_against_champion_gates_a_worse_challenger(champion_store, capsys, monkeypatch):
    from trainwright.exceptions import GateFailed

    _, uri, data, ids = champion_store
    code, out = run_cli(capsys, monkeypatch, "promote", ids["lightgbm"], "--tracking-uri", uri)
    assert code == 0 and "titanic version" in out and "is now the champion" in out
    assert "Registered model 'titanic' (name from the run's dataset name)" in out
    holdout = Path(data).read_bytes()  # the champion is found by its registered name, not by the data file's name
    (Path.cwd() / "holdout.csv").write_bytes(holdout)
    code, out = run_cli(capsys, monkeypatch, "compare", ids["dummy"], "champion", str(Path.cwd() / "holdout.csv"),
                        "--tracking-uri", uri, "--n-boot", "300")
    assert code == GateFailed.exit_code == 6, out
    assert "verdict: worse" in out and "significantly worse" in out and "Traceback" not in out


def test_compare_passes_when_there_is_no_significant_difference(champion_store, capsys, monkeypatch):
    home, uri, data, ids = champion_store
    assert main(["promote", ids["lightgbm"], "--tracking-uri", uri]) == 0
    capsys.readouterr()
    code, out = run_cli(capsys, monkeypatch, "compare", ids["lightgbm_seed1"], "champion", data, "--tracking-uri", uri,
                        "--slice-column", "sex", "--n-boot", "300")
    assert code == 0, out
    # the data is the whole file, training rows included: the two seeds' models may differ either way, but the gate
    # only fails a significantly worse challenger
    assert ("verdict: no significant difference" in out or "verdict: better" in out) and "McNemar" in out
    assert "By sex" in out and "female" in out and "male" in out
    # a bundle directory works the same as a run id; a model compared with itself differs by exactly zero
    bundle = home / "lightgbm" / ids["lightgbm"] / "model"
    code, out = run_cli(capsys, monkeypatch, "compare", str(bundle), "champion", data, "--tracking-uri", uri,
                        "--n-boot", "100")
    assert code == 0 and "difference +0.0000" in out


# --- the UI ----------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.mark.slow
def test_ui_serves_the_same_store_on_127_0_0_1_only(champion_store):
    home, uri, _, _ = champion_store
    port = _free_port()
    proc = spawn(["ui", "--port", str(port), "--tracking-uri", uri], home, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
                time.sleep(0.5)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        url = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search?max_results=10"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert "trainwright" in response.read().decode()
        _the_printed_link_opens_trainwrights_experiment(proc, port, home)
    finally:
        os.killpg(proc.pid, 15)
        proc.communicate(timeout=30)


def _the_printed_link_opens_trainwrights_experiment(proc: subprocess.Popen, port: int, home: Path) -> None:
    """The link ``ui`` prints names trainwright's experiment, and a real browser on it lists that store's runs."""
    import re

    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import open_browser

    link = re.search(r"http://127\.0\.0\.1:\d+/#/experiments/(\d+)/runs", proc.stdout.readline())
    assert link, "ui printed no link to an experiment"
    url = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=trainwright"
    with urllib.request.urlopen(url, timeout=10) as response:
        experiment = json.loads(response.read())["experiment"]
    assert experiment["experiment_id"] == link.group(1)
    assert {"key": "mlflow.experimentKind", "value": "custom_model_development"} in experiment["tags"]
    runs_url = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/runs/search"
    request = urllib.request.Request(runs_url, data=json.dumps({"experiment_ids": [link.group(1)]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        names = {r["info"]["run_name"] for r in json.loads(response.read())["runs"]
                 if not any(t["key"] == "mlflow.parentRunId" for t in r["data"].get("tags", []))}
    assert names
    driver = open_browser(home / "chromium-ui")
    try:
        driver.get(link.group(0))
        WebDriverWait(driver, 60).until(lambda d: any(name in d.page_source for name in names))
    finally:
        driver.quit()
