"""``tw.train``: an explicit signature covering every Config option; ``repr(TrainResult)`` a short summary with the
test score's bootstrap interval, which the report carries too."""

from __future__ import annotations

import inspect
import json

import trainwright as tw
from tests.conftest import dataset_path
from trainwright.config import Config


def test_train_signature_names_and_documents_every_config_option():
    params = inspect.signature(tw.train).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    missing = set(Config.model_fields) - set(params)
    assert not missing, f"add {sorted(missing)} to trainwright.train (explicit keyword and a line in its docstring)"
    doc = inspect.getdoc(tw.train)
    for name in params:
        assert f"{name}:" in doc, name
    assert {"listeners", "on_event", "tracker", "executor"} <= set(params)


def test_repr_is_a_short_summary_and_the_interval_reaches_the_report(tmp_path):
    result = tw.train(dataset_path("penguins"), target="species", preset="quick", models=("dummy", "linear"),
                      output_dir=tmp_path, tracking=False)
    text = repr(result)
    assert len(text.splitlines()) <= 7 and len(text) < 800
    assert "multiclass" in text and result.choice.chosen in text and str(result.bundle) in text
    assert f"{result.test_score:.4f}" in text and "report.html" in text
    interval = result.test_interval
    assert interval["low"] <= result.test_score <= interval["high"] or interval["metric"] == "log_loss"
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["data"]["test_interval"]["n_boot"] >= 100
    assert report["data"]["split"]["achieved"]["stratified"] is True
