"""The one way files are written and described: atomic output, SHA-256, JSON without NaN."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from trainwright.fileio import atomic_output, jsonable, sha256_file


def test_atomic_output_replaces_only_on_success_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_output(target) as tmp:
        tmp.write_text("done")
        assert not target.exists() and tmp.parent == target.parent
    assert target.read_text() == "done"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert target.read_text() == "done" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_sha256_matches_hashlib_on_a_file_larger_than_one_block(tmp_path: Path) -> None:
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_jsonable_turns_every_non_finite_float_into_none() -> None:
    value = {"a": float("nan"), 1: [np.float32(np.inf), -math.inf, 2.5], "arr": np.array([1.0, np.nan]),
             "n": np.int64(3), "p": Path("x/y"), "t": (np.float64(0.5),)}
    out = jsonable(value)
    assert out == {"a": None, "1": [None, None, 2.5], "arr": [1.0, None], "n": 3, "p": "x/y", "t": [0.5]}
    json.dumps(out, allow_nan=False)  # strict JSON
