"""The HTML reports (audit and run) opened in headless Chromium: no console errors, every image decodes, every
section is there, nothing is fetched from the network, and it fits a laptop screen. A screenshot is kept.

Without Chromium these tests FAIL and say how to install it (apt-get install -y chromium chromium-driver).
"""

from __future__ import annotations

import json

import pytest

import trainwright
from tests.browser import check_page, open_browser

RUN_SECTIONS = ["problem", "data", "split", "leaderboard", "choice", "evaluation", "importance", "diagnosis", "test"]
AUDIT_SECTIONS = ["summary", "findings", "target", "overview", "columns"]
LAPTOP = (1366, 768)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = open_browser(tmp_path_factory.mktemp("chromium-profile"), *LAPTOP)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory, data_path_module):
    out = tmp_path_factory.mktemp("runs")
    return trainwright.train(data_path_module("breast_cancer"), target="diagnosis", preset="quick",
                             models=("dummy", "lightgbm"), tracking=False, output_dir=str(out))


@pytest.fixture(scope="module")
def data_path_module():
    from tests.conftest import dataset_path

    return dataset_path


def test_run_report_files_and_content(binary_run):
    result = binary_run
    assert result.report_path == result.run_dir / "report.html"
    data = json.loads((result.run_dir / "report.json").read_text())
    assert [s["key"] for s in data["sections"]] == RUN_SECTIONS
    assert data["data"]["diagnosis"]["model"] == result.choice.chosen
    assert {v["code"] for v in data["data"]["diagnosis"]["verdicts"]} == {
        "overfitting", "underfitting", "unstable", "more_data", "leakage"}
    md = (result.run_dir / "report.md").read_text()
    assert "## The test-set result" in md and result.choice.chosen in md
    kinds = {f["kind"] for s in data["sections"] for f in s["figures"]}
    board = result.leaderboard.to_frame()[["model", "status", "note"]].to_dict("records")
    assert result.choice.chosen == "lightgbm", board
    missing = {"leaderboard", "confusion", "roc", "pr", "calibration", "importance", "learning_curve"} - kinds
    assert not missing, (missing, board)
    assert result.diagnosis.learning_curve is not None and result.diagnosis.learning_curve.fractions[-1] == 1.0
    methods = {i.method for i in result.report_data.importance}
    assert methods == {"permutation", "shap"}  # lightgbm is chosen: a tree model gets SHAP values


def test_run_report_in_chromium(browser, binary_run, tmp_path):
    shot = tmp_path / "run_report.png"
    seen = check_page(browser, binary_run.report_path, RUN_SECTIONS, shot)
    assert seen["n_images"] >= 8 and shot.stat().st_size > 20_000
    assert max(seen["widths"]) <= LAPTOP[0] - 64 and seen["horizontal_overflow"] <= 0
    print(f"\nrun report screenshot: {shot} ({seen})")


def test_regression_run_report_in_chromium(browser, tmp_path, data_path_module):
    result = trainwright.train(data_path_module("diabetes"), target="progression", preset="quick",
                               models=("dummy", "linear"), tracking=False, output_dir=str(tmp_path / "runs"))
    seen = check_page(browser, result.report_path, RUN_SECTIONS, tmp_path / "regression_report.png")
    kinds = {f["kind"] for s in json.loads((result.run_dir / "report.json").read_text())["sections"] for f in s["figures"]}
    assert {"predicted_vs_actual", "residuals", "importance"} <= kinds and seen["n_images"] >= 5


def test_audit_report_in_chromium(browser, tmp_path, data_path_module):
    result = trainwright.audit(data_path_module("titanic"), "survived", output_dir=tmp_path / "reports")
    shot = tmp_path / "audit_report.png"
    seen = check_page(browser, result.files["html"], AUDIT_SECTIONS, shot)
    assert seen["n_images"] >= 8 and seen["horizontal_overflow"] <= 0
    print(f"\naudit report screenshot: {shot} ({seen})")


def test_without_a_browser_the_tests_fail_and_say_how_to_install_one(monkeypatch):
    import tests.browser as browser_module

    monkeypatch.setattr(browser_module, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(browser_module, "CHROMEDRIVER", "/nonexistent/chromedriver")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium chromium-driver"):
        browser_module.browser_paths()


def _scroll_to(browser, element_id: str, screenshot) -> None:
    browser.execute_script(f"document.getElementById('{element_id}').scrollIntoView()")
    assert browser.save_screenshot(str(screenshot))


def test_ten_class_curves_and_residuals_by_feature_in_chromium(browser, tmp_path, data_path_module):
    """digits (10 classes): ROC, PR and calibration with 8 one-vs-rest curves and the micro/macro averages;
    vega_cars: residuals against the most important features; both with the test score's bootstrap interval."""
    digits = trainwright.train(data_path_module("digits"), target="digit", preset="quick", models=("dummy", "linear"),
                               tracking=False, output_dir=str(tmp_path / "digits"))
    seen = check_page(browser, digits.report_path, RUN_SECTIONS, tmp_path / "digits_report.png")
    _scroll_to(browser, "evaluation", tmp_path / "digits_evaluation.png")
    data = json.loads((digits.run_dir / "report.json").read_text())
    figures = {f["kind"]: f for s in data["sections"] for f in s["figures"]}
    assert {"roc", "pr", "calibration"} <= set(figures) and seen["horizontal_overflow"] <= 0
    assert len(figures["roc"]["data"]["curves"]) == 10 and "macro average" in figures["roc"]["data"]["curves"]
    assert "bootstrap interval" in (digits.run_dir / "report.md").read_text()
    cars = trainwright.train(data_path_module("vega_cars"), target="Miles_per_Gallon", preset="quick",
                             models=("dummy", "linear"), tracking=False, output_dir=str(tmp_path / "cars"))
    seen = check_page(browser, cars.report_path, RUN_SECTIONS, tmp_path / "cars_report.png")
    _scroll_to(browser, "evaluation", tmp_path / "cars_evaluation.png")
    kinds = {f["kind"] for s in json.loads((cars.run_dir / "report.json").read_text())["sections"] for f in s["figures"]}
    assert "residuals_by_feature" in kinds and seen["horizontal_overflow"] <= 0
    print(f"\nscreenshots: {tmp_path}")
