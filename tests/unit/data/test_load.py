"""Loader: sniffed CSV delimiters and encodings, Parquet, JSON Lines, and clean errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import dataset_path
from trainwright.data import file_fingerprint, frame_fingerprint, iter_table, load_table
from trainwright.exceptions import DataError


@pytest.fixture
def penguins() -> pd.DataFrame:
    return pd.read_csv(dataset_path("penguins"))


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert a.shape == b.shape
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


def test_csv_real_file_loads_like_pandas(penguins: pd.DataFrame) -> None:
    _same(load_table(dataset_path("penguins")), penguins)


@pytest.mark.parametrize(("sep", "suffix"), [(";", ".csv"), ("\t", ".csv"), ("\t", ".tsv"), ("|", ".txt")])
def test_delimiter_is_sniffed(tmp_path: Path, penguins: pd.DataFrame, sep: str, suffix: str) -> None:
    path = tmp_path / f"penguins{suffix}"
    penguins.to_csv(path, sep=sep, index=False)
    _same(load_table(path), penguins)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_non_utf8_encodings(tmp_path: Path, encoding: str) -> None:
    frame = pd.DataFrame({"name": ["Zoë", "François", "Müller", "Åsa"] * 5, "amount": range(20), "y": [0, 1] * 10})
    if encoding == "cp1252":
        frame.loc[0, "name"] = "Café €5 – “quoted”"  # characters only cp1252 has
    path = tmp_path / "people.csv"
    frame.to_csv(path, sep=";", index=False, encoding=encoding)
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    loaded = load_table(path)
    assert loaded["name"].tolist() == frame["name"].tolist()
    assert loaded["amount"].tolist() == list(range(20))


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,b\n1,x\n2,y\n".encode())
    assert list(load_table(path).columns) == ["a", "b"]


def test_parquet(tmp_path: Path, penguins: pd.DataFrame) -> None:
    path = tmp_path / "penguins.parquet"
    penguins.to_parquet(path, index=False)
    _same(load_table(path), penguins)


def test_json_lines(tmp_path: Path, penguins: pd.DataFrame) -> None:
    path = tmp_path / "penguins.jsonl"
    penguins.to_json(path, orient="records", lines=True)
    loaded = load_table(path)
    assert list(loaded.columns) == list(penguins.columns)
    assert len(loaded) == len(penguins)
    assert loaded["species"].tolist() == penguins["species"].tolist()
    pd.testing.assert_series_equal(loaded["bill_length_mm"], penguins["bill_length_mm"], check_dtype=False)


def test_iter_table_chunks_add_up(tmp_path: Path, penguins: pd.DataFrame) -> None:
    path = tmp_path / "p.csv"
    penguins.to_csv(path, sep=";", index=False)
    chunks = list(iter_table(path, chunksize=100))
    assert [len(c) for c in chunks] == [100, 100, 100, 44]
    _same(pd.concat(chunks), penguins)
    pq = tmp_path / "p.parquet"
    penguins.to_parquet(pq, index=False)
    assert sum(len(c) for c in iter_table(pq, chunksize=100)) == len(penguins)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError) as info:
        load_table(path)
    assert str(path) in info.value.message
    assert info.value.problems[0].code == "data.missing" and info.value.problems[0].fix
    assert info.value.exit_code == 2


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_table(tmp_path)
    assert info.value.problems[0].code == "data.not_a_file"


@pytest.mark.parametrize("content", [b"", b"a,b,c\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_table(path)
    assert str(path) in info.value.message
    assert info.value.problems[0].code == "data.empty"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.parquet", b"PAR1 this is not parquet at all"),
        ("broken.jsonl", b'{"a": 1}\n{"a": \n not json\n'),
        ("binary.csv", bytes(range(256)) * 4),
        ("ragged.csv", b'a,b\n1,2\n"unterminated,3\n4,5,6,7\n'),
    ],
)
def test_unparsable_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_table(path)
    assert str(path) in info.value.message
    problem = info.value.problems[0]
    assert problem.code in {"data.unreadable", "data.empty"}
    assert problem.fix


def test_fingerprints(tmp_path: Path, penguins: pd.DataFrame) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    penguins.to_csv(a, index=False)
    penguins.to_csv(b, index=False)
    assert file_fingerprint(a) == file_fingerprint(b)
    assert frame_fingerprint(load_table(a)) == frame_fingerprint(load_table(b))
    changed = penguins.copy()
    changed.loc[5, "bill_length_mm"] = 99.9
    assert frame_fingerprint(changed) != frame_fingerprint(penguins)
