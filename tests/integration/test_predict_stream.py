"""`trainwright predict` streams: memory does not grow with the file, row order and the id column are kept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.bundles import titanic_path
from trainwright.bundle import ExtraColumnsWarning, load
from trainwright.cli import main

BLOCK = 10_000

_MEASURE = """
import json, resource, sys
import pandas as pd
from trainwright.bundle import load
from trainwright.data import iter_table

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

model = load(sys.argv[1])
chunksize = int(sys.argv[4])
warm = next(iter_table(sys.argv[2], chunksize=min(chunksize, 10_000)))
model.predict(warm.drop(columns=["passenger_id"]))  # imports and first-call caches are not the file's cost
del warm
baseline = peak_mb()
n = model.predict_file(sys.argv[2], sys.argv[3], chunksize=chunksize, id_column="passenger_id")
print(json.dumps({"rows": n, "growth_mb": peak_mb() - baseline}))
"""


def _big_csv(path: Path, n_rows: int) -> Path:
    """n_rows of titanic rows (repeated) with a running id, written block by block."""
    rows = pd.read_csv(titanic_path()).drop(columns=["survived"])
    block = rows.sample(BLOCK, replace=True, random_state=0).reset_index(drop=True)
    with path.open("w") as handle:
        for start in range(0, n_rows, BLOCK):
            part = block.iloc[: min(BLOCK, n_rows - start)].copy()
            part.insert(0, "passenger_id", np.arange(start, start + len(part)))
            part.to_csv(handle, index=False, header=start == 0)
    return path


def _peak_rss(bundle: Path, source: Path, output: Path, chunksize: int) -> float:
    result = subprocess.run([sys.executable, "-c", _MEASURE, str(bundle), str(source), str(output), str(chunksize)],
                            capture_output=True, text=True, timeout=600, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["growth_mb"]


def _memory_does_not_grow(bundle: Path, tmp_path: Path, small: int, large: int, *, contrast: bool) -> None:
    chunk = 10_000
    peaks = {n: _peak_rss(bundle, _big_csv(tmp_path / f"in-{n}.csv", n), tmp_path / f"out-{n}.csv", chunk)
             for n in (small, large)}
    print(f"peak RSS growth while predicting in chunks of {chunk}, MB: {peaks}")
    # one chunk of 300k rows costs ~17 MB, of 2M rows ~330 MB (measured with contrast=True): far above these
    assert peaks[large] < 6 and peaks[large] - peaks[small] < 4, peaks
    if contrast:  # the large file in one chunk: what memory does when it grows with the input
        whole = _peak_rss(bundle, tmp_path / f"in-{large}.csv", tmp_path / "whole.csv", large)
        print(f"the same file in one chunk: {whole:.0f} MB")
        assert whole > 5 * max(peaks[large], 2), (whole, peaks)
    out = pd.read_csv(tmp_path / f"out-{large}.csv", usecols=["passenger_id"])
    assert len(out) == large and (out["passenger_id"].to_numpy() == np.arange(large)).all()


def test_streaming_memory_is_bounded_order_and_ids_kept(lightgbm_bundle, tmp_path):
    _memory_does_not_grow(lightgbm_bundle, tmp_path, 20_000, 200_000, contrast=False)


@pytest.mark.slow
def test_streaming_two_million_rows(lightgbm_bundle, tmp_path):
    _memory_does_not_grow(lightgbm_bundle, tmp_path, 100_000, 2_000_000, contrast=True)


def test_predict_cli_keeps_order_ids_and_values(lightgbm_bundle, tmp_path):
    source = _big_csv(tmp_path / "in.csv", 25_000)
    out = tmp_path / "scored.csv"
    assert main(["predict", str(lightgbm_bundle), str(source), "-o", str(out), "--id-column", "passenger_id",
                 "--chunksize", "3000"]) == 0
    scored = pd.read_csv(out)
    frame = pd.read_csv(source)
    with pytest.warns(ExtraColumnsWarning, match="passenger_id"):
        expected = load(lightgbm_bundle).predict(frame)
    assert list(scored.columns) == ["passenger_id", "prediction", "proba_died", "proba_survived"]
    assert scored["passenger_id"].tolist() == frame["passenger_id"].tolist()
    assert scored["prediction"].tolist() == expected["prediction"].tolist()
    np.testing.assert_allclose(scored["proba_survived"], expected["proba_survived"], rtol=1e-9)
    assert not list(tmp_path.glob(".scored.csv.tmp-*"))


def test_failed_predict_leaves_no_output(lightgbm_bundle, tmp_path, capsys):
    source = tmp_path / "bad.csv"
    frame = pd.read_csv(titanic_path()).sample(5000, replace=True, random_state=1).astype({"age": object})
    frame.loc[4500, "age"] = "not-a-number"  # in the second chunk: the first chunk was already written
    frame.to_csv(source, index=False)
    out = tmp_path / "scored.csv"
    assert main(["predict", str(lightgbm_bundle), str(source), "-o", str(out), "--chunksize", "1000"]) == 2
    assert not out.exists() and not list(tmp_path.glob(".scored*"))
    assert "age" in capsys.readouterr().err
    assert main(["predict", str(lightgbm_bundle), str(source), "-o", str(out), "--id-column", "nope"]) == 2
