"""Parts that look like the whole: after a split, each part's target and each feature's missing rate and distribution
are compared with the rest of the file, tested, and sized.

Tests: chi-square for class shares, missing rates and categories (the top categories plus "other"); two-sample
Kolmogorov-Smirnov for numbers. Each part is compared with the rows outside it (two independent samples); the p-values
of all tests together are Holm-corrected, so a warning means a difference beyond noise, not one of many draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ALPHA", "part_balance"]

ALPHA = 0.01  # family-wise, after Holm's correction over every test of every part
MIN_GAP = 0.05  # a gap smaller than this (share points, or KS distance) is never worth a warning, however significant
TOP_CATEGORIES = 20
MAX_ROWS = 50_000  # bigger files are compared on a sample of 2 x this many rows (plenty for the tests)
TEXT_UNIQUE = 0.5  # object columns with more distinct values than this share of rows: only the missing rate


def _chi2(part: np.ndarray, rest: np.ndarray) -> float:
    """p-value that two samples of codes share one distribution (chi-square on their counts)."""
    from scipy.stats import chi2_contingency

    k = int(max(part.max(initial=0), rest.max(initial=0))) + 1
    table = np.vstack([np.bincount(part, minlength=k), np.bincount(rest, minlength=k)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    return float(chi2_contingency(table)[1])


def _shares_gap(part: np.ndarray, whole: np.ndarray) -> float:
    k = int(whole.max(initial=0)) + 1
    return float(np.abs(np.bincount(part, minlength=k) / max(len(part), 1)
                        - np.bincount(whole, minlength=k) / max(len(whole), 1)).max())


def _categorical_codes(s: pd.Series) -> np.ndarray:
    top = s.value_counts().index[:TOP_CATEGORIES]
    codes = pd.Categorical(s.where(s.isin(top)), categories=top).codes.astype(np.int64)
    codes[(codes < 0) & s.notna().to_numpy()] = len(top)  # "other"
    return codes[codes >= 0]  # missing values are judged by the missing-rate test


def _compare(name: str, what: str, values: pd.Series, in_part: np.ndarray, numeric: bool) -> tuple[float, float]:
    """(gap, p-value) between the part's rows and the others for one column and one aspect."""
    if what == "missing rate":
        miss = values.isna().to_numpy().astype(np.int64)
        if miss.min() == miss.max():
            return 0.0, 1.0
        return abs(float(miss[in_part].mean() - miss.mean())), _chi2(miss[in_part], miss[~in_part])
    present = values.notna().to_numpy()
    if numeric:
        from scipy.stats import ks_2samp

        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        ok = present & np.isfinite(x)
        a, b = x[in_part & ok], x[~in_part & ok]
        if len(a) < 2 or len(b) < 2:
            return 0.0, 1.0
        result = ks_2samp(a, b)
        return float(result.statistic), float(result.pvalue)
    codes = np.full(len(values), -1, dtype=np.int64)
    codes[present] = _categorical_codes(values[present])
    a, b = codes[in_part & present], codes[~in_part & present]
    if len(a) < 2 or len(b) < 2:
        return 0.0, 1.0
    return _shares_gap(a, codes[present]), _chi2(a, b)


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def part_balance(X: pd.DataFrame, y: pd.Series, parts: dict[str, np.ndarray], *, classification: bool,
                 random_state: int = 0) -> dict[str, Any]:
    """Compare every part (row labels of ``X``) with the rest of the file: the target, and each feature's missing rate
    and distribution. Returns what was achieved: per-test results, the largest gap, the warnings and "stratified"."""
    index = X.index
    if len(index) > MAX_ROWS * 2:
        keep = np.sort(np.random.default_rng(random_state).choice(len(index), MAX_ROWS * 2, replace=False))
        X, y, index = X.iloc[keep], y.iloc[keep], index[keep]
    columns: list[tuple[str, str, pd.Series, bool]] = [(str(y.name or "target"), "target", y, not classification)]
    for col in X.columns:
        s = X[col]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        columns.append((str(col), "missing rate", s, numeric))
        textual = not numeric and s.nunique() > TEXT_UNIQUE * max(s.notna().sum(), 1)
        if not textual and not pd.api.types.is_datetime64_any_dtype(s):
            columns.append((str(col), "distribution", s, numeric))
    tests: list[dict[str, Any]] = []
    for part, labels in parts.items():
        in_part = index.isin(labels)
        if in_part.all() or not in_part.any():
            continue
        for name, what, values, numeric in columns:
            gap, p = _compare(name, "distribution" if what == "target" else what, values, in_part, numeric)
            measure = "KS distance" if numeric and what != "missing rate" else "largest share difference"
            tests.append({"part": part, "column": name, "what": what, "gap": round(gap, 4), "measure": measure,
                          "p_value": p})
    if not tests:
        return {"stratified": None, "largest_gap": None, "warnings": [], "n_tests": 0}
    adjusted = _holm(np.array([t["p_value"] for t in tests]))
    for t, p in zip(tests, adjusted, strict=True):
        t["p_holm"] = float(p)
        t["differs"] = bool(p < ALPHA and t["gap"] >= MIN_GAP)
    target_tests = [t for t in tests if t["what"] == "target"]
    largest = max(tests, key=lambda t: t["gap"])
    warnings = [_describe(t) for t in sorted(tests, key=lambda t: -t["gap"]) if t["differs"]]
    return {"stratified": not any(t["differs"] for t in target_tests),
            "target_largest_gap": max((t["gap"] for t in target_tests), default=0.0),
            "largest_gap": {**largest, "text": _describe(largest)}, "warnings": warnings, "n_tests": len(tests),
            "differs": [t for t in tests if t["differs"]],
            "rule": f"each part vs the other rows: chi-square (class shares, missing rates, top {TOP_CATEGORIES} "
                    f"categories) or Kolmogorov-Smirnov (numbers); Holm-corrected p < {ALPHA} and a gap >= {MIN_GAP}"}


def _describe(t: dict[str, Any]) -> str:
    what = "distribution (the target)" if t["what"] == "target" else t["what"]
    return (f"{t['part']}: '{t['column']}' {what} differs from the file by {t['gap']:.3f} "
            f"({t['measure']}; Holm p = {t.get('p_holm', t['p_value']):.2g})")
