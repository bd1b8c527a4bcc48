"""Images end to end: a folder of class folders (or a CSV of relative paths) read at the door into a table of
(image path, label), unreadable files named in one clean error, the CNN trained and carried through a bundle,
and ``predict`` on a folder writing one row per file. Tiny generated images here; digits under ``slow``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import dataset_path
from tests.integration.cli import assert_clean_failure, run_cli
from trainwright.bundle import load, write_bundle
from trainwright.config import load_config
from trainwright.data import Role, load_table
from trainwright.data.images import IMAGE_COLUMN, LABEL_COLUMN, read_image_folder
from trainwright.models import get_spec
from trainwright.training import FitContext, fit_pipeline, predict_matrix
from trainwright.workflow import prepare

CLASSES = ("bar", "dot", "ring")


def _shape(kind: str, rng: np.random.Generator, size: int = 12) -> np.ndarray:
    pixels = rng.integers(0, 40, size=(size, size)).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    c = size // 2 + int(rng.integers(-1, 2))
    r = np.hypot(yy - c, xx - c)
    if kind == "bar":
        pixels[:, c - 1:c + 1] = 220
    elif kind == "dot":
        pixels[r < 2.5] = 230
    else:
        pixels[(r > 3) & (r < 5)] = 230
    return pixels


def write_shapes(root: Path, n: int = 12, *, colour_class: str | None = None, seed: int = 0) -> Path:
    """``n`` small images per class in class folders (grey PNG; one class as colour JPEG when asked)."""
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = _shape(kind, rng)
            if kind == colour_class:
                Image.fromarray(np.stack([pixels, pixels // 2, 255 - pixels], axis=-1), "RGB").save(root / kind / f"{i}.jpg")
            else:
                Image.fromarray(pixels, "L").save(root / kind / f"{i}.png")
    return root


def test_a_folder_of_class_folders_becomes_a_table_of_paths_and_labels(tmp_path: Path) -> None:
    write_shapes(tmp_path / "imgs", 4)
    frame = load_table(tmp_path / "imgs")
    assert list(frame.columns) == [IMAGE_COLUMN, LABEL_COLUMN] and len(frame) == 12
    assert sorted(frame[LABEL_COLUMN].unique()) == list(CLASSES)
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in frame[IMAGE_COLUMN])
    prep = prepare(frame, load_config(None, target=LABEL_COLUMN))
    assert prep.schema.column(IMAGE_COLUMN).role is Role.IMAGE and prep.task.kind.value == "multiclass"


def test_a_csv_of_relative_image_paths_is_resolved_against_its_folder(tmp_path: Path) -> None:
    write_shapes(tmp_path / "imgs", 3)
    rows = [(f"imgs/{k}/{i}.png", k, float(i)) for k in CLASSES for i in range(3)]
    pd.DataFrame(rows, columns=["file", "kind", "size"]).to_csv(tmp_path / "table.csv", index=False)
    frame = load_table(tmp_path / "table.csv")
    assert frame["file"].iloc[0] == str((tmp_path / "imgs" / "bar" / "0.png").resolve())
    prep = prepare(frame, load_config(None, target="kind"))
    assert prep.schema.column("file").role is Role.IMAGE


def test_unreadable_images_are_named_in_one_clean_error(tmp_path: Path) -> None:
    write_shapes(tmp_path / "imgs", 3)
    (tmp_path / "imgs" / "dot" / "broken.png").write_bytes(b"not a png at all")
    (tmp_path / "imgs" / "ring" / "half.png").write_bytes((tmp_path / "imgs" / "ring" / "0.png").read_bytes()[:40])
    proc = run_cli("train", tmp_path / "imgs", "--no-tracking", cwd=tmp_path)
    assert_clean_failure(proc, 2, "2 image file(s)", "broken.png", "half.png")


def test_a_folder_without_images_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    proc = run_cli("train", tmp_path / "empty", "--target", "x", "--no-tracking", cwd=tmp_path)
    assert_clean_failure(proc, 2, "is a folder")


def test_grey_and_colour_images_give_fixed_size_pixels(tmp_path: Path) -> None:
    from trainwright.features.image import ImagePixels

    frame = read_image_folder(write_shapes(tmp_path / "imgs", 3, colour_class="ring"))
    pixels = ImagePixels(size=8).fit(frame[[IMAGE_COLUMN]])
    out = pixels.transform(frame[[IMAGE_COLUMN]])
    assert pixels.channels_ == 3 and out.shape == (9, 3 * 64) and out.dtype == np.float32
    assert abs(float(out.mean())) < 0.2
    grey = ImagePixels(size=8).fit(frame[frame[LABEL_COLUMN] != "ring"][[IMAGE_COLUMN]])
    assert grey.channels_ == 1


def test_train_then_predict_a_folder_writes_one_row_per_file(tmp_path: Path) -> None:
    write_shapes(tmp_path / "imgs", 12)
    flat = tmp_path / "new"
    flat.mkdir()
    rng = np.random.default_rng(5)
    for kind in CLASSES:
        Image.fromarray(_shape(kind, rng), "L").save(flat / f"{kind}.png")
    proc = run_cli("train", tmp_path / "imgs", "--models", "dummy,linear", "--preset", "quick", "--no-tracking",
                   "-o", tmp_path / "runs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (bundle,) = (tmp_path / "runs").glob("*/model")
    proc = run_cli("predict", bundle, flat, "-o", tmp_path / "out.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["path", "prediction", *[f"proba_{k}" for k in CLASSES]] and len(out) == 3
    assert [Path(p).stem for p in out["path"]] == list(out["prediction"])  # each shape recognised


def test_the_cnn_trains_on_an_image_column_and_survives_a_bundle(tmp_path: Path) -> None:
    frame = read_image_folder(write_shapes(tmp_path / "imgs", 10))
    prep = prepare(frame, load_config(None, target=LABEL_COLUMN))
    spec = get_spec("cnn")
    params = spec.params({"n_estimators": 4, "width": 4, "stages": 2, "batch_size": 16})
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
    pipeline, best, _ = fit_pipeline(spec, ctx, prep.X.iloc[:24], prep.y[:24], params,
                                     X_val=prep.X.iloc[24:], y_val=prep.y[24:])
    assert best is not None and 1 <= best <= 4
    proba = predict_matrix(pipeline, prep.X, prep.task)
    documents = {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metadata": {"model": "cnn"},
                 "metrics": {}}
    model = load(write_bundle(tmp_path / "model", pipeline, documents))
    assert (tmp_path / "model" / "model.safetensors").is_file()
    back = model.predict(frame)[[f"proba_{k}" for k in CLASSES]].to_numpy()
    np.testing.assert_array_equal(back, proba)


def write_digits(root: Path, held_out: float = 0.25, seed: int = 0) -> tuple[Path, Path, dict[str, str]]:
    """digits.csv (8x8, values 0-16) as 32x32 grey PNGs: class folders for training, a flat folder held out."""
    frame = pd.read_csv(dataset_path("digits"))
    labels = frame.pop("digit").to_numpy()
    pixels = (frame.to_numpy(dtype=float) * (255 / 16)).clip(0, 255).astype(np.uint8).reshape(-1, 8, 8)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_out = round(held_out * len(labels))
    train_dir, test_dir, truth = root / "train", root / "held_out", {}
    test_dir.mkdir(parents=True)
    for rank, i in enumerate(order):
        image = Image.fromarray(pixels[i], "L").resize((32, 32), Image.Resampling.BILINEAR)
        if rank < n_out:
            image.save(test_dir / f"{i:04d}.png")
            truth[f"{i:04d}.png"] = str(labels[i])
        else:
            (train_dir / str(labels[i])).mkdir(parents=True, exist_ok=True)
            image.save(train_dir / str(labels[i]) / f"{i:04d}.png")
    return train_dir, test_dir, truth


@pytest.mark.slow
def test_digits_as_png_folders_reach_97_percent_on_held_out_images(tmp_path: Path) -> None:
    train_dir, test_dir, truth = write_digits(tmp_path)
    proc = run_cli("train", train_dir, "--preset", "quick", "--time-budget", "1200", "--no-tracking",
                   "-o", tmp_path / "runs", "--seed", "0", cwd=tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(proc.stdout[-3000:])
    (bundle,) = (tmp_path / "runs").glob("*/model")
    proc = run_cli("predict", bundle, test_dir, "-o", tmp_path / "out.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = pd.read_csv(tmp_path / "out.csv", dtype={"prediction": str})
    accuracy = float(np.mean([truth[Path(p).name] == str(pred) for p, pred in zip(out["path"], out["prediction"],
                                                                               strict=True)]))
    print(f"digits held-out accuracy through predict: {accuracy:.4f} on {len(out)} images")
    assert len(out) == len(truth) and accuracy >= 0.97


def test_serve_scores_an_uploaded_image(tmp_path: Path) -> None:
    import asyncio

    import httpx

    from trainwright.serving import build_app

    frame = read_image_folder(write_shapes(tmp_path / "imgs", 10))
    prep = prepare(frame, load_config(None, target=LABEL_COLUMN))
    spec = get_spec("linear")
    pipeline, _, _ = fit_pipeline(spec, FitContext(prep.schema, prep.task, n_jobs=1), prep.X, prep.y, spec.params())
    documents = {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metadata": {"model": "linear"},
                 "metrics": {}}
    model = load(write_bundle(tmp_path / "model", pipeline, documents))
    ring = Path(frame[frame[LABEL_COLUMN] == "ring"][IMAGE_COLUMN].iloc[0])
    app = build_app(model)

    async def post(body: bytes) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/predict/image", content=body, headers={"Content-Type": "image/png"})

    ok = asyncio.run(post(ring.read_bytes()))
    assert ok.status_code == 200, ok.text
    assert ok.json()["prediction"] == "ring" and set(ok.json()["probabilities"]) == set(CLASSES)
    bad = asyncio.run(post(b"not an image"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["type"] == "unreadable_image"


def test_audit_of_an_image_folder_counts_sizes_and_modes_and_shows_thumbnails(tmp_path: Path) -> None:
    import json

    write_shapes(tmp_path / "imgs", 5, colour_class="ring")
    proc = run_cli("audit", tmp_path / "imgs", "-o", tmp_path / "reports", cwd=tmp_path)  # no --target: 'label'
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "images in 2 colour modes" in " ".join(proc.stdout.split())
    report = json.loads((tmp_path / "reports" / "imgs.audit.json").read_text())
    (profile,) = report["data"]["audit"]["extra"]["images"]
    assert profile["n_images"] == 15 and profile["sizes"] == {"12x12": 15}
    assert profile["modes"] == {"L": 10, "RGB": 5} and profile["formats"] == {"PNG": 10, "JPEG": 5}
    assert sorted(profile["examples"]) == list(CLASSES) and all(len(v) == 5 for v in profile["examples"].values())
    section = next(s for s in report["sections"] if s["key"] == "images")
    assert [f["kind"] for f in section["figures"]] == ["image_grid"]
    assert (tmp_path / "reports" / "imgs.audit_figures" / "images_0.png").stat().st_size > 2000


def test_train_with_tensorboard_writes_each_trials_epochs(tmp_path: Path) -> None:
    """The CNN's ladder fit, its CV folds and the final refit each get an event file; the ladder fit's best
    validation epoch is the number of epochs the refit trains for (the workflow's rule), read back from the files."""
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    write_shapes(tmp_path / "imgs", 10)
    proc = run_cli("train", tmp_path / "imgs", "--models", "dummy,cnn", "--preset", "quick", "--no-tracking",
                   "-o", tmp_path / "runs", "--tensorboard", tmp_path / "tb", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run,) = (tmp_path / "runs").iterdir()
    written = {str(p.parent.relative_to(tmp_path / "tb" / run.name)) for p in (tmp_path / "tb").rglob("events.*")}
    assert {"cnn", "refit", "cnn/cv/fold-1"} <= written and not any(w.startswith("dummy") for w in written)

    def scalars(name: str, tag: str) -> list[tuple[int, float]]:
        events = EventAccumulator(str(tmp_path / "tb" / run.name / name))
        events.Reload()
        return [(e.step, e.value) for e in events.Scalars(tag)]

    loss, score = scalars("cnn", "loss/train"), scalars("cnn", "validation/score")
    assert [s for s, _ in loss] == list(range(1, len(loss) + 1)) and loss[-1][1] < loss[0][1]
    best_epoch = max(score, key=lambda e: e[1])[0]
    assert len(scalars("refit", "loss/train")) == best_epoch
    report = json.loads((run / "report.json").read_text())
    curves = next(s for s in report["sections"] if s["key"] == "curves")
    drawn = {f["data"]["label"]: f["data"] for f in curves["figures"]}
    assert set(drawn) == {"cnn", "refit"} and drawn["cnn"]["best_epoch"] == best_epoch
    np.testing.assert_allclose(drawn["cnn"]["train_loss"], [v for _, v in loss], rtol=1e-6)


def test_audit_names_unreadable_images_in_one_clean_error(tmp_path: Path) -> None:
    write_shapes(tmp_path / "imgs", 3)
    (tmp_path / "imgs" / "dot" / "broken.png").write_bytes(b"not a png at all")
    proc = run_cli("audit", tmp_path / "imgs", "-o", tmp_path / "reports", cwd=tmp_path)
    assert_clean_failure(proc, 2, "1 image file(s)", "broken.png")
