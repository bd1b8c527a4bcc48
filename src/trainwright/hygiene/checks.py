"""The audit's Finding, and its checks of rows, columns and the target. Each check takes the frame (and what it
needs) and returns a list of Findings; the leakage checks are in ``leakage.py``.

Every threshold is a module constant and is stated in the finding's ``rule``, so the report says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainwright.data.collisions import identical_rows
from trainwright.data.schema import Role, Schema, identifier_name
from trainwright.data.times import parse_times

__all__ = [
    "COLLINEAR_R", "HIGH_CARDINALITY", "MAX_EXAMPLES", "MOSTLY_MISSING", "NEAR_CONSTANT", "Finding", "class_imbalance",
    "collinear_pairs", "column_findings", "duplicates", "identifier_like", "infinite_mask", "infinite_values",
    "outliers", "target_drift",
]

NEAR_CONSTANT = 0.99  # share of the most frequent value
MOSTLY_MISSING = 0.50
HIGH_CARDINALITY = 50  # distinct values of a categorical
COLLINEAR_R = 0.95
IMBALANCE_INFO, IMBALANCE_WARN = 0.25, 0.05  # rarest class's rows / most frequent class's rows
OUTLIER_IQR = 3.0  # beyond Q1 - 3 IQR or Q3 + 3 IQR
DRIFT_P, DRIFT_SHIFT = 1e-3, 0.05  # significance and size (class share, or standard deviations of the target)
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    """One thing the audit saw: what, how serious, where, a few examples, the rule that fired and the fix."""

    code: str
    severity: str  # info | warning | blocking
    title: str
    detail: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[int, ...] = ()  # row ids (the file's 0-based data row numbers), at most a few hundred
    n_rows: int = 0
    examples: tuple[str, ...] = ()
    fix: str = ""
    rule: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "title": self.title, "detail": self.detail,
                "columns": list(self.columns), "rows": [int(r) for r in self.rows], "n_rows": self.n_rows,
                "examples": list(self.examples), "fix": self.fix, "rule": self.rule, "extra": self.extra}


def _rows(index: Sequence[Any], limit: int = 200) -> tuple[int, ...]:
    return tuple(int(i) for i in list(index)[:limit])


def duplicates(frame: pd.DataFrame, target: str, features: list[str], random_state: int = 0) -> list[Finding]:
    """Identical rows (features and target) told apart from chance collisions, and conflicting duplicates (same
    features, other target).

    Identical rows are compared with what independent records would produce given the columns' values (a permutation
    baseline, ``data.collisions.identical_rows``): only the excess is called a duplicate and offered to ``--fix``."""
    out: list[Finding] = []
    feats = pd.util.hash_pandas_object(frame[features], index=False).to_numpy()
    labels = pd.factorize(frame[target], use_na_sentinel=False)[0]
    full = pd.Series(feats ^ (labels.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)), index=frame.index)
    dup = pd.DataFrame({"h": feats, "y": labels}).duplicated(keep="first").set_axis(frame.index)
    ident = identical_rows(frame[[*features, target]], random_state=random_state) if dup.any() else None
    if ident is not None:
        first = full[~dup]
        where = pd.Series(first.index, index=first.to_numpy())
        real = pd.Series(ident.drop_mask(), index=frame.index)
        chance = dup & ~real
        summary = ident.summary()
        if real.any():
            pairs = [f"row {i} = row {where[h]}" for i, h in full[real].head(MAX_EXAMPLES).items()]
            out.append(Finding("duplicates.exact", "warning", f"{int(real.sum())} exact duplicate rows",
                               f"rows identical in every column, target included, beyond what chance gives "
                               f"({ident.n_identical} rows identical to another, about {ident.n_expected:.0f} expected "
                               "among independent records); they over-weight some cases and are kept in one part "
                               "of the split", rows=_rows(frame.index[real.to_numpy()]), n_rows=int(real.sum()),
                               examples=tuple(pairs), fix="drop the extra copies (audit --fix)",
                               rule=summary["rule"], extra=summary))
        if chance.any():
            pairs = [f"row {i} = row {where[h]}" for i, h in full[chance].head(MAX_EXAMPLES).items()]
            out.append(Finding("duplicates.expected", "info", f"{int(chance.sum())} identical rows, as expected by chance",
                               f"{ident.n_identical} rows are identical to another, and independent records with these "
                               f"columns' values would give about {ident.n_expected:.0f}: the columns carry too little "
                               "information to tell records apart, so these are most likely different records. They "
                               "are kept, and split like any other row", rows=_rows(frame.index[chance.to_numpy()]),
                               n_rows=int(chance.sum()), examples=tuple(pairs),
                               fix="nothing to do; add a column that tells records apart if there is one",
                               rule=summary["rule"], extra=summary))
    key = pd.DataFrame({"h": feats, "y": labels}, index=frame.index)
    n_labels = key.groupby("h")["y"].nunique()
    bad = n_labels[n_labels > 1].index
    if len(bad):
        rows = key.index[key["h"].isin(bad).to_numpy()]
        examples = []
        for h in bad[:MAX_EXAMPLES]:
            members = key[key["h"] == h]
            examples.append(", ".join(f"row {i}: {frame.at[i, target]}" for i in members.index[:3]))
        by_chance = identical_rows(frame[features], random_state=random_state)
        if not by_chance.duplicate[key["h"].isin(bad).to_numpy()].any():
            out.append(Finding("duplicates.conflicting", "info",
                               f"{len(bad)} groups of rows with the same features but different targets",
                               f"{len(rows)} rows; rows with identical features are expected by chance here "
                               f"({by_chance.n_identical} observed, about {by_chance.n_expected:.0f} among independent "
                               "records), so these are different records the features cannot tell apart: noise no "
                               "model can remove, not wrong labels", columns=(target,), rows=_rows(rows),
                               n_rows=len(rows), examples=tuple(examples), fix="nothing to do; more informative "
                               "columns would help", rule="features equal, target differs; identical features "
                               "within chance", extra=by_chance.summary()))
            return out
        out.append(Finding("duplicates.conflicting", "warning",
                           f"{len(bad)} groups of rows with the same features but different targets",
                           f"{len(rows)} rows; a model cannot get them all right, and one label is probably wrong",
                           columns=(target,), rows=_rows(rows), n_rows=len(rows), examples=tuple(examples),
                           fix="check which label is right and keep one row per group", rule="features equal, target differs"))
    return out


def infinite_mask(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """True where a numeric column (or text that reads as a number) holds +inf or -inf."""
    out = {}
    for c in columns:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s) or not (pd.api.types.is_numeric_dtype(s) or s.dtype == object
                                                 or pd.api.types.is_string_dtype(s)):
            continue
        values = s if pd.api.types.is_numeric_dtype(s) else pd.to_numeric(s, errors="coerce")
        mask = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
        if mask.any():
            out[c] = mask
    return pd.DataFrame(out, index=frame.index)


def infinite_values(frame: pd.DataFrame, columns: Sequence[str]) -> list[Finding]:
    """Infinite values in features, reported like missing ones: which columns, how many rows, which rows."""
    mask = infinite_mask(frame, columns)
    if mask.empty:
        return []
    rows = frame.index[mask.any(axis=1).to_numpy()]
    counts = mask.sum()
    examples = tuple(f"{c}: {int(n)} ({n / len(frame):.1%}), e.g. row {frame.index[mask[c].to_numpy()][0]} = "
                     f"{frame.loc[mask[c].to_numpy(), c].iloc[0]}" for c, n in counts.items())
    return [Finding("column.infinite", "warning", f"infinite values in {len(counts)} feature column(s)",
                    f"{len(rows)} rows hold +inf or -inf; no model can use them and the imputer refuses them",
                    columns=tuple(str(c) for c in counts.index), rows=_rows(rows), n_rows=len(rows), examples=examples,
                    fix="audit --fix turns them into missing values (imputed, with a missing indicator)",
                    rule="value is +inf or -inf", extra={"per_column": {str(k): int(v) for k, v in counts.items()}})]


def identifier_like(frame: pd.DataFrame, schema: Schema) -> list[str]:
    """Columns the schema calls identifiers, plus id-named columns whose values are >= 90% distinct (duplicated
    rows make a real identifier repeat)."""
    out = []
    for info in schema.columns:
        present = len(frame) * (1 - info.missing_fraction)
        if info.role is Role.IDENTIFIER or (identifier_name(info.name) and info.n_unique >= 0.9 * max(present, 1)):
            out.append(info.name)
    return out


def column_findings(frame: pd.DataFrame, schema: Schema) -> list[Finding]:
    """Constant, near-constant, identifier-like, mostly missing and high-cardinality columns."""
    out = []
    ids = identifier_like(frame, schema)
    for info in schema.columns:
        s = frame[info.name]
        role = info.role.value
        if info.n_unique <= 1:
            out.append(Finding("column.constant", "warning", f"'{info.name}' is constant",
                               f"{info.n_unique} distinct value(s); {info.missing_fraction:.0%} missing", columns=(info.name,),
                               examples=tuple(str(v) for v in s.dropna().unique()[:1]), fix=f"drop '{info.name}' (audit --fix)",
                               rule="at most one distinct value"))
            continue
        could_be = info.n_unique <= (1 - NEAR_CONSTANT) * len(s) + 1
        top = float(s.value_counts(dropna=False, normalize=True).iloc[0]) if could_be else 0.0
        if top >= NEAR_CONSTANT:
            out.append(Finding("column.near_constant", "info", f"'{info.name}' is nearly constant",
                               f"its most frequent value covers {top:.1%} of rows", columns=(info.name,),
                               fix="keep it only if the rare values matter", rule=f"top value share >= {NEAR_CONSTANT:.0%}"))
        if info.name in ids:
            out.append(Finding("column.identifier", "warning", f"'{info.name}' looks like an identifier",
                               info.reason, columns=(info.name,), examples=tuple(str(v) for v in s.dropna().head(3)),
                               fix=f"drop '{info.name}' (audit --fix); use it as --group-column if rows share it",
                               rule="schema inference: unique values / identifier name"))
        if info.missing_fraction >= MOSTLY_MISSING:
            out.append(Finding("column.mostly_missing", "warning", f"'{info.name}' is mostly missing",
                               f"{info.missing_fraction:.0%} of values are missing", columns=(info.name,),
                               fix="drop it, or keep it if 'missing' itself carries meaning (an indicator is added)",
                               rule=f"missing share >= {MOSTLY_MISSING:.0%}"))
        if role == "categorical" and info.n_unique > HIGH_CARDINALITY:
            out.append(Finding("column.high_cardinality", "info", f"'{info.name}' has {info.n_unique} categories",
                               "too many for one-hot encoding; target encoding is used, fitted on training rows only",
                               columns=(info.name,), examples=tuple(str(v) for v in s.value_counts().index[:3]),
                               fix="group rare categories, or treat it as text", rule=f"more than {HIGH_CARDINALITY} categories"))
    return out


def collinear_pairs(X: pd.DataFrame, y: np.ndarray | None) -> list[Finding]:
    """Numeric pairs with |r| above COLLINEAR_R; of each pair, suggests dropping the one less related to the target."""
    if X.shape[1] < 2:
        return []
    full = X.assign(__target__=np.asarray(y, dtype=float)).corr() if y is not None else X.corr()
    corr = full.loc[X.columns, X.columns].to_numpy()
    target_r = full.loc[X.columns, "__target__"].abs().fillna(0) if y is not None else None
    pairs, drop = [], []
    upper = np.triu(np.abs(np.nan_to_num(corr)) > COLLINEAR_R, k=1)
    for i, j in zip(*np.nonzero(upper), strict=True):
        a, b = X.columns[i], X.columns[j]
        if a in drop or b in drop:
            continue
        weaker = b if target_r is None or target_r[a] >= target_r[b] else a
        drop.append(weaker)
        pairs.append(f"{a} ~ {b} (r = {corr[i, j]:.3f}; drop {weaker})")
    if not pairs:
        return []
    return [Finding("columns.collinear", "info", f"{len(pairs)} strongly collinear numeric pairs",
                    "each pair carries the same information; of each, the column less correlated with the target "
                    "can go", columns=tuple(drop), examples=tuple(pairs[:10]),
                    fix=f"for linear models drop {', '.join(repr(c) for c in drop[:8])}{' ...' if len(drop) > 8 else ''}; "
                        "trees do not mind", rule=f"|Pearson r| > {COLLINEAR_R}", extra={"pairs": pairs, "drop": drop})]


def class_imbalance(y_raw: pd.Series, metric: str | None) -> list[Finding]:
    counts = y_raw.value_counts()
    share = float(counts.iloc[-1] / counts.sum())
    ratio = float(counts.iloc[-1] / counts.iloc[0])
    if ratio >= IMBALANCE_INFO:
        return []
    severity = "warning" if ratio < IMBALANCE_WARN else "info"
    majority = float(counts.iloc[0] / counts.sum())
    detail = (f"the rarest class '{counts.index[-1]}' is {share:.1%} of rows; always predicting '{counts.index[0]}' "
              f"already scores accuracy {majority:.1%}, so accuracy says little")
    if metric:
        detail += f"; the run chooses by {metric}"
    return [Finding("target.imbalance", severity, f"class imbalance: the rarest class is {share:.1%} of rows "
                    f"({ratio:.2f} x the most frequent)", detail,
                    columns=(str(y_raw.name),), examples=tuple(f"{k}: {v}" for k, v in counts.head(5).items()),
                    fix="judge models by roc_auc, average_precision or balanced_accuracy (not accuracy); "
                        "stratified splits are already used", rule=f"rarest / most frequent class < {IMBALANCE_INFO} (warning < {IMBALANCE_WARN})",
                    extra={"ratio": round(ratio, 4)})]


def outliers(X: pd.DataFrame) -> list[Finding]:
    """Numeric values far outside the middle half: beyond OUTLIER_IQR interquartile ranges (one finding)."""
    q1, q3 = X.quantile(0.25), X.quantile(0.75)
    iqr = q3 - q1
    lo, hi = q1 - OUTLIER_IQR * iqr, q3 + OUTLIER_IQR * iqr
    mask = X.lt(lo, axis=1) | X.gt(hi, axis=1)
    mask.loc[:, ~(iqr > 0)] = False
    counts = mask.sum().sort_values(ascending=False)
    counts = counts[counts > 0]
    if counts.empty:
        return []
    rows = X.index[mask.any(axis=1).to_numpy()]
    examples = []
    for col, n in counts.head(8).items():
        values = X.loc[mask[col], col]
        worst = values.loc[(values - X[col].median()).abs().idxmax()]
        examples.append(f"{col}: {n} ({n / len(X):.1%}) outside [{lo[col]:.4g}, {hi[col]:.4g}], e.g. {worst:.4g}")
    return [Finding("column.outliers", "info", f"outlying values in {len(counts)} numeric columns",
                    f"{len(rows)} rows hold at least one", columns=tuple(counts.index), rows=_rows(rows), n_rows=len(rows),
                    examples=tuple(examples), fix="check they are real; a log transform or trees handle genuine long tails",
                    rule=f"beyond Q1 - {OUTLIER_IQR} IQR or Q3 + {OUTLIER_IQR} IQR",
                    extra={"per_column": {str(k): int(v) for k, v in counts.items()}})]


def target_drift(times: pd.Series, y_raw: pd.Series, classification: bool) -> list[Finding]:
    """Does the target change over time? Equal-count periods, tested (chi-square / Kruskal-Wallis) and sized."""
    from scipy import stats

    t = parse_times(times)
    ok = t.notna() & y_raw.notna()
    t, y = t[ok], y_raw[ok]
    n_periods = int(min(5, len(t) // 30))
    if n_periods < 2:
        return []
    period = pd.qcut(t.rank(method="first"), n_periods, labels=False).to_numpy()
    if classification:
        table = pd.crosstab(period, y.astype(str).to_numpy())
        p = float(stats.chi2_contingency(table.to_numpy())[1])
        shares = table.div(table.sum(axis=1), axis=0)
        shift = float((shares.max() - shares.min()).max())
        detail = f"class shares move by up to {shift:.1%} between periods (p = {p:.2g})"
        rule = f"chi-square p < {DRIFT_P} and a class share moving >= {DRIFT_SHIFT:.0%}"
    else:
        values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        parts = [values[period == k] for k in range(n_periods)]
        p = float(stats.kruskal(*parts).pvalue)
        means = [float(np.nanmean(x)) for x in parts]
        shift = (max(means) - min(means)) / (float(np.nanstd(values)) or 1.0)
        detail = f"period means move by {shift:.2f} standard deviations (p = {p:.2g})"
        rule = f"Kruskal-Wallis p < {DRIFT_P} and means moving >= {DRIFT_SHIFT} standard deviations"
    if p >= DRIFT_P or shift < DRIFT_SHIFT:
        return []
    return [Finding("target.drift", "warning", f"the target changes over '{times.name}'", detail,
                    columns=(str(times.name), str(y_raw.name)), fix="split by time (--time-column) so the test part is the "
                    "latest rows, and retrain regularly", rule=rule, extra={"p_value": p, "shift": round(shift, 4)})]
