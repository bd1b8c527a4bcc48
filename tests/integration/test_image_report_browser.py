"""The image pages of the audit and run reports opened in headless Chromium: the thumbnails per class, the worst
mistakes and a network's per-epoch curves decode as images, nothing reaches the network, and the pages fit a
laptop screen. Without Chromium these tests FAIL and say how to install it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import trainwright
from tests.browser import check_page, open_browser
from tests.integration.test_images import CLASSES, write_shapes

LAPTOP = (1366, 768)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = open_browser(tmp_path_factory.mktemp("chromium-profile"), *LAPTOP)
    yield driver
    driver.quit()


def _figures(report: Path, key: str) -> list[dict]:
    sections = json.loads(report.with_suffix(".json").read_text())["sections"]
    return next(s for s in sections if s["key"] == key)["figures"]


def test_image_audit_report_in_chromium(browser, tmp_path: Path) -> None:
    images = write_shapes(tmp_path / "imgs", 6, colour_class="ring")
    result = trainwright.audit(images, "label", output_dir=tmp_path / "reports")
    seen = check_page(browser, result.files["html"], ["summary", "findings", "target", "images"],
                      tmp_path / "image_audit.png")
    assert seen["horizontal_overflow"] <= 0 and max(seen["widths"]) <= LAPTOP[0] - 64
    (grid,) = _figures(result.files["html"], "images")
    assert [row["label"] for row in grid["data"]["rows"]] == list(CLASSES)
    print(f"\nimage audit screenshot: {tmp_path / 'image_audit.png'} ({seen})")


def test_image_run_report_shows_examples_mistakes_and_epoch_curves_in_chromium(browser, tmp_path: Path) -> None:
    """The dummy model gets two classes of three wrong: its worst mistakes are drawn; the CNN run draws its
    per-epoch curves."""
    images = write_shapes(tmp_path / "imgs", 8)
    dummy = trainwright.train(images, "label", preset="quick", models=("dummy",), tracking=False,
                              output_dir=str(tmp_path / "dummy"))
    seen = check_page(browser, dummy.report_path, ["evaluation", "images"], tmp_path / "image_run.png")
    assert seen["horizontal_overflow"] <= 0
    examples, mistakes = _figures(dummy.report_path, "images")
    assert examples["title"] == "Examples per class" and mistakes["title"] == "The worst mistakes on the test part"
    assert all("→" in item["caption"] for item in mistakes["data"]["rows"][0]["items"])
    cnn = trainwright.train(images, "label", preset="quick", models=("dummy", "cnn"), tracking=False,
                            output_dir=str(tmp_path / "cnn"))
    seen = check_page(browser, cnn.report_path, ["images", "curves"], tmp_path / "cnn_run.png")
    assert seen["horizontal_overflow"] <= 0
    assert {f["kind"] for f in _figures(cnn.report_path, "curves")} == {"epochs"}
    print(f"\nscreenshots: {tmp_path}")
