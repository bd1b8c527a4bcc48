"""``trainwright finetune``: a saved model carried on to new rows, for real (real torch training, real bundles, the
CLI in a subprocess). Same labels: the network continues from its weights and the gate's verdict is printed; new
labels: a new head, body frozen then unfrozen; boosted trees continue from their trees; linear models warm-start.
Each new bundle records where it came from. Tiny images and one or two epochs here; the quality bars under
``slow`` (tests/unit/transfer/test_quality.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from tests.integration.cli import run_cli
from trainwright.bundle import load, write_bundle
from trainwright.cli import main
from trainwright.config import load_config
from trainwright.data import file_fingerprint
from trainwright.data.images import LABEL_COLUMN, read_image_folder
from trainwright.fileio import sha256_file
from trainwright.models import get_spec
from trainwright.training import FitContext, fit_pipeline
from trainwright.workflow import prepare
from trainwright.workflow.finetune import NEW_LABELS, SAME_LABELS, finetune

torch.set_num_threads(1)


def _shape(kind: str, rng: np.random.Generator, size: int = 12) -> np.ndarray:
    pixels = rng.integers(0, 40, size=(size, size)).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    c = size // 2 + int(rng.integers(-1, 2))
    r = np.hypot(yy - c, xx - c)
    masks = {"bar": np.abs(xx - c) < 1.5, "dot": r < 2.5, "ring": (r > 3) & (r < 5),
             "cross": (np.abs(xx - c) < 1.5) | (np.abs(yy - c) < 1.5), "square": np.maximum(np.abs(xx - c),
                                                                                         np.abs(yy - c)) == 3}
    pixels[masks[kind]] = 230
    return pixels


def write_shapes(root: Path, kinds: tuple[str, ...], n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for kind in kinds:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(_shape(kind, rng), "L").save(root / kind / f"{i}.png")
    return root


def train_bundle(data: pd.DataFrame | Path, target: str, out: Path, model: str, overrides: dict) -> Path:
    """A bundle as ``train`` writes one (pipeline, schema, task, metadata with the chosen params), made quickly."""
    prep = prepare(data if isinstance(data, pd.DataFrame) else read_image_folder(data), load_config(None, target=target))
    spec = get_spec(model)
    params = spec.params(overrides)
    pipeline, _, _ = fit_pipeline(spec, FitContext(prep.schema, prep.task, random_state=0, n_jobs=1), prep.X, prep.y,
                                  params)
    metadata = {"run_id": "parent-run", "trial_id": f"{model}-0", "model": model, "family": spec.family,
                "params": params, "fingerprints": prep.fingerprints}
    documents = {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metadata": metadata, "metrics": {}}
    return write_bundle(out, pipeline, documents)


@pytest.fixture(scope="module")
def cnn_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cnn")
    images = write_shapes(root / "imgs", ("bar", "dot", "ring"), 12, seed=0)
    return train_bundle(images, LABEL_COLUMN, root / "model", "cnn",
                        {"n_estimators": 2, "width": 4, "stages": 2, "batch_size": 16})


def test_same_labels_continue_the_network_and_the_gate_verdict_is_printed(cnn_bundle: Path, tmp_path: Path) -> None:
    new = write_shapes(tmp_path / "new", ("bar", "dot", "ring"), 12, seed=1)
    proc = run_cli("finetune", cnn_bundle, new, "--output-dir", tmp_path / "runs", "--time-budget", "60",
                   "--n-boot", "200", cwd=tmp_path)
    assert proc.returncode in (0, 6), proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())
    assert "same labels" in text and "continued from its weights" in text
    assert "verdict:" in text and "against the original: challenger log_loss" in text
    (bundle,) = (tmp_path / "runs").glob("finetune-*/model")
    model = load(bundle)
    parent = model.fine_tuned_from
    assert parent is not None and parent["manifest_sha256"] == sha256_file(cnn_bundle / "manifest.json")
    assert parent["path"] == str(cnn_bundle.resolve()) and parent["run_id"] == "parent-run"
    assert model.metadata["fingerprints"]["file_sha256"] == file_fingerprint(new)
    summary = json.loads((bundle.parent / "finetune.json").read_text())
    assert summary["mode"] == SAME_LABELS and summary["comparison"]["verdict"] in text
    out = model.predict(read_image_folder(new))
    assert set(out["prediction"]) <= {"bar", "dot", "ring"}


def test_new_labels_train_a_new_head_body_frozen_then_unfrozen(cnn_bundle: Path, tmp_path: Path) -> None:
    new = write_shapes(tmp_path / "new", ("cross", "square"), 12, seed=2)
    proc = run_cli("finetune", cnn_bundle, new, "--output-dir", tmp_path / "runs", "--lr-scale", "0.2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())
    assert "new labels" in text and "new head, body frozen" in text and "all layers" in text
    (bundle,) = (tmp_path / "runs").glob("finetune-*/model")
    model = load(bundle)
    assert list(model.task.classes) == ["cross", "square"]
    first, second = model.metadata["fine_tune"]["schedule"]
    assert second["lr"] == pytest.approx(first["lr"] * 0.2)  # unfrozen at the lower rate
    assert model.metadata["fine_tune"]["mode"] == NEW_LABELS and model.metrics["comparison"] is None
    assert set(model.predict(read_image_folder(new))["prediction"]) <= {"cross", "square"}


def test_the_pretrained_backbone_takes_new_labels_and_keeps_its_body_out_of_the_bundle(tmp_path: Path) -> None:
    from safetensors import safe_open

    images = write_shapes(tmp_path / "imgs", ("bar", "dot"), 8, seed=0)
    parent = train_bundle(images, LABEL_COLUMN, tmp_path / "model", "efficientnet_lite0",
                          {"n_estimators": 1, "head_epochs": 2, "tune_blocks": 1, "batch_size": 8})
    new = write_shapes(tmp_path / "new", ("cross", "square", "ring"), 8, seed=3)
    result = finetune(parent, new, output_dir=tmp_path / "runs", n_jobs=1, n_boot=200, time_budget=60)
    assert result.mode == NEW_LABELS and [p["phase"].split()[0] for p in result.schedule] == ["linear", "top"]
    assert result.schedule[1]["lr"] == pytest.approx(3e-4 * 0.3)  # the kept top at the lower rate
    with safe_open(str(result.bundle / "pretrained.safetensors"), "pt") as stored:
        names = stored.keys()
    assert names and all(k.startswith(("top.", "head.")) for k in names)
    model = load(result.bundle)
    assert list(model.task.classes) == ["cross", "ring", "square"]
    assert model.predict(read_image_folder(new)).shape == (24, 4)
    more = write_shapes(tmp_path / "more", ("cross", "square", "ring"), 8, seed=4)
    again = finetune(result.bundle, more, output_dir=tmp_path / "runs", n_jobs=1, n_boot=200, time_budget=60)
    assert again.mode == SAME_LABELS and again.comparison is not None and "continued" in again.method
    chain = load(again.bundle).fine_tuned_from
    assert chain is not None and chain["fine_tuned_from"]["path"] == str(parent.resolve())  # lineage nests


def test_boosted_trees_continue_from_their_trees(frame, tmp_path: Path) -> None:
    wine = frame("wine")
    old, new = wine.iloc[::2], wine.iloc[1::2]
    bundle = train_bundle(old, "cultivar", tmp_path / "lgbm", "lightgbm",
                          {"n_estimators": 30, "num_leaves": 7, "n_jobs": 1})
    result = finetune(bundle, new, output_dir=tmp_path / "runs", n_jobs=1, held_out=0.3, n_boot=200)
    parent_trees = load(bundle).pipeline.steps[-1][1].booster.num_trees()
    child_trees = load(result.bundle).pipeline.steps[-1][1].booster.num_trees()
    assert result.mode == SAME_LABELS and "init_model" in result.method
    assert child_trees > parent_trees  # the old trees kept, new rounds added
    assert result.comparison is not None and result.comparison.n == result.rows["held_out"]


def test_a_linear_model_is_warm_started(frame, tmp_path: Path) -> None:
    iris = frame("iris")
    bundle = train_bundle(iris.iloc[::2], "species", tmp_path / "lin", "linear", {})
    result = finetune(bundle, iris.iloc[1::2], output_dir=tmp_path / "runs", n_jobs=1, n_boot=200)
    assert "warm start" in result.method and result.comparison is not None
    assert result.held_out_scores["accuracy"] >= 0.8


def _refused(capsys: pytest.CaptureFixture[str], code: int, args: list[object], *needles: str) -> None:
    """The CLI in this process: exit ``code`` with one clean message (no traceback) holding every needle."""
    assert main([str(a) for a in args]) == code
    err = capsys.readouterr().err
    text = " ".join(err.split())
    assert "Traceback" not in err and sum(line.startswith("error:") for line in err.splitlines()) == 1, err
    for needle in needles:
        assert needle in text, (needle, text)


def test_data_without_the_models_features_is_refused_cleanly(cnn_bundle: Path, frame, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    frame("iris").to_csv(tmp_path / "iris.csv", index=False)
    _refused(capsys, 2, ["finetune", cnn_bundle, tmp_path / "iris.csv", "--target", "species"],
             "does not have the model's features", "image")


def test_new_labels_for_a_linear_model_are_refused_cleanly(frame, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    iris = frame("iris")
    bundle = train_bundle(iris, "species", tmp_path / "lin", "linear", {})
    other = iris.assign(species=np.where(iris["petal length (cm)"] > 4, "long", "short"))
    other.to_csv(tmp_path / "other.csv", index=False)
    _refused(capsys, 2, ["finetune", bundle, tmp_path / "other.csv"], "new labels need a network", "trainwright train")


def test_a_model_without_a_way_to_continue_and_a_non_bundle_are_refused(frame, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    iris = frame("iris")
    iris.to_csv(tmp_path / "iris.csv", index=False)
    knn = train_bundle(iris, "species", tmp_path / "knn", "knn", {})
    _refused(capsys, 2, ["finetune", knn, tmp_path / "iris.csv"], "cannot be fine-tuned", "KNeighborsClassifier")
    (tmp_path / "nothing").mkdir()
    _refused(capsys, 4, ["finetune", tmp_path / "nothing", tmp_path / "iris.csv"], "manifest")


# --- quality bars (measured once: figures in the lead's note) -------------------------------------------------------
def _digit_images(root: Path, digits: range, per_class: int | None, skip: int = 0) -> dict[str, str]:
    """digits.csv (8x8, values 0-16) as 32x32 grey PNGs in class folders; ``per_class`` images of each digit after
    the first ``skip`` (all of them when None). Returns file name -> digit."""
    from tests.conftest import dataset_path

    frame = pd.read_csv(dataset_path("digits"))
    labels = frame.pop("digit").to_numpy()
    pixels = (frame.to_numpy(dtype=float) * (255 / 16)).clip(0, 255).astype(np.uint8).reshape(-1, 8, 8)
    truth = {}
    for digit in digits:
        rows = np.flatnonzero(labels == f"d{digit}")[skip:]  # the labels are d0 .. d9
        rows = rows if per_class is None else rows[:per_class]
        (root / f"d{digit}").mkdir(parents=True, exist_ok=True)
        for i in rows:
            image = Image.fromarray(pixels[i], "L").resize((32, 32), Image.Resampling.BILINEAR)
            image.save(root / f"d{digit}" / f"{i:04d}.png")
            truth[f"{i:04d}.png"] = f"d{digit}"
    return truth


def _accuracy(bundle: Path, folder: Path, truth: dict[str, str], tmp_path: Path) -> float:
    flat = tmp_path / f"flat_{folder.name}"
    flat.mkdir(exist_ok=True)
    for path in folder.glob("*/*.png"):
        (flat / path.name).write_bytes(path.read_bytes())
    out = load(bundle).predict(read_image_folder(flat))
    names = [Path(p).name for p in read_image_folder(flat)["image"]]
    return float(np.mean([truth[n] == str(p) for n, p in zip(names, out["prediction"], strict=True)]))


@pytest.mark.slow
def test_a_cnn_on_digits_0_to_4_carried_on_to_30_images_each_of_5_to_9(tmp_path: Path) -> None:
    _digit_images(tmp_path / "d04", range(5), None)
    _digit_images(tmp_path / "d59", range(5, 10), 30)
    truth = _digit_images(tmp_path / "held", range(5, 10), None, skip=30)
    train = ("--models", "cnn", "--preset", "quick", "--time-budget", "900", "--no-tracking", "--seed", "0")
    proc = run_cli("train", tmp_path / "d04", *train, "-o", tmp_path / "runs04", cwd=tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (parent,) = (tmp_path / "runs04").glob("*/model")
    proc = run_cli("finetune", parent, tmp_path / "d59", "--held-out", "0.1", "-o", tmp_path / "ft", cwd=tmp_path,
                   timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(proc.stdout)
    (tuned,) = (tmp_path / "ft").glob("*/model")
    proc = run_cli("train", tmp_path / "d59", *train, "-o", tmp_path / "scratch", cwd=tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (scratch,) = (tmp_path / "scratch").glob("*/model")
    tuned_acc = _accuracy(tuned, tmp_path / "held", truth, tmp_path)
    scratch_acc = _accuracy(scratch, tmp_path / "held", truth, tmp_path)
    print(f"digits 5-9 on {len(truth)} held-out images: fine-tuned from 0-4 {tuned_acc:.4f}, "
          f"from scratch on the same 150 images {scratch_acc:.4f}")
    assert tuned_acc >= 0.85 and tuned_acc > scratch_acc
