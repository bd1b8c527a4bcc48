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

Ensembles (a weighted average, a bag, a stack) convert member by member: each member pipeline becomes its own
graph over the same inputs, the graphs are joined into one (``joined``: every internal name prefixed by its
member), and a few nodes combine their outputs (``weighted_average``, ``stacked``) as the Python model does.

Imported by ``bundle/export.py`` only (it imports skl2onnx and onnx lazily, inside the functions).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["ImputeWithIndicator", "is_composite", "joined", "knn_distance_sign", "missing_directions", "onnx_ready",
           "register_converters", "stacked", "weighted_average"]

_EPS = 1e-6  # the stack's probability clip (models/ensemble.py)


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


# --- ensembles: one graph per member over shared inputs, combined ----------------------------------------------------
def is_composite(estimator: Any) -> bool:
    """A final step made of member pipelines (models/ensemble.py): converted member by member."""
    return bool(getattr(type(estimator), "__bundle_composite__", False))


def _prefixed(graph: Any, prefix: str, keep: set[str]) -> None:
    """Prefix every name in ``graph`` (nodes, edges, initializers, outputs; subgraphs too) except those in ``keep``
    (the shared inputs), so several members' graphs can live side by side in one."""
    def name(n: str) -> str:
        return n if not n or n in keep else prefix + n

    for init in graph.initializer:
        init.name = name(init.name)
    for info in [*graph.value_info, *graph.output]:
        info.name = name(info.name)
    for node in graph.node:
        node.name = name(node.name) if node.name else node.name
        node.input[:] = [name(i) for i in node.input]
        node.output[:] = [name(o) for o in node.output]
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                for inp in sub.input:
                    inp.name = name(inp.name)
                _prefixed(sub, prefix, keep)


def joined(members: list[Any]) -> tuple[Any, list[list[str]]]:
    """One graph holding every member graph (same inputs, names prefixed ``m0_``, ``m1_``...), with no outputs yet,
    and each member's output names in order (label, probabilities / variable)."""
    from onnx import helper

    first = members[0]
    keep = {i.name for i in first.graph.input}
    nodes, inits, outputs = [], [], []
    versions: dict[str, int] = {}
    for k, member in enumerate(members):
        graph = member.graph
        if {i.name for i in graph.input} != keep:
            raise ValueError("ensemble members read different inputs")
        _prefixed(graph, f"m{k}_", keep)
        nodes += list(graph.node)
        inits += list(graph.initializer)
        outputs.append([o.name for o in graph.output])
        for opset in member.opset_import:
            versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    graph = helper.make_graph(nodes, "trainwright_ensemble", list(first.graph.input), [], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in versions.items()])
    model.ir_version = max(m.ir_version for m in members)
    return model, outputs


def _finish(model: Any, classification: bool, combined: str) -> Any:
    """Outputs as skl2onnx's: ``label`` (the class code of the largest probability) and ``probabilities``, or
    ``variable`` for a regression."""
    from onnx import TensorProto, helper

    graph = model.graph
    if classification:
        graph.node.append(helper.make_node("Identity", [combined], ["probabilities"]))
        graph.node.append(helper.make_node("ArgMax", [combined], ["label"], axis=1, keepdims=0))
        graph.output.extend([helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
                             helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, None])])
    else:
        graph.node.append(helper.make_node("Identity", [combined], ["variable"]))
        graph.output.append(helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1]))
    return model


def _member_output(graph: Any, names: list[str], k: int, classification: bool) -> str:
    """Member ``k``'s probabilities [N, K] or its values as [N, 1]."""
    from onnx import helper, numpy_helper

    if classification:
        return names[1]
    shape = numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), f"m{k}_shape_n1")
    graph.initializer.append(shape)
    graph.node.append(helper.make_node("Reshape", [names[0], shape.name], [f"m{k}_values"]))
    return f"m{k}_values"


def weighted_average(members: list[Any], weights: list[float], classification: bool) -> Any:
    """``sum_k weights[k] * member_k``: what ``WeightedEnsemble`` (and a bag, with equal weights) computes."""
    from onnx import helper, numpy_helper

    model, outputs = joined(members)
    graph = model.graph
    terms = []
    for k, (names, weight) in enumerate(zip(outputs, weights, strict=True)):
        value = _member_output(graph, names, k, classification)
        graph.initializer.append(numpy_helper.from_array(np.array(weight, dtype=np.float32), f"m{k}_weight"))
        graph.node.append(helper.make_node("Mul", [value, f"m{k}_weight"], [f"m{k}_weighted"]))
        terms.append(f"m{k}_weighted")
    graph.node.append(helper.make_node("Sum", terms, ["ensemble_sum"]))
    return _finish(model, classification, "ensemble_sum")


def stacked(members: list[Any], meta: Any, n_classes: int) -> Any:
    """The stack: each member's log-odds (binary), log-probabilities (multiclass) or values (regression),
    concatenated in member order, through the converted level-2 model (``StackedEnsemble``'s computation)."""
    from onnx import compose, helper, numpy_helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model, outputs = joined(members)
    graph = model.graph
    graph.initializer.extend([numpy_helper.from_array(np.array(_EPS, dtype=np.float32), "stack_low"),
                              numpy_helper.from_array(np.array(1 - _EPS, dtype=np.float32), "stack_high")])
    columns = []
    for k, names in enumerate(outputs):
        value = _member_output(graph, names, k, bool(n_classes))
        if n_classes:
            graph.node.append(helper.make_node("Clip", [value, "stack_low", "stack_high"], [f"m{k}_clipped"]))
            graph.node.append(helper.make_node("Log", [f"m{k}_clipped"], [f"m{k}_log"]))
            value = f"m{k}_log"
            if n_classes == 2:  # log(p1) - log(p0), the positive class's log-odds
                graph.node.append(helper.make_node("Split", [value], [f"m{k}_log0", f"m{k}_log1"], axis=1))
                graph.node.append(helper.make_node("Sub", [f"m{k}_log1", f"m{k}_log0"], [f"m{k}_logit"]))
                value = f"m{k}_logit"
        columns.append(value)
    graph.node.append(helper.make_node("Concat", columns, ["stack_features"], axis=1))
    graph.output.append(helper.make_tensor_value_info("stack_features", 1, [None, None]))
    n_features = int(meta.coef_.shape[-1]) if meta.coef_.ndim > 1 else len(meta.coef_)
    options = {id(meta): {"zipmap": False}} if n_classes else None
    level2 = convert_sklearn(meta, initial_types=[("features", FloatTensorType([None, n_features]))], options=options,
                             target_opset={o.domain or "": o.version for o in model.opset_import if o.domain in ("", "ai.onnx.ml")})
    level2 = compose.add_prefix(level2, "meta_")
    level2.ir_version = model.ir_version
    del level2.opset_import[:]
    level2.opset_import.extend(model.opset_import)
    merged = compose.merge_models(model, level2, io_map=[("stack_features", "meta_features")])
    del merged.graph.output[:]
    out = [o.name for o in level2.graph.output]
    return _finish(merged, bool(n_classes), out[1] if n_classes else out[0])
