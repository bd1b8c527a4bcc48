"""Rung 7: neural networks. A tabular MLP (batch norm, dropout) on the scaled, one-hot preprocessed table, and a
small residual CNN on image pixels; both early-stop on the validation part like the boosted models (the epoch
count is their ``n_estimators``), and refits train for the number of epochs it found.

Both are ``NeuralClassifier``/``NeuralRegressor`` (``_torch_estimator``), trained by the one loop in
``_torch_loop``. In a bundle the weights are a safetensors file (tensors only: reading it runs no code) and the
architecture's parameters, the classes and the target scaling go into the JSON description; loading builds the
network from that description (only the kinds ``_torch_nets.build_network`` knows) on the CPU. Torch is imported
only inside the functions that need it.

Categoricals reach the MLP one-hot encoded (low cardinality) or target encoded (high cardinality) by the shared
preprocessor, not through learned embeddings: that keeps one preprocessing path for every family, and on the
tables here an embedding layer did not pay for the second path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.data import TaskKind
from trainwright.features import FeatureNeeds
from trainwright.models._torch_estimator import NeuralClassifier, NeuralEstimator, NeuralRegressor
from trainwright.models.serialize import (
    Serializer,
    bundle_file,
    describe_estimator,
    rebuild_estimator,
    save_weights,
)
from trainwright.models.spec import BuildContext, EarlyStopping, ModelSpec

__all__ = ["CNN", "MLP", "SERIALIZER", "SPECS", "NeuralClassifier", "NeuralEstimator", "NeuralRegressor"]

_WEIGHTS_FILE = "model.safetensors"
_PATIENCE = 15
# estimator parameters a bundle records (the rest — device, deadline, checkpoints — belong to one training run)
_KEPT = ("network", "hidden", "dropout", "batch_norm", "width", "stages", "augment", "max_epochs", "batch_size", "lr",
         "weight_decay", "optimizer", "schedule", "warmup", "clip_norm", "patience", "loss", "label_smoothing",
         "class_weight", "deterministic", "random_state")


def _batch_size(params: Mapping[str, Any], n_rows: int) -> int:
    """The preset's batch size, smaller on small tables so an epoch still takes about ten steps."""
    return int(max(16, min(int(params["batch_size"]), n_rows // 10)))


def _common(ctx: BuildContext, params: Mapping[str, Any], *, one_thread: bool = False) -> dict[str, Any]:
    """Settings both networks share. Threads: ``one_thread`` (small dense layers gain nothing from a second
    thread), and one thread too when the fit may use only two cores: torch's spinning threads lose badly as soon
    as anything else runs (on a busy 2-core box a CNN epoch took 6x longer with two threads than with one; an MLP
    fit on titanic 39 s instead of 13 s)."""
    cores = ctx.n_jobs if ctx.n_jobs > 0 else (os.cpu_count() or 1)  # -1: every core
    threads = 1 if one_thread or cores <= 2 else cores
    return {"max_epochs": max(1, int(params["n_estimators"])), "batch_size": _batch_size(params, ctx.n_rows),
            "lr": float(params["lr"]), "weight_decay": float(params["weight_decay"]), "dropout": float(params["dropout"]),
            "patience": params.get("patience", _PATIENCE), "device": ctx.device, "random_state": ctx.random_state,
            "n_jobs": threads, "deadline": ctx.deadline}


def _estimator(ctx: BuildContext, **kwargs: Any) -> NeuralEstimator:
    if ctx.task is TaskKind.REGRESSION:
        return NeuralRegressor(**kwargs)
    return NeuralClassifier(**kwargs)


def _mlp(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    units, layers = int(params["units"]), int(params["layers"])
    hidden = tuple(max(8, units // 2**i) for i in range(layers))
    return _estimator(ctx, network="mlp", hidden=hidden, **_common(ctx, params, one_thread=True))


def _mlp_space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    return {"units": CategoricalDistribution((64, 128, 256, 512)), "layers": IntDistribution(1, 4),
            "dropout": FloatDistribution(0.0, 0.5), "lr": FloatDistribution(1e-4, 1e-2, log=True),
            "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
            "batch_size": CategoricalDistribution((64, 128, 256, 512))}


EARLY_STOPPING = EarlyStopping(
    fit_kwargs=lambda X_val, y_val, est: {"eval_set": (X_val, y_val)},
    best_iteration=lambda est: int(est.best_epoch_),
    fixed=lambda params, n: {**params, "n_estimators": n},
)


# --- the bundle: safetensors weights + a JSON description -----------------------------------------
def _save(estimator: Any, directory: Path) -> dict[str, Any]:

    save_weights(estimator.module_, Path(directory) / _WEIGHTS_FILE)
    extra = {"image_size": int(estimator.image_size_)} if hasattr(estimator, "image_size_") else {}
    return describe_estimator(estimator, isinstance(estimator, NeuralClassifier), _KEPT,
                              architecture=estimator.architecture(), n_features_in=int(estimator.n_features_in_),
                              best_epoch=int(estimator.best_epoch_), **extra)


def _load(description: Mapping[str, Any], directory: Path) -> Any:
    from safetensors.torch import load_file

    from trainwright.models._torch_nets import build_network

    kinds = {"classifier": NeuralClassifier, "regressor": NeuralRegressor}
    estimator = rebuild_estimator(description, kinds, _KEPT,
                                  hidden=tuple(dict(description["params"]).get("hidden", ())))
    estimator.n_features_in_ = int(description["n_features_in"])
    estimator.best_epoch_ = int(description["best_epoch"])
    if "image_size" in description:
        estimator.image_size_ = int(description["image_size"])
    module = build_network(description["architecture"])
    module.load_state_dict(load_file(str(bundle_file(directory, _WEIGHTS_FILE)), device="cpu"), strict=True)
    estimator.module_ = module.eval()
    estimator.history_, estimator.stopped_ = [], "loaded"
    return estimator


def _onnx_convert(scope: Any, operator: Any, container: Any) -> None:
    """The MLP as MatMul/Add/Relu (batch norm folded, dropout gone), then softmax and the arg-max class for a
    classifier, or the target's scale and mean for a regressor. The CNN has no converter (export refuses it)."""
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxArgMax,
        OnnxGather,
        OnnxMatMul,
        OnnxMul,
        OnnxRelu,
        OnnxSoftmax,
    )

    from trainwright.models._torch_estimator import dense_layers

    est, opv = operator.raw_operator, container.target_opset
    if est.network != "mlp":
        raise NotImplementedError("only the MLP of the neural family converts to ONNX")
    h: Any = operator.inputs[0]
    for weight, bias, relu in dense_layers(est.module_):
        h = OnnxAdd(OnnxMatMul(h, weight.astype(np.float32), op_version=opv), bias.astype(np.float32), op_version=opv)
        if relu:
            h = OnnxRelu(h, op_version=opv)
    if isinstance(est, NeuralRegressor):
        out = OnnxAdd(OnnxMul(h, np.array([est.y_scale_], dtype=np.float32), op_version=opv),
                      np.array([est.y_mean_], dtype=np.float32), op_version=opv, output_names=operator.outputs[:1])
        out.add_to(scope, container)
        return
    proba = OnnxSoftmax(h, axis=1, op_version=opv, output_names=operator.outputs[1:2])
    label = OnnxGather(np.asarray(est.classes_, dtype=np.int64), OnnxArgMax(h, axis=1, keepdims=0, op_version=opv),
                       op_version=opv, output_names=operator.outputs[:1])
    proba.add_to(scope, container)
    label.add_to(scope, container)


def _onnx_setup() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(NeuralClassifier, "TrainwrightNeuralClassifier",
                                calculate_linear_classifier_output_shapes, _onnx_convert,
                                options={"zipmap": [False, True], "nocl": [False, True]})
    update_registered_converter(NeuralRegressor, "TrainwrightNeuralRegressor", calculate_linear_regressor_output_shapes,
                                _onnx_convert)


def _handles(estimator: Any) -> bool:
    """The MLP and the CNN themselves; a subclass with a network of its own (the pretrained backbone) has its own
    serializer."""
    return type(estimator) in (NeuralClassifier, NeuralRegressor)


SERIALIZER = Serializer("neural", handles=_handles, save=_save, load=_load,
                        onnx_setup=_onnx_setup)


MLP = ModelSpec(
    name="mlp", family="neural", rung=7, build=_mlp, needs=FeatureNeeds(scale=True, one_hot=True, float32=True),
    defaults={"n_estimators": 200, "units": 256, "layers": 2, "dropout": 0.1, "lr": 3e-3, "weight_decay": 1e-4,
              "batch_size": 256},
    search_space=_mlp_space, portfolio=({"units": 128, "layers": 3, "dropout": 0.2}, {"units": 512, "layers": 2}),
    early_stopping=EARLY_STOPPING, relative_cost=8.0, tags=frozenset({"needs_torch", "uses_gpu"}),
    description="multilayer perceptron (PyTorch): batch norm, dropout, AdamW, one-cycle", serializer=SERIALIZER,
)

def _cnn(ctx: BuildContext, params: Mapping[str, Any]) -> Any:
    return _estimator(ctx, network="cnn", width=int(params["width"]), stages=int(params["stages"]),
                      augment=str(params["augment"]), **_common(ctx, params))


def _cnn_space(ctx: BuildContext) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    return {"width": CategoricalDistribution((16, 32, 64)), "stages": IntDistribution(2, 4),
            "dropout": FloatDistribution(0.0, 0.5), "lr": FloatDistribution(3e-4, 1e-2, log=True),
            "weight_decay": FloatDistribution(1e-5, 1e-2, log=True)}


# Image columns only (tag "images_only"): trained on the 32x32 pixels the preprocessor reads from the image column.
# Small on purpose: on two CPU cores an epoch over ~1400 32x32 images takes a few seconds at width 16.
CNN = ModelSpec(
    name="cnn", family="neural", rung=7, build=_cnn, needs=FeatureNeeds(float32=True, image_size=32),
    defaults={"n_estimators": 30, "width": 16, "stages": 3, "dropout": 0.1, "lr": 3e-3, "weight_decay": 5e-4,
              "batch_size": 64, "augment": "affine", "patience": 6},
    search_space=_cnn_space, early_stopping=EARLY_STOPPING, relative_cost=20.0,
    tags=frozenset({"needs_torch", "uses_gpu", "images_only"}), serializer=SERIALIZER,
    description="small residual CNN (PyTorch) on 32x32 pixels, trained from scratch with augmentation",
)

SPECS = (MLP, CNN)
