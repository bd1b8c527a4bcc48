"""Small scikit-learn transformers the pipelines need and scikit-learn lacks. Plain attributes only,
so that skops can save and load them without running code."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["AsFloat32", "DatetimeFeatures", "SkewedLog1p", "TextSVD"]


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Dates to numbers: year, month, day, day of week, hour (when times vary), days since 1970."""

    def fit(self, X: pd.DataFrame, y: object = None) -> DatetimeFeatures:
        frame = pd.DataFrame(X)
        self.columns_ = [str(c) for c in frame.columns]
        self.with_hour_ = [bool((pd.to_datetime(frame[c]).dt.hour.fillna(0) != 0).any()) for c in frame.columns]
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        frame = pd.DataFrame(X)
        parts: list[np.ndarray] = []
        for c, with_hour in zip(frame.columns, self.with_hour_, strict=True):
            d = pd.to_datetime(frame[c])
            cols = [d.dt.year, d.dt.month, d.dt.day, d.dt.day_of_week]
            if with_hour:
                cols.append(d.dt.hour)
            epoch = (d - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
            cols.append(epoch)
            parts.extend(np.asarray(col, dtype=float) for col in cols)
        return np.column_stack(parts) if parts else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = []
        for c, with_hour in zip(self.columns_, self.with_hour_, strict=True):
            names += [f"{c}_year", f"{c}_month", f"{c}_day", f"{c}_dayofweek"]
            names += [f"{c}_hour"] if with_hour else []
            names.append(f"{c}_days")
        return np.asarray(names, dtype=object)


class SkewedLog1p(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """log1p on columns that are non-negative and heavily right-skewed (skewness above ``threshold``)."""

    def __init__(self, threshold: float = 2.0) -> None:
        self.threshold = threshold

    def fit(self, X: np.ndarray, y: object = None) -> SkewedLog1p:
        arr = np.asarray(X, dtype=float)
        self.n_features_in_ = arr.shape[1]
        log_columns = []
        with np.errstate(all="ignore"):
            for j in range(arr.shape[1]):  # one column at a time: no temporary the size of the whole matrix
                col = arr[:, j]
                col = col[~np.isnan(col)]
                if col.size == 0:
                    continue
                mean, std = col.mean(), col.std()
                skew = np.mean(((col - mean) / (std if std > 0 else 1.0)) ** 3)
                if col.min() >= 0 and std > 0 and skew > self.threshold:
                    log_columns.append(j)
        self.log_columns_ = np.asarray(log_columns, dtype=np.intp)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        arr = np.array(X, dtype=float, copy=True)
        if len(self.log_columns_):
            arr[:, self.log_columns_] = np.log1p(np.clip(arr[:, self.log_columns_], 0, None))
        return arr


class AsFloat32(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """The last step of a scaled block: values near 1 lose nothing a model can use in float32, and the matrix
    the ColumnTransformer stacks for a linear model or k-NN is half the size (its largest allocation)."""

    def fit(self, X: np.ndarray, y: object = None) -> AsFloat32:
        self.n_features_in_ = int(X.shape[1])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float32)


class TextSVD(TransformerMixin, BaseEstimator):
    """TF-IDF then truncated SVD: a dense, compact text representation for models that need dense input."""

    def __init__(self, n_components: int = 64, max_features: int = 20_000, random_state: int | None = None) -> None:
        self.n_components = n_components
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, X: object, y: object = None) -> TextSVD:
        self.fit_transform(X)
        return self

    def fit_transform(self, X: object, y: object = None, **fit_params: object) -> np.ndarray:
        text = pd.Series(np.asarray(X, dtype=object).ravel()).fillna("").astype(str)
        self.tfidf_ = TfidfVectorizer(max_features=self.max_features, ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        try:
            matrix = self.tfidf_.fit_transform(text)
        except ValueError:  # empty vocabulary with min_df=2 on tiny data
            self.tfidf_ = TfidfVectorizer(max_features=self.max_features, sublinear_tf=True)
            matrix = self.tfidf_.fit_transform(text)
        k = int(max(1, min(self.n_components, matrix.shape[1] - 1, matrix.shape[0] - 1)))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state)
        return self.svd_.fit_transform(matrix)

    def transform(self, X: object) -> np.ndarray:
        text = pd.Series(np.asarray(X, dtype=object).ravel()).fillna("").astype(str)
        return self.svd_.transform(self.tfidf_.transform(text))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"svd{i}" for i in range(self.svd_.n_components)], dtype=object)


# --- ONNX converters (skl2onnx), registered by bundle/export.py before converting; imported lazily -------------------

def _same_shape(operator: object) -> None:
    """Output shape and element type of a one-to-one transformer: those of its input."""
    op = operator  # skl2onnx Operator
    n = op.inputs[0].get_first_dimension()  # type: ignore[attr-defined]
    op.outputs[0].type = op.inputs[0].type.__class__([n, op.raw_operator.n_features_in_])  # type: ignore[attr-defined]


def _skewed_log1p_onnx(scope: object, operator: object, container: object) -> None:
    """log(1 + max(x, 0)) on the columns ``log_columns_`` (a constant mask), the others unchanged."""
    from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxLog, OnnxMax, OnnxWhere
    from skl2onnx.common.data_types import guess_numpy_type

    op, opv = operator.raw_operator, container.target_opset  # type: ignore[attr-defined]
    X = operator.inputs[0]  # type: ignore[attr-defined]
    dtype = guess_numpy_type(X.type)
    mask = np.zeros((1, op.n_features_in_), dtype=bool)
    mask[0, op.log_columns_] = True
    logged = OnnxLog(OnnxAdd(OnnxMax(X, np.array([0], dtype=dtype), op_version=opv), np.array([1], dtype=dtype),
                             op_version=opv), op_version=opv)
    out = OnnxWhere(mask, logged, X, op_version=opv, output_names=operator.outputs[:1])  # type: ignore[attr-defined]
    out.add_to(scope, container)


def _as_float32_onnx(scope: object, operator: object, container: object) -> None:
    from onnx import TensorProto
    from skl2onnx.algebra.onnx_ops import OnnxCast

    opv = container.target_opset  # type: ignore[attr-defined]
    out = OnnxCast(operator.inputs[0], to=TensorProto.FLOAT, op_version=opv,  # type: ignore[attr-defined]
                   output_names=operator.outputs[:1])  # type: ignore[attr-defined]
    out.add_to(scope, container)


def _as_float32_shape(operator: object) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    op = operator
    n = op.inputs[0].get_first_dimension()  # type: ignore[attr-defined]
    op.outputs[0].type = FloatTensorType([n, op.raw_operator.n_features_in_])  # type: ignore[attr-defined]


def register_onnx_converters() -> None:
    """Teach skl2onnx this module's transformers (SkewedLog1p, AsFloat32). DatetimeFeatures and TextSVD have none:
    the export refuses date and text columns up front."""
    from skl2onnx import update_registered_converter

    update_registered_converter(SkewedLog1p, "TrainwrightSkewedLog1p", _same_shape, _skewed_log1p_onnx)
    update_registered_converter(AsFloat32, "TrainwrightAsFloat32", _as_float32_shape, _as_float32_onnx)
