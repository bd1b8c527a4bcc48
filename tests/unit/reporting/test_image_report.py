"""Images in the audit and the report: sizes, modes and unreadable files counted from real files, the worst
mistakes chosen as a hand count says, and the thumbnail sheet a real PNG of the expected shape."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from trainwright.data import Task, TaskKind
from trainwright.evaluation.report import audit_report
from trainwright.evaluation.report_parts import example_grid, worst_mistakes
from trainwright.hygiene import audit_frame
from trainwright.hygiene.images import image_findings, profile_images
from trainwright.reporting.plots import THUMB, image_grid


def _images(root: Path) -> pd.DataFrame:
    """Four grey 12x12 'cat' PNGs, three colour 20x10 'dog' JPEGs, one RGBA 'dog' PNG and one broken 'cat' file."""
    rows = []
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8), "L").save(root / f"cat{i}.png")
        rows.append((str(root / f"cat{i}.png"), "cat"))
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (10, 20, 3), dtype=np.uint8), "RGB").save(root / f"dog{i}.jpg")
        rows.append((str(root / f"dog{i}.jpg"), "dog"))
    Image.new("RGBA", (12, 12), (255, 0, 0, 128)).save(root / "dog3.png")
    rows.append((str(root / "dog3.png"), "dog"))
    (root / "broken.png").write_bytes(b"not an image")
    rows.append((str(root / "broken.png"), "cat"))
    return pd.DataFrame(rows, columns=["image", "label"])


def test_profile_counts_sizes_modes_formats_and_names_unreadable_files(tmp_path: Path) -> None:
    frame = _images(tmp_path / "imgs")
    profile = profile_images(frame, "image", "label", per_class=2)
    assert profile.n_images == 9
    assert dict(profile.sizes) == {"12x12": 5, "20x10": 3}
    assert dict(profile.modes) == {"L": 4, "RGB": 3, "RGBA": 1}
    assert dict(profile.formats) == {"PNG": 5, "JPEG": 3}
    assert profile.width_range == (12, 20) and profile.height_range == (10, 12)
    assert [p for p, _ in profile.unreadable] == [str(tmp_path / "imgs" / "broken.png")]
    examples = dict(profile.examples)
    assert set(examples) == {"cat", "dog"} and all(len(v) == 2 for v in examples.values())
    assert str(tmp_path / "imgs" / "broken.png") not in examples["cat"]  # only readable files are shown
    assert {f.code: f.severity for f in image_findings(profile)} == {
        "images.unreadable": "blocking", "images.mixed_sizes": "info", "images.mixed_modes": "info"}


def test_the_audit_of_an_image_table_has_an_images_section(tmp_path: Path) -> None:
    frame = _images(tmp_path / "imgs")
    report = audit_frame(frame, "label", label_noise=False)
    assert report.extra["images"][0]["n_images"] == 9 and "images.unreadable" in report.codes()
    built = audit_report(report, None)
    section = built.section("images")
    assert [f.kind for f in section.figures] == ["image_grid"]
    rows = {(r[0], r[1]): r[2] for r in section.tables[0].rows}
    assert rows[("size", "12x12")] == "5" and rows[("colour mode", "RGBA")] == "1"
    assert "1 cannot be read" in section.paragraphs[0]


def test_worst_mistakes_are_the_most_confident_wrong_ones() -> None:
    task = Task(TaskKind.MULTICLASS, "label", "log_loss", ("a", "b", "c"))
    y = np.array([0, 1, 2, 0, 1])
    proba = np.array([[0.9, 0.05, 0.05],   # right
                      [0.7, 0.2, 0.1],     # wrong: true b at 0.2
                      [0.1, 0.85, 0.05],   # wrong: true c at 0.05 -> the worst
                      [0.4, 0.5, 0.1],     # wrong: true a at 0.4
                      [0.1, 0.8, 0.1]])    # right
    paths = [f"/img/{i}.png" for i in range(5)]
    data = worst_mistakes(y, proba, task, paths, n=2)
    items = data["rows"][0]["items"]
    assert [i["path"] for i in items] == ["/img/2.png", "/img/1.png"] and data["n_shown"] == 2
    assert items[0]["caption"] == "c → b (p 0.85)"
    assert worst_mistakes(y[[0, 4]], proba[[0, 4]], task, paths[:2])["rows"] == []
    many = worst_mistakes(np.zeros(20, dtype=int), np.tile([[0.1, 0.9, 0.0]], (20, 1)), task, [str(i) for i in range(20)])
    assert [len(r["items"]) for r in many["rows"]] == [6, 6] and many["n_shown"] == 12  # two rows of six
    regression = Task(TaskKind.REGRESSION, "size", "rmse")
    worst = worst_mistakes(np.array([1.0, 5.0, 3.0]), np.array([1.5, 1.0, 3.0]), regression, paths[:3], n=1)
    assert [i["path"] for i in worst["rows"][0]["items"]] == ["/img/1.png"]


def test_the_thumbnail_sheet_is_a_png_with_a_row_per_class(tmp_path: Path) -> None:
    frame = _images(tmp_path / "imgs")
    ok = frame[~frame["image"].str.endswith("broken.png")]
    grid = example_grid({"cat": list(ok["image"][:3]), "dog": list(ok["image"][4:6])})
    png = image_grid(grid)
    sheet = Image.open(io.BytesIO(png))
    assert sheet.format == "PNG" and sheet.height > 2 * THUMB and sheet.width > 3 * THUMB
    assert sheet.width <= 760 and len(png) < 60_000  # small: it is embedded in the HTML
    pixels = np.asarray(sheet.convert("RGB"))
    assert pixels.std() > 10  # the thumbnails are drawn, not a blank sheet
    gone = image_grid({"rows": [{"label": "", "items": [{"path": str(tmp_path / "gone.png"), "caption": "x"}]}]})
    assert Image.open(io.BytesIO(gone)).format == "PNG"  # a file gone since the run: a grey square, no error


def test_epoch_figures_draw_each_trials_own_fits_and_the_refit_not_its_folds() -> None:
    from trainwright.evaluation.report_parts import epoch_figures

    def history(n: int, val: bool = True) -> list[dict[str, float]]:
        return [{"epoch": float(e), "train_loss": 1.0 / e, "lr": 1e-3, **({"val_score": -abs(e - 2.0)} if val else {})}
                for e in range(1, n + 1)]

    curves = {"mlp": history(4), "cnn": history(3), "cnn/cv/fold-1": history(3, False),
              "effnet/fit-1": history(2), "effnet/fit-2": history(3), "refit": history(2, False),
              "analysis/fit-1": history(3)}
    drawn = epoch_figures(curves, chosen="cnn")
    assert [d["label"] for _, d, _ in drawn] == ["cnn", "effnet/fit-1", "effnet/fit-2", "mlp", "refit"]
    title, data, caption = drawn[0]
    assert title == "cnn (chosen)" and data["best_epoch"] == 2 and "best validation score -0.0000 at epoch 2" in caption
    assert "val_score" not in drawn[-1][1] and drawn[-1][0] == "refit: the chosen model's final fit"
