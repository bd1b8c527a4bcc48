"""The pretrained image rung: ImageNet EfficientNet-Lite0 from the installed packages (checked against ImageNet's
own labels on scikit-learn's sample photos), its input scaling, its two-phase schedule, and a bundle that holds
only the weights that changed. Plus the transfer hooks every network shares: a body frozen for real (weights and
batch-norm statistics), a new head, and warm starts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from trainwright.bundle import load, write_bundle
from trainwright.config import IMAGE_MODELS, load_config
from trainwright.data.images import LABEL_COLUMN, read_image_folder
from trainwright.models import get_spec
from trainwright.models.neural import NeuralClassifier
from trainwright.models.pretrained import PretrainedClassifier
from trainwright.training import FitContext, fit_pipeline, predict_matrix
from trainwright.workflow import prepare

torch.set_num_threads(1)


def _photos(size: int) -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    return [np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
            for im in load_sample_images().images]


def test_imagenet_weights_from_the_package_recognise_the_sample_photos() -> None:
    from trainwright.models._backbone import _imagenet_network

    net = _imagenet_network(224)
    x = torch.stack([(torch.from_numpy(p).permute(2, 0, 1) - 127) / 128 for p in _photos(224)])
    with torch.no_grad():
        top5 = net(x).topk(5).indices.tolist()
    assert 442 in top5[0] or 663 in top5[0]  # china.jpg: bell cote / monastery (ImageNet class ids)
    assert top5[1][0] == 985  # flower.jpg: daisy


def test_the_input_adapter_gives_the_backbones_scaling_for_imagenet_statistics() -> None:
    from trainwright.models._backbone import InputAdapter

    pixels = torch.from_numpy(_photos(32)[0]).permute(2, 0, 1)[None]  # 0..255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    standardised = (pixels / 255 - mean) / std  # what ImagePixels makes of a set with ImageNet's statistics
    torch.testing.assert_close(InputAdapter(3)(standardised), (pixels - 127) / 128, atol=1e-5, rtol=0)
    adapter = InputAdapter(1)
    grey = adapter(standardised[:, :1])  # one channel, replicated to the three the backbone reads
    assert grey.shape == (1, 3, 32, 32)
    torch.testing.assert_close((grey - adapter.mean) / adapter.std, standardised[:, :1].expand(-1, 3, -1, -1))


def _shapes(root: Path, n: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for kind in ("bar", "dot"):
        (root / kind).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 40, size=(12, 12)).astype(np.uint8)
            if kind == "bar":
                pixels[:, 5:7] = 230
            else:
                pixels[4:8, 4:8] = 230
            Image.fromarray(pixels, "L").save(root / kind / f"{i}.png")
    return root


def test_the_rung_trains_in_two_phases_and_its_bundle_holds_only_changed_weights(tmp_path: Path) -> None:
    from trainwright.models._backbone import weights_file

    frame = read_image_folder(_shapes(tmp_path / "imgs"))
    prep = prepare(frame, load_config(None, target=LABEL_COLUMN))
    spec = get_spec("efficientnet_lite0")
    assert "efficientnet_lite0" in IMAGE_MODELS and spec.needs.image_size >= 64
    params = spec.params({"n_estimators": 1, "head_epochs": 2, "tune_blocks": 1, "batch_size": 8})
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
    pipeline, best, _ = fit_pipeline(spec, ctx, prep.X.iloc[::2], prep.y[::2], params,
                                     X_val=prep.X.iloc[1::2], y_val=prep.y[1::2])
    estimator = pipeline.steps[-1][1]
    assert isinstance(estimator, PretrainedClassifier) and best in (0, 1)
    assert [p["phase"].split()[0] for p in estimator.schedule_] == ["linear", "top"]
    assert estimator.schedule_[1]["lr"] < estimator.schedule_[0]["lr"]  # fine-tuning at the lower rate
    proba = predict_matrix(pipeline, prep.X, prep.task)
    documents = {"schema": prep.schema.to_dict(), "task": prep.task.to_dict(), "metadata": {}, "metrics": {}}
    bundle = write_bundle(tmp_path / "model", pipeline, documents)
    with safe_open(str(bundle / "pretrained.safetensors"), "pt") as stored:
        keys = list(stored.keys())
    assert keys and all(k.startswith(("top.", "head.")) for k in keys)  # no frozen ImageNet weight copied
    assert sum(f.stat().st_size for f in bundle.iterdir()) < weights_file().stat().st_size / 2
    back = load(bundle).predict(frame)[["proba_bar", "proba_dot"]].to_numpy()
    np.testing.assert_array_equal(back, proba)


def test_fine_tuning_that_does_not_help_keeps_the_head_alone() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(24, 32 * 32)).astype(np.float32)
    y = np.array(["a", "b"] * 12)
    est = PretrainedClassifier(tune_blocks=1, head_epochs=2, max_epochs=1, lr=10.0, batch_size=8, n_jobs=1)
    est.fit(X[:16], y[:16], eval_set=(X[16:], y[16:]))  # a learning rate of 10 can only make things worse
    assert est.best_epoch_ == 0 and est.schedule_[1]["kept"] is False
    refit = PretrainedClassifier(tune_blocks=1, head_epochs=2, max_epochs=0, n_jobs=1).fit(X, y)
    assert len(refit.schedule_) == 1  # n_estimators 0: the head alone


def test_a_frozen_body_keeps_its_weights_and_batch_norm_statistics() -> None:
    from trainwright.models._backbone import frozen_body, output_layer, replace_output_layer, unfreeze
    from trainwright.models._torch_loop import LoopSettings, train_module
    from trainwright.models._torch_nets import MLP

    net = MLP(6, 3, hidden=(8,), dropout=0.0)
    head = replace_output_layer(net, 4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    X, y = torch.randn(64, 6), torch.randint(0, 4, (64,))
    train_module(frozen_body(net, head), torch.nn.CrossEntropyLoss(), X, y, LoopSettings(max_epochs=2, batch_size=16,
                                                                                          lr=0.05, seed=0))
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {f"{head}.weight", f"{head}.bias"} and output_layer(net)[1].out_features == 4
    unfreeze(net)
    assert all(p.requires_grad for p in net.parameters())


def test_fit_new_head_reports_its_schedule_and_warm_start_continues() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "up", "down")
    # no batch norm: its running statistics would move even at a learning rate of zero
    net = NeuralClassifier(hidden=(16,), batch_norm=False, dropout=0.0, max_epochs=3, batch_size=16, n_jobs=1).fit(X, y)
    cold = net.predict_proba(X)
    net.set_params(warm_start=True, lr=1e-12, max_epochs=1)
    np.testing.assert_allclose(net.fit(X, y).predict_proba(X), cold, atol=1e-6)  # from its weights, not afresh
    with pytest.raises(ValueError, match="not among the network's classes"):
        net.fit(X, np.where(X[:, 1] > 0, "left", "right"))
    labels = np.where(X[:, 1] > 0, "left", "right")
    net.set_params(lr=3e-3, max_epochs=2)
    schedule = net.fit_new_head(X, labels, eval_set=(X, labels), head_epochs=2, lr_scale=0.1)
    assert list(net.classes_) == ["left", "right"] and [p["phase"] for p in schedule] == ["new head, body frozen",
                                                                                            "all layers"]
    assert math.isclose(schedule[1]["lr"], schedule[0]["lr"] * 0.1)



def colour_crops(root: Path, per_class: int, seed: int, size: int = 48) -> Path:
    """Small colour images the tests can make: crops (random side 48-110 px, resized to ``size``, mirrored half of
    the time) of scikit-learn's two sample photos; the class is the photo and the quarter of it the crop's centre
    lies in (8 classes: sky, roof, temple, trees...; petals, centre, leaves...)."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    for name, photo in zip(("china", "flower"), load_sample_images().images, strict=True):
        h, w, _ = photo.shape
        for r in range(2):
            for c in range(2):
                folder = root / f"{name}_{'tb'[r]}{'lr'[c]}"
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(per_class):
                    side = int(rng.integers(48, 110))
                    cy = int(rng.integers(r * h // 2 + side // 2, (r + 1) * h // 2 - side // 2))
                    cx = int(rng.integers(c * w // 2 + side // 2, (c + 1) * w // 2 - side // 2))
                    crop = photo[cy - side // 2:cy + side // 2, cx - side // 2:cx + side // 2]
                    image = Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR)
                    if rng.random() < 0.5:
                        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                    image.save(folder / f"{seed}_{i}.png")
    return root


@pytest.mark.slow
def test_the_pretrained_backbone_beats_the_cnn_from_scratch_on_small_colour_images(tmp_path: Path) -> None:
    train = read_image_folder(colour_crops(tmp_path / "train", 40, seed=0))  # 320 images, 8 classes
    test = read_image_folder(colour_crops(tmp_path / "test", 25, seed=1))  # 200 other crops
    prep = prepare(train, load_config(None, target=LABEL_COLUMN))
    order = np.random.default_rng(0).permutation(len(prep.y))
    val, fit = order[:len(order) // 5], order[len(order) // 5:]
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)
    accuracy = {}
    for name in ("cnn", "efficientnet_lite0"):  # each with its defaults, early-stopped on the same validation rows
        spec = get_spec(name)
        pipeline, _, _ = fit_pipeline(spec, ctx, prep.X.iloc[fit], prep.y[fit], spec.params(),
                                      X_val=prep.X.iloc[val], y_val=prep.y[val])
        codes = predict_matrix(pipeline, test.drop(columns=[LABEL_COLUMN]), prep.task).argmax(axis=1)
        accuracy[name] = float(np.mean(codes == prep.task.encode(test[LABEL_COLUMN])))
    print(f"8 classes of colour crops, 256 training images, 200 test images: {accuracy}")
    assert accuracy["efficientnet_lite0"] >= accuracy["cnn"] + 0.05
