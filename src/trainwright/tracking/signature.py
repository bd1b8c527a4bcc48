"""The MLflow signature and input example of a bundle, from its own files (``schema.json``, ``profile.json``): numbers
as double (MLflow accepts integer values for them), categories as string, columns with missing values optional.
Used by the tracking writer when it logs the model; imports MLflow inside the function."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["bundle_signature"]

EXAMPLE_ROWS = 3


def _example_value(column: dict[str, Any], i: int) -> Any:
    """Row ``i`` of the example: a value the training data had (profile sample or most frequent categories)."""
    if column.get("kind") == "numeric" or column.get("role") == "numeric":
        sample = [v for v in column.get("sample") or [] if isinstance(v, int | float) and math.isfinite(v)]
        return float(sample[i % len(sample)]) if sample else 0.0
    categories = [c for c in (column.get("categories") or {}) if c != "__other__"]
    return str(categories[i % len(categories)]) if categories else ""


def bundle_signature(bundle_dir: str | Path) -> tuple[Any, Any] | None:
    """(ModelSignature, input example DataFrame) for the bundle's feature columns, or None when the bundle's schema
    has columns MLflow cannot describe here (text, dates, images: left to the bundle's own check)."""
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema, TensorSpec

    bundle_dir = Path(bundle_dir)
    schema = json.loads((bundle_dir / "schema.json").read_text(encoding="utf-8"))
    profile_file = bundle_dir / "profile.json"
    profile = json.loads(profile_file.read_text(encoding="utf-8")) if profile_file.is_file() else {"columns": []}
    by_name = {c["name"]: c for c in profile.get("columns", [])}
    features = [c for c in schema["columns"] if c["role"] in {"numeric", "categorical"}]
    if any(c["role"] not in {"numeric", "categorical", "ignored", "identifier"} for c in schema["columns"]):
        return None
    specs: list[ColSpec | TensorSpec] = [
        ColSpec(DataType.double if c["role"] == "numeric" else DataType.string, c["name"],
                required=not c.get("missing_fraction")) for c in features]
    rows = []
    for i in range(EXAMPLE_ROWS):
        row = {c["name"]: _example_value({**c, **by_name.get(c["name"], {})}, i) for c in features}
        if i == EXAMPLE_ROWS - 1:  # the last row shows that optional numbers may be missing
            row.update({c["name"]: None for c in features if c.get("missing_fraction") and c["role"] == "numeric"})
        rows.append(row)
    return ModelSignature(inputs=Schema(specs)), pd.DataFrame(rows)
