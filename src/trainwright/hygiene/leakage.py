"""Leakage checks: a single column that predicts the target (almost) perfectly, and an identifier whose order
runs with the target. Thresholds are module constants, stated in each finding's ``rule``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainwright.hygiene.checks import Finding

__all__ = ["ID_TARGET_ASSOCIATION", "LEAK_ACCURACY", "LEAK_R2", "identifier_runs_with_target", "leakage",
           "single_column_skill"]

LEAK_ACCURACY = 0.99  # one column alone classifies this well (majority class per value/bin)
LEAK_R2 = 0.99  # one column alone explains this much of a numeric target
ID_TARGET_ASSOCIATION = 0.30  # |rank correlation| (or correlation ratio) between an identifier and the target


def _bin_codes(x: pd.Series, n_bins: int) -> np.ndarray:
    """Equal-count bins for numbers, one code per value otherwise; missing is its own code."""
    if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x) and x.nunique() > n_bins:
        ranks = x.rank(method="first").to_numpy()
        codes = np.where(np.isnan(ranks), -1, np.floor((ranks - 1) * n_bins / max(np.nanmax(ranks), 1))).astype(int)
        return codes
    return pd.factorize(x, use_na_sentinel=False)[0]


def single_column_skill(x: pd.Series, y: np.ndarray, classification: bool) -> tuple[float, float]:
    """How well one column alone predicts the target: (score, baseline).

    Binary target and a complete numeric column: ROC AUC of the column (either direction); baseline 0.5.
    Otherwise classification: accuracy of predicting the majority class of the column's value (numbers: of its
    equal-count bin, at least 20 rows per bin); baseline is the majority-class share. Regression: R² of the value's (bin's)
    mean target; baseline 0. Columns with fewer than 20 rows per distinct value are not scored (nan).
    """
    n = len(x)
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    if classification and numeric and int(np.max(y)) == 1 and x.notna().all():
        pos = np.asarray(y, dtype=int) == 1
        n1, n0 = int(pos.sum()), int((~pos).sum())
        ranks = x.rank(method="average").to_numpy()
        auc = float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / max(n1 * n0, 1))  # Mann-Whitney U / (n1 n0)
        return max(auc, 1.0 - auc), 0.5
    n_bins = int(min(64, max(2, n // 20)))
    codes = _bin_codes(x, n_bins)
    n_codes = int(codes.max()) + 2
    if n_codes - 1 > max(n // 20, 2):
        return float("nan"), float("nan")
    codes = codes + 1
    if classification:
        y = np.asarray(y, dtype=int)
        table = np.zeros((n_codes, int(y.max()) + 1))
        np.add.at(table, (codes, y), 1)
        return float(table.max(axis=1).sum() / n), float(np.bincount(y).max() / n)
    y = np.asarray(y, dtype=float)
    total = float(((y - y.mean()) ** 2).sum())
    sums, counts = np.bincount(codes, y, minlength=n_codes), np.bincount(codes, minlength=n_codes)
    means = np.divide(sums, counts, out=np.zeros(n_codes), where=counts > 0)
    within = float(((y - means[codes]) ** 2).sum())
    return (1.0 - within / total if total > 0 else float("nan")), 0.0


def _is_copy(x: pd.Series, y_raw: pd.Series, classification: bool) -> bool:
    """The column maps one-to-one onto the target (equal, or a relabelling of it). For a numeric target the values
    must repeat (at most n/2 distinct) or the column must be an exact linear function of the target: two columns
    of distinct floats always pair one-to-one, which proves nothing."""
    n_unique = x.nunique(dropna=False)
    if n_unique != y_raw.nunique(dropna=False):
        return False
    if not classification and n_unique > len(x) / 2:
        if not pd.api.types.is_numeric_dtype(x) or x.isna().any():
            return False
        r = np.corrcoef(x.to_numpy(dtype=float), pd.to_numeric(y_raw, errors="coerce").to_numpy(dtype=float))[0, 1]
        return bool(abs(r) > 1 - 1e-9)
    pairs = pd.DataFrame({"x": pd.factorize(x, use_na_sentinel=False)[0],
                          "y": pd.factorize(y_raw, use_na_sentinel=False)[0]}).drop_duplicates()
    return bool(pairs["x"].is_unique and pairs["y"].is_unique)


def leakage(frame: pd.DataFrame, target: str, y: np.ndarray, classification: bool, features: list[str]) -> list[Finding]:
    """A single column that predicts the target (almost) perfectly: a copy is blocking, near-perfect a warning."""
    out: list[Finding] = []
    for col in features:
        x = frame[col]
        if x.nunique(dropna=False) < 2:
            continue
        if _is_copy(x, frame[target], classification):
            out.append(Finding("leakage.target_copy", "blocking", f"'{col}' is a copy of the target '{target}'",
                               "each value of the column goes with exactly one target value and back: the model would "
                               "learn the answer, not the problem", columns=(col,), n_rows=len(x),
                               examples=tuple(f"{a} -> {b}" for a, b in zip(x.astype(str).head(3), frame[target].astype(str).head(3), strict=True)),
                               fix=f"drop '{col}' (or set its role to ignored), or pass --force to train anyway",
                               rule="one-to-one mapping between column and target"))
            continue
        score, base = single_column_skill(x, y, classification)
        if np.isnan(score):
            continue
        if classification and base == 0.5 and score >= LEAK_ACCURACY:
            out.append(_leak(col, f"alone it ranks the classes with ROC AUC {score:.4f}", f"single-column ROC AUC >= {LEAK_ACCURACY}", score))
        elif classification and score >= LEAK_ACCURACY and base < LEAK_ACCURACY:
            out.append(_leak(col, f"alone it classifies {score:.1%} of rows correctly (majority class {base:.1%})",
                             f"single-column accuracy >= {LEAK_ACCURACY:.0%}", score))
        elif not classification and score >= LEAK_R2:
            out.append(_leak(col, f"alone it explains R² = {score:.4f} of the target", f"single-column R² >= {LEAK_R2}", score))
    return out


def _leak(col: str, detail: str, rule: str, score: float) -> Finding:
    return Finding("leakage.single_column", "warning", f"'{col}' predicts the target almost perfectly",
                   detail + "; check that it is known at prediction time and not computed from the target",
                   columns=(col,), fix=f"drop '{col}' if it is derived from the target or recorded after it",
                   rule=rule, extra={"score": round(score, 6)})


def identifier_runs_with_target(frame: pd.DataFrame, ids: list[str], y: np.ndarray, classification: bool) -> list[Finding]:
    """An identifier whose order goes with the target (rows sorted by outcome, ids issued per class...)."""
    out = []
    for col in ids:
        rank = frame[col].rank(method="average").to_numpy(dtype=float)
        ok = ~np.isnan(rank)
        if ok.sum() < 20:
            continue
        r, yy = rank[ok], np.asarray(y)[ok]
        if classification:
            groups = pd.Series(r).groupby(yy.astype(int))
            between = float((groups.size() * (groups.mean() - r.mean()) ** 2).sum())
            total = float(((r - r.mean()) ** 2).sum())
            assoc = float(np.sqrt(between / total)) if total > 0 else 0.0
            what = "correlation ratio"
        else:
            yr = pd.Series(yy).rank().to_numpy()
            assoc = abs(float(np.corrcoef(r, yr)[0, 1]))
            what = "|rank correlation|"
        if assoc >= ID_TARGET_ASSOCIATION:
            out.append(Finding("leakage.identifier_order", "warning", f"identifier '{col}' runs with the target",
                               f"{what} between the identifier's order and the target is {assoc:.2f}: rows were "
                               "probably numbered after sorting or per class", columns=(col,),
                               fix=f"never use '{col}' as a feature; shuffle before splitting by row order",
                               rule=f"{what} >= {ID_TARGET_ASSOCIATION}", extra={"association": round(assoc, 4)}))
    return out
