"""The data doctor on real data with planted defects, and each check on a constructed case with a known answer."""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.conftest import dataset_path
from trainwright.data import infer_schema, infer_task
from trainwright.exceptions import DataError
from trainwright.hygiene import apply_fixes, audit_frame, audit_split, preflight, split_twins
from trainwright.hygiene.checks import COLLINEAR_R
from trainwright.hygiene.leakage import single_column_skill
from trainwright.training import label_probabilities_for

N_FLIPS_SHARE = 0.05


def planted() -> tuple[pd.DataFrame, dict]:
    """breast_cancer + 5% flipped labels, a leaked column, an ID column, 3 exact duplicates, 1 conflicting one."""
    frame = pd.read_csv(dataset_path("breast_cancer"))
    rng = np.random.default_rng(7)
    n = len(frame)
    flips = rng.choice(n, int(N_FLIPS_SHARE * n), replace=False)
    y = frame["diagnosis"].copy()
    y.iloc[flips] = np.where(y.iloc[flips] == "malignant", "benign", "malignant")
    frame["diagnosis"] = y
    frame["biopsy_score"] = (y == "malignant").astype(float) * 10 + rng.normal(0, 1, n)  # recorded after diagnosis
    frame.insert(0, "patient_id", rng.permutation(10**6)[:n])
    dups = frame.iloc[[3, 10, 20]]
    conflict = frame.iloc[[30]].assign(diagnosis=lambda d: np.where(d["diagnosis"] == "malignant", "benign", "malignant"))
    out = pd.concat([frame, dups, conflict], ignore_index=True)
    return out, {"flips": set(int(i) for i in flips), "dups": {n, n + 1, n + 2}, "conflict": {30, n + 3}}


@pytest.fixture(scope="module")
def planted_audit():
    frame, truth = planted()
    return audit_frame(frame, "diagnosis", source="planted breast_cancer", label_probabilities=label_probabilities_for()), frame, truth


def test_planted_defects_are_each_found(planted_audit):
    report, _, truth = planted_audit
    codes = report.codes()
    exact = report.by_code("duplicates.exact")[0]
    assert set(exact.rows) == truth["dups"] and exact.severity == "warning" and exact.fix
    conflict = report.by_code("duplicates.conflicting")[0]
    assert set(conflict.rows) == truth["conflict"]
    assert any(f.columns == ("biopsy_score",) for f in report.findings if f.code.startswith("leakage")), codes
    assert any(f.columns == ("patient_id",) for f in report.by_code("column.identifier"))
    labels = report.by_code("labels.suspect")[0]
    found = set(report.extra["label_issue_rows"])
    hits = found & truth["flips"]
    recall, precision = len(hits) / len(truth["flips"]), len(hits) / len(found)
    print(f"\nplanted flips: {len(truth['flips'])}, flagged {len(found)}, recall {recall:.2f}, precision {precision:.2f}")
    assert recall >= 0.7 and precision >= 0.5, (recall, precision)
    assert labels.rule.startswith("cleanlab") and labels.examples
    for f in report.findings:
        assert f.severity in {"info", "warning", "blocking"} and f.code and f.title and f.rule
    json.dumps(report.to_dict())  # plain data all the way down


def test_findings_come_most_serious_first(planted_audit):
    order = {"blocking": 0, "warning": 1, "info": 2}
    ranks = [order[f.severity] for f in planted_audit[0].findings]
    assert ranks == sorted(ranks)


def test_target_copy_is_blocking_and_train_preflight_refuses_unless_forced(frame):
    df = frame("iris")
    df["label_code"] = df["species"].map({"setosa": 10, "versicolor": 20, "virginica": 30})
    task, schema = infer_task(df["species"]), infer_schema(df, "species")
    report = audit_frame(df, "species", label_noise=False)
    assert [f.columns for f in report.blocking] == [("label_code",)]
    with pytest.raises(DataError) as err:
        preflight(df, task, schema, force=False)
    assert "label_code" in str(err.value) and "--force" in str(err.value)
    assert preflight(df, task, schema, force=True).blocking


def test_single_column_skill_matches_sklearn_auc():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    x = pd.Series(y * 0.8 + rng.normal(size=500))
    score, base = single_column_skill(x, y, classification=True)
    reference = roc_auc_score(y, x)
    assert base == 0.5 and score == pytest.approx(max(reference, 1 - reference), abs=1e-12)


def test_identifier_that_runs_with_the_target_is_flagged():
    rng = np.random.default_rng(1)
    n = 400
    x = rng.normal(size=n)
    y = np.where(x + rng.normal(size=n) > 0, "yes", "no")
    ordered = pd.DataFrame({"x": x, "y": y}).sort_values("y").reset_index(drop=True)
    ordered["row_id"] = np.arange(n) + 1000
    found = audit_frame(ordered, "y", label_noise=False).by_code("leakage.identifier_order")
    assert [f.columns for f in found] == [("row_id",)]
    shuffled = ordered.sample(frac=1, random_state=0).reset_index(drop=True)
    shuffled["row_id"] = np.arange(n) + 1000
    assert not audit_frame(shuffled, "y", label_noise=False).by_code("leakage.identifier_order")


def test_column_checks_on_a_constructed_table():
    rng = np.random.default_rng(2)
    n = 600
    df = pd.DataFrame({
        "const": 1, "rare": np.where(np.arange(n) < 3, "b", "a"), "holes": np.where(np.arange(n) % 3 == 0, np.arange(n) % 2, np.nan),
        "city": [f"c{i % 120}" for i in range(n)], "x": rng.normal(size=n), "y": rng.integers(0, 2, n),
    })
    report = audit_frame(df, "y", label_noise=False)
    got = {(f.code, f.columns[0]) for f in report.findings if f.columns}
    assert {("column.constant", "const"), ("column.near_constant", "rare"), ("column.mostly_missing", "holes"),
            ("column.high_cardinality", "city")} <= got


def test_collinear_pairs_match_numpy_and_drop_the_weaker_one():
    rng = np.random.default_rng(3)
    n = 500
    a = rng.normal(size=n)
    df = pd.DataFrame({"a": a, "a_noisy": a + rng.normal(0, 0.15, n), "b": rng.normal(size=n)})
    df["y"] = a * 2 + df["b"] + rng.normal(size=n)
    found = audit_frame(df, "y").by_code("columns.collinear")
    r = np.corrcoef(df["a"], df["a_noisy"])[0, 1]
    assert r > COLLINEAR_R and len(found) == 1
    assert found[0].extra["drop"] == ["a_noisy"] and f"{r:.3f}" in found[0].examples[0]


def test_imbalance_outliers_and_drift():
    rng = np.random.default_rng(4)
    n = 1000
    x = rng.normal(size=n)
    x[:7] = 50.0
    days = pd.date_range("2024-01-01", periods=n, freq="D")
    y = np.where(rng.random(n) < np.linspace(0.02, 0.3, n), "churn", "stay")
    df = pd.DataFrame({"x": x, "day": days.astype(str), "y": y})
    report = audit_frame(df, "y", time_column="day", label_noise=False)
    imbalance = report.by_code("target.imbalance")[0]
    assert "roc_auc" in imbalance.fix and "accuracy" in imbalance.detail
    q1, q3 = np.quantile(x, [0.25, 0.75])
    expected = int(((x < q1 - 3 * (q3 - q1)) | (x > q3 + 3 * (q3 - q1))).sum())
    assert report.by_code("column.outliers")[0].extra["per_column"]["x"] == expected >= 7
    assert report.by_code("target.drift")[0].extra["p_value"] < 1e-3
    steady = df.assign(y=np.where(rng.random(n) < 0.15, "churn", "stay"))
    assert not audit_frame(steady, "y", time_column="day", label_noise=False).by_code("target.drift")


def test_bad_time_column_and_missing_target_are_clear_errors(frame):
    df = frame("iris")
    with pytest.raises(DataError, match="cannot audit") as err:
        audit_frame(df, "specis")
    assert "species" in str(err.value)
    with pytest.raises(DataError) as err:
        audit_frame(df, "species", time_column="when")
    assert "when" in str(err.value)


def test_split_twins_finds_near_identical_test_rows(frame):
    df = frame("wine")
    copies = df.sample(40, random_state=0).copy()
    copies[df.columns[0]] = copies[df.columns[0]] * (1 + 1e-6)  # near-identical, not identical
    both = pd.concat([df, copies], ignore_index=True)
    report = split_twins(both, audit_frame(both, "cultivar", label_noise=False))
    near = report.by_code("split.test_near_twins")
    assert near and near[0].n_rows >= 1 and report.extra["split"]["test"] > 0


def test_audit_split_counts_exact_twins_like_isin():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 1.0, 5.0, 2.0], "b": list("xyzxwy")})
    from trainwright.data.split import Split

    split = Split(train=np.array([0, 1]), validation=np.array([2]), test=np.array([3, 4, 5]), strategy="manual",
                  random_state=0, fingerprint="", groups=np.arange(6))
    exact = [f for f in audit_split(X, split) if f.code == "split.test_twins"]
    assert exact[0].rows == (3, 5)


def test_fix_writes_a_clean_copy_and_never_touches_the_original(tmp_path, planted_audit):
    report, frame, truth = planted_audit
    source = tmp_path / "patients.csv"
    frame.to_csv(source, index=False)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    result = apply_fixes(source, pd.read_csv(source), report)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    cleaned = pd.read_csv(result.cleaned)
    assert result.cleaned == tmp_path / "patients.clean.csv"
    assert len(cleaned) == len(frame) - len(truth["dups"]) and "patient_id" not in cleaned.columns
    record = json.loads(result.changes_file.read_text())
    actions = {(c["action"], c.get("column")) for c in record["changes"]}
    assert ("drop_column", "patient_id") in actions and ("drop_rows", None) in actions
    dropped = next(c for c in record["changes"] if c["action"] == "drop_rows")["rows"]
    assert set(dropped) == truth["dups"]


def test_preflight_is_fast_at_100k_rows():
    rng = np.random.default_rng(5)
    n = 100_000
    df = pd.DataFrame(rng.normal(size=(n, 16)), columns=[f"x{i}" for i in range(16)])
    for i in range(4):
        df[f"c{i}"] = rng.choice(list("abcdefgh"), n)
    df["y"] = np.where(df["x0"] + rng.normal(size=n) > 0, "yes", "no")
    task, schema = infer_task(df["y"]), infer_schema(df, "y")
    start = time.perf_counter()
    report = preflight(df, task, schema, force=False)
    seconds = time.perf_counter() - start
    print(f"\npre-flight audit of 100k x 20: {seconds:.2f} s")
    assert seconds < 3.0 and not report.blocking  # ~0.35 s on an idle 2-core machine


def test_label_noise_with_a_small_lightgbm_as_the_out_of_fold_model():
    frame, truth = planted()
    report = audit_frame(frame, "diagnosis", label_probabilities=label_probabilities_for("lightgbm"))
    found = set(report.extra["label_issue_rows"])
    recall = len(found & truth["flips"]) / len(truth["flips"])
    print(f"\nlightgbm out-of-fold: recall {recall:.2f}, precision {len(found & truth['flips']) / len(found):.2f}")
    assert recall >= 0.7 and any("lightgbm" in c for c in report.checks)


def test_label_probabilities_are_injected_and_cleanlab_judges_them():
    rng = np.random.default_rng(8)
    n = 300
    df = pd.DataFrame({"row_id": np.arange(n), "x": rng.normal(size=n), "colour": rng.choice(["red", "blue"], n)})
    df["y"] = np.where(df["x"] + rng.normal(size=n) > 0, "yes", "no")
    df["score"] = (df["y"] == "yes") * 10.0 + rng.normal(0, 0.1, n)  # leaked: left out of the label model's inputs
    suspects = [5, 17, 42]
    calls = []

    def planted_oof(X, y, schema, random_state):
        calls.append((list(X.columns), sorted(set(y.tolist())), schema.target, random_state, X.index))
        p = np.full((len(y), 2), 0.02)
        p[np.arange(len(y)), y] = 0.98
        wrong = np.isin(X.index, suspects)
        p[wrong] = p[wrong][:, ::-1]  # confident in the other class
        return p

    report = audit_frame(df, "y", label_probabilities=planted_oof, random_state=3)
    [(columns, codes, target, seed, index)] = calls
    assert columns == ["x", "colour"] and codes == [0, 1] and target == "y" and seed == 3 and list(index) == list(df.index)
    assert set(report.extra["label_issue_rows"]) == set(suspects)
    assert any("planted_oof" in c for c in report.checks)
    task, schema = infer_task(df["y"]), infer_schema(df, "y")
    assert preflight(df, task, schema, force=True, label_probabilities=planted_oof).by_code("labels.suspect")
    assert not preflight(df, task, schema, force=True).by_code("labels.suspect")


def test_regression_targets_copy_only_when_truly_copied():
    rng = np.random.default_rng(6)
    n = 300
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    df["price"] = 3 * df["x"] + rng.normal(size=n)  # distinct floats pair one-to-one with x: not a copy
    assert not audit_frame(df, "price").blocking
    df["price_in_cents"] = df["price"] * 100
    assert [f.columns for f in audit_frame(df, "price").blocking] == [("price_in_cents",)]


@pytest.mark.parametrize(("name", "target"), [("titanic", "survived"), ("credit_data", "Status"), ("vega_cars", "Miles_per_Gallon")])
def test_identical_rows_agree_with_pandas_and_are_told_apart_from_chance(frame, name, target):
    """Every extra copy pandas sees is reported once: as a duplicate, or (titanic: six low-information columns,
    different passengers) as expected by chance, with no advice to drop it."""
    df = frame(name)
    report = audit_frame(df, target, label_noise=False)
    found = report.by_code("duplicates.exact") + report.by_code("duplicates.expected")
    reference = df.index[df.duplicated(keep="first")]
    assert sum(f.n_rows for f in found) == len(reference)
    assert set().union(*(set(f.rows) for f in found)) == set(reference[:200]) or len(reference) > 200
    if name == "titanic":
        assert not report.by_code("duplicates.exact") and report.by_code("duplicates.expected")[0].severity == "info"
        assert "drop" not in report.by_code("duplicates.expected")[0].fix
        assert all(f.severity == "info" for f in report.by_code("duplicates.conflicting"))
    else:
        assert found[0].code == "duplicates.exact" and found[0].severity == "warning"
