"""Train / validation / test: stratified, grouped or by time, with real duplicates kept in one part (identical rows
that independent records would produce by chance are not forced together), then checked: the manifest says whether
the parts look like the file (``balance``), not only what was asked."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from trainwright.data.balance import part_balance
from trainwright.data.collisions import identical_rows
from trainwright.data.times import time_order
from trainwright.exceptions import DataError, Problem

__all__ = ["Split", "make_split", "row_hashes", "rows_of"]


@dataclass(frozen=True)
class Split:
    """Row labels (the file's 0-based data row numbers) of each part, and how they were drawn."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    strategy: str
    random_state: int
    fingerprint: str
    groups: np.ndarray = field(repr=False)  # component id per row id, in ascending row-id order
    n_rows_with_twins: int = 0
    contamination: dict[str, Any] = field(default_factory=dict)
    identical: dict[str, Any] = field(default_factory=dict)  # identical rows: observed, expected by chance, duplicates
    balance: dict[str, Any] = field(default_factory=dict)  # what the parts achieved (data/balance.py part_balance)

    @property
    def achieved(self) -> dict[str, Any]:
        """What the split achieved, in a few words: stratified (target within noise in every part), the largest gap."""
        b = self.balance
        largest = b.get("largest_gap") or {}
        return {"stratified": b.get("stratified"), "largest_gap": largest.get("text"),
                "warnings": list(b.get("warnings", [])),
                "duplicates_kept_together": int(self.identical.get("duplicate_rows", 0)),
                "identical_rows_expected_by_chance": self.identical.get("verdict") == "expected by chance"}

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    def manifest(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "random_state": self.random_state, "fingerprint": self.fingerprint,
            "sizes": self.sizes, "n_rows_with_twins": self.n_rows_with_twins, "contamination": self.contamination,
            "achieved": self.achieved, "identical_rows": self.identical, "balance": self.balance,
            "rows": {"train": self.train.tolist(), "validation": self.validation.tolist(), "test": self.test.tolist()},
        }


def rows_of(X: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows with these labels, in this order, and their positions in ``X``.

    When the labels are a contiguous run of ``X`` (as after the workflow orders ``X`` by part) the rows come back as a
    slice, which pandas shares with ``X`` instead of copying: at 1M rows a copied train part is ~110 MB.
    """
    pos = X.index.get_indexer(labels)
    if (pos < 0).any():
        raise KeyError(f"{int((pos < 0).sum())} row labels are not in the frame (first: {labels[pos < 0][0]!r})")
    if len(pos) and pos[-1] - pos[0] == len(pos) - 1 and np.array_equal(pos, np.arange(pos[0], pos[0] + len(pos))):
        return X.iloc[pos[0]:pos[0] + len(pos)], pos
    return X.iloc[pos], pos


def row_hashes(X: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of feature values: equal rows, equal hashes."""
    return pd.util.hash_pandas_object(X, index=False).to_numpy()


def _components(hashes: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Rows sharing a feature hash or a user group end up in the same component."""
    _, h = np.unique(hashes, return_inverse=True)
    if groups is None:
        return h
    _, g = np.unique(groups, return_inverse=True)
    n_h, n_g = h.max() + 1, g.max() + 1
    graph = coo_matrix((np.ones(len(h)), (h, n_h + g)), shape=(n_h + n_g, n_h + n_g))
    _, labels = connected_components(graph, directed=False)
    return labels[h]


def _strata(y: pd.Series, classification: bool) -> np.ndarray:
    if classification:
        return pd.factorize(y)[0]
    n_bins = int(min(5, max(1, len(y) // 50)))
    if n_bins < 2:
        return np.zeros(len(y), dtype=int)
    return pd.qcut(y.rank(method="first"), n_bins, labels=False).to_numpy()


def _assign(comp: np.ndarray, strata: np.ndarray, fractions: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Part per row (0 train, 1 validation, 2 test), stratum by stratum, whole components at a time.

    Multi-row components (twins, groups) go first, largest first, each to the part furthest below its goal;
    single rows then fill what each part still lacks, in random order, so the fractions come out exact.
    """
    part = np.zeros(len(comp), dtype=np.int8)
    frame = pd.DataFrame({"comp": comp, "stratum": strata})
    comp_size = frame.groupby("comp").size()
    comp_stratum = frame.groupby("comp")["stratum"].first()
    comp_part = pd.Series(0, index=comp_size.index, dtype=np.int8)
    shares = np.array([1.0 - fractions[0] - fractions[1], fractions[0], fractions[1]])
    carry = np.zeros(3)  # rounding left over from earlier strata, so the totals stay within a row of the goal
    for _, members in comp_stratum.groupby(comp_stratum):
        ids = members.index.to_numpy()
        ids = ids[rng.permutation(len(ids))]
        sizes = comp_size.loc[ids].to_numpy()
        goal = shares * sizes.sum()
        filled = np.zeros(3)
        multi = np.argsort(-sizes, kind="stable")[: int((sizes > 1).sum())]
        for i in multi:
            k = int(np.argmax((goal - filled) / goal + np.array([0.0, 1e-9, 2e-9])))  # ties go to test, then validation
            comp_part.loc[ids[i]] = k
            filled[k] += sizes[i]
        singles = ids[sizes == 1]
        need = np.maximum(goal - filled, 0) + carry
        n_test = int(min(len(singles), max(round(need[2]), 0)))
        n_val = int(min(len(singles) - n_test, max(round(need[1]), 0)))
        if len(singles) and n_test == 0 and filled[2] == 0:
            n_test = 1
        if len(singles) - n_test > 0 and n_val == 0 and filled[1] == 0:
            n_val = 1
        comp_part.loc[singles[:n_test]] = 2
        comp_part.loc[singles[n_test:n_test + n_val]] = 1
        carry[1:] = need[1:] - (n_val, n_test)
    part[:] = comp_part.loc[comp].to_numpy()
    return part


def _fingerprint(*parts: np.ndarray) -> str:
    digest = hashlib.sha256()
    for p in parts:
        digest.update(np.ascontiguousarray(p, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:16]


def make_split(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    classification: bool,
    fractions: tuple[float, float, float] = (0.70, 0.15, 0.15),
    random_state: int = 0,
    groups: pd.Series | None = None,
    time: pd.Series | None = None,
    identifiers: pd.DataFrame | None = None,
) -> Split:
    """Split rows of ``X`` (features only) and ``y``; index labels are kept as row ids.

    Only real duplicates are kept in one part (``identical_rows``: identical rows beyond what chance gives); identical
    rows that independent records would produce anyway are split like any other row. Strata are kept either way."""
    hashes = row_hashes(X)
    identical = identical_rows(X, random_state=random_state)
    _, link = np.unique(hashes, return_inverse=True)
    link = np.where(identical.duplicate, link, len(link) + np.arange(len(link)))  # chance collisions: rows of their own
    comp = _components(link, None if groups is None else groups.astype(str).to_numpy())
    n_twins = identical.n_duplicate
    if time is not None:
        order = np.argsort(time_order(time), kind="stable")
        n = len(order)
        n_test, n_val = max(1, round(fractions[2] * n)), max(1, round(fractions[1] * n))
        part = np.zeros(n, dtype=np.int8)
        part[order[n - n_test:]] = 2
        part[order[n - n_test - n_val:n - n_test]] = 1
        strategy = "time"
    else:
        rng = np.random.default_rng(random_state)
        part = _assign(comp, _strata(y, classification), (fractions[1], fractions[2]), rng)
        strategy = "grouped" if groups is not None else ("stratified" if classification else "stratified-quantiles")
    index = X.index.to_numpy()
    train, val, test = (np.sort(index[part == k]) for k in (0, 1, 2))
    if min(len(train), len(val), len(test)) == 0:
        raise DataError("not enough rows to split", [Problem(
            "split.empty_part", f"sizes train={len(train)}, validation={len(val)}, test={len(test)}",
            fix="add rows, or use fewer/larger groups")])
    in_train = part == 0
    contamination: dict[str, Any] = {
        "test_rows_with_twin_in_train": int(np.isin(hashes[part == 2], hashes[in_train]).sum()),
        "validation_rows_with_twin_in_train": int(np.isin(hashes[part == 1], hashes[in_train]).sum()),
    }
    if groups is not None:
        g = groups.astype(str).to_numpy()
        contamination["groups_shared_train_test"] = len(np.intersect1d(g[in_train], g[part == 2]))
    id_frame = identifiers if identifiers is not None else pd.DataFrame(index=X.index)
    for col in id_frame.columns:  # as text: an identifier column of mixed types (numbers and words) still compares
        present = id_frame[col].notna().to_numpy()
        vals = id_frame[col].astype(str).to_numpy()
        contamination[f"identifier_{col}_shared_train_test"] = len(np.intersect1d(
            pd.unique(vals[in_train & present]), pd.unique(vals[(part == 2) & present])))
    if identical.n_identical > identical.n_duplicate:
        contamination["twins_expected_by_chance"] = True
    balance = part_balance(X, y, {"train": train, "validation": val, "test": test}, classification=classification,
                           random_state=random_state)
    return Split(train=train, validation=val, test=test, strategy=strategy, random_state=random_state,
                 fingerprint=_fingerprint(train, val, test), groups=comp[np.argsort(index, kind="stable")],
                 n_rows_with_twins=n_twins,
                 contamination=contamination, identical=identical.summary(), balance=balance)
