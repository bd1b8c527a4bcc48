"""What the ONNX export adds to skl2onnx: converters it lacks (XGBoost through onnxmltools) and corrections of
conversions that run but compute something else (found on vega_cars, each checked against the pipeline):

- ``SimpleImputer(add_indicator=True)``: skl2onnx drops the missing-indicator columns, so every later step reads
  shifted columns (random forest, extra trees: up to 6.5 mpg off). ``ImputeWithIndicator`` stands in for it.
- trees that learned where missing values go (scikit-learn >= 1.4 ``missing_go_to_left``): skl2onnx sends every
  missing value down the false branch. ``missing_directions`` copies scikit-learn's choice per node.
- k-NN with distance weights: skl2onnx (opset >= 11) negates the distances, which turns the weights into a plain
  average (2.9 mpg off). ``knn_distance_sign`` removes the negation.
- ``OneHotEncoder(handle_unknown="infrequent_if_exist")`` without infrequent categories: skl2onnx fails on an unseen
  category; scikit-learn gives zeros, as "ignore" does, which is what the converted copy says.

Imported by ``bundle/export.py`` only (it imports skl2onnx and onnx lazily, inside the functions).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["ImputeWithIndicator", "knn_distance_sign", "missing_directions", "onnx_ready", "register_converters"]


class ImputeWithIndicator(TransformerMixin, BaseEstimator):
    """Stands in, in the copy that is converted, for a ``SimpleImputer(add_indicator=True)``: converted as the
    imputer without indicator, then IsNaN flags of the indicator's columns, concatenated (scikit-learn's order)."""

    def __init__(self, imputer: Any) -> None:
        self.imputer = imputer

    @classmethod
    def of(cls, imputer: Any) -> ImputeWithIndicator:
        plain = copy.deepcopy(imputer)
        plain.add_indicator = False
        plain.indicator_ = None
        out = cls(plain)
        out.features_ = np.asarray(imputer.indicator_.features_, dtype=np.int64)
        out.n_outputs_ = len(imputer.statistics_) + len(out.features_)
        return out


def _impute_with_indicator_shape(operator: Any) -> None:
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = operator.inputs[0].type.__class__([n, operator.raw_operator.n_outputs_])


def _impute_with_indicator_onnx(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxCast, OnnxConcat, OnnxGather, OnnxIsNaN
    from skl2onnx.common.data_types import guess_proto_type

    op, opv, X = operator.raw_operator, container.target_opset, operator.inputs[0]
    imputed = OnnxSubEstimator(op.imputer, X, op_version=opv)
    flags = OnnxCast(OnnxIsNaN(OnnxGather(X, op.features_, axis=1, op_version=opv), op_version=opv),
                     to=guess_proto_type(X.type), op_version=opv)
    OnnxConcat(imputed, flags, axis=1, op_version=opv, output_names=operator.outputs[:1]).add_to(scope, container)


def _xgboost() -> None:
    """onnxmltools' XGBoost converter for scikit-learn's wrappers (missing values follow each split's default)."""
    try:
        import xgboost
    except ImportError:  # the family is optional
        return
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(xgboost.XGBClassifier, "XGBoostXGBClassifier", calculate_linear_classifier_output_shapes,
                                convert_xgboost, options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    update_registered_converter(xgboost.XGBRegressor, "XGBoostXGBRegressor", calculate_linear_regressor_output_shapes,
                                convert_xgboost)


def register_converters() -> None:
    from skl2onnx import update_registered_converter

    from trainwright.features.transformers import register_onnx_converters

    register_onnx_converters()
    update_registered_converter(ImputeWithIndicator, "TrainwrightImputeWithIndicator", _impute_with_indicator_shape,
                                _impute_with_indicator_onnx)
    _xgboost()


def onnx_ready(pipeline: Any, missing_category: str) -> Any:
    """A copy to convert: string imputers look for ``missing_category`` (ONNX strings have no NaN) instead of NaN
    (same fill value), and imputers that add missing indicators become ``ImputeWithIndicator``."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    pipeline = copy.deepcopy(pipeline)
    stack = [pipeline]
    while stack:
        est = stack.pop()
        if isinstance(est, SimpleImputer) and isinstance(est.fill_value, str) and not isinstance(est.missing_values, str):
            est.missing_values = missing_category
        if isinstance(est, OneHotEncoder) and est.handle_unknown == "infrequent_if_exist" and not any(
                c is not None for c in (getattr(est, "infrequent_categories_", None) or [])):
            est.handle_unknown = "ignore"  # no infrequent column: an unseen category is all zeros, as with "ignore"
        for i, (name, step) in enumerate(getattr(est, "steps", [])):
            if isinstance(step, SimpleImputer) and getattr(step, "indicator_", None) is not None:
                est.steps[i] = (name, ImputeWithIndicator.of(step))
        stack += [s for _, s in getattr(est, "steps", [])]
        stack += [t for _, t, _ in getattr(est, "transformers_", []) if not isinstance(t, str)]
    return pipeline


def missing_directions(onx: Any, estimator: Any) -> None:
    """Copy scikit-learn's per-node direction of missing values into the ONNX tree ensembles (by tree and node id)."""
    from onnx import helper

    trees = [e.tree_ for e in getattr(estimator, "estimators_", []) if hasattr(e, "tree_")]
    if hasattr(estimator, "tree_"):
        trees = [estimator.tree_]
    if not trees or not hasattr(trees[0], "missing_go_to_left"):
        return
    for node in onx.graph.node:
        if node.op_type not in {"TreeEnsembleRegressor", "TreeEnsembleClassifier"}:
            continue
        attrs = {a.name: a for a in node.attribute}
        pairs = zip(attrs["nodes_treeids"].ints, attrs["nodes_nodeids"].ints, strict=True)
        tracks = [int(trees[t].missing_go_to_left[n]) for t, n in pairs]
        if "nodes_missing_value_tracks_true" in attrs:
            node.attribute.remove(attrs["nodes_missing_value_tracks_true"])
        node.attribute.append(helper.make_attribute("nodes_missing_value_tracks_true", tracks))


def knn_distance_sign(onx: Any) -> None:
    """The multiplication by -1 of the distances TopK returns becomes an identity (and its constant goes)."""
    from onnx import numpy_helper

    constants = {t.name: numpy_helper.to_array(t) for t in onx.graph.initializer}
    distances = {n.output[0] for n in onx.graph.node if n.op_type == "TopK"}
    for node in onx.graph.node:
        kept = [i for i in node.input if i in distances]
        other = [i for i in node.input if i not in distances]
        if node.op_type != "Mul" or len(kept) != 1 or len(other) != 1 or other[0] not in constants:
            continue
        if np.all(constants[other[0]] == -1):
            node.op_type = "Identity"
            del node.input[:]
            node.input.append(kept[0])
            if not any(other[0] in n.input for n in onx.graph.node):
                onx.graph.initializer.remove(next(t for t in onx.graph.initializer if t.name == other[0]))


def is_catboost(estimator: Any) -> bool:
    return type(estimator).__module__.startswith("catboost")


def with_catboost(preprocessing: Any, estimator: Any, classification: bool) -> Any:
    """CatBoost exports ONNX itself (``save_model(format="onnx")``) from the numbers it was fitted on: that graph is
    joined to the converted preprocessing (its output feeds CatBoost's ``features`` input). Outputs as skl2onnx's:
    ``label`` and ``probabilities`` (a [N, classes] tensor) for a classifier, ``variable`` for a regressor."""
    import os
    import tempfile

    import onnx
    from onnx import compose, helper

    handle, path = tempfile.mkstemp(suffix=".onnx")
    os.close(handle)
    try:
        estimator.save_model(path, format="onnx")
        tree = onnx.load(path)
    finally:
        os.unlink(path)
    _without_zipmap(tree)
    tree.ir_version = preprocessing.ir_version
    versions = {o.domain: o.version for o in preprocessing.opset_import}
    del tree.opset_import[:]
    tree.opset_import.extend(helper.make_opsetid(d, v) for d, v in versions.items())
    tree = compose.add_prefix(tree, "catboost_")
    (features,) = [i.name for i in tree.graph.input]
    (transformed,) = [o.name for o in preprocessing.graph.output]
    merged = compose.merge_models(preprocessing, tree, io_map=[(transformed, features)])
    names = [o.name for o in merged.graph.output]
    wanted = ["label", "probabilities"] if classification else ["variable"]
    renames = dict(zip([n for n in names if n.startswith("catboost_")], wanted, strict=False))
    for node in merged.graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
    for out in merged.graph.output:
        out.name = renames.get(out.name, out.name)
    return merged


def _without_zipmap(graph_model: Any) -> None:
    """CatBoost's classifier graph ends in a ZipMap (a list of {class: probability}): drop it, so ``probabilities``
    is the [N, classes] float tensor it maps."""
    from onnx import TensorProto, helper

    graph = graph_model.graph
    for node in list(graph.node):
        if node.op_type != "ZipMap":
            continue
        tensor, name = node.input[0], node.output[0]
        graph.node.remove(node)
        for other in graph.node:
            other.output[:] = [name if o == tensor else o for o in other.output]
            other.input[:] = [name if i == tensor else i for i in other.input]
        for i, out in enumerate(graph.output):
            if out.name == name:
                graph.output.remove(out)
                graph.output.insert(i, helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, None]))
                break
