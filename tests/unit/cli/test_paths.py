"""Output paths checked before any work: never an input, never a folder for a file (or a file for a folder),
never somewhere unwritable; every refusal a ConfigError (exit 2) that names the path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trainwright.cli._paths import check_output_dir, check_output_file
from trainwright.exceptions import ConfigError


def _code(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    assert exc.value.exit_code == 2
    return exc.value.problems[0].code


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "p.csv"
    path.write_text("a\n1\n")
    return path


def test_a_new_file_beside_the_input_is_fine(tmp_path: Path, data: Path) -> None:
    assert check_output_file(tmp_path / "out.csv", inputs=(data,)) == tmp_path / "out.csv"
    assert check_output_file(tmp_path / "new" / "deeper" / "out.parquet", inputs=(data,), suffixes=(".parquet",))


def test_the_input_itself_is_refused_however_it_is_spelled(tmp_path: Path, data: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(data)
    os.link(data, tmp_path / "hard.csv")
    for spelling in ("p.csv", "./p.csv", "sub/../p.csv", str(data), "link.csv", "hard.csv"):
        with pytest.raises(ConfigError, match="input of this command") as info:
            check_output_file(spelling, inputs=("p.csv",))
        assert _code(info) == "output.is_input" and spelling in str(info.value)


def test_a_file_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "runs" / "r1" / "model"
    bundle.mkdir(parents=True)
    with pytest.raises(ConfigError) as info:
        check_output_file(bundle / "scored.csv", inputs=(bundle,))
    assert _code(info) == "output.inside_input"
    with pytest.raises(ConfigError) as info:
        check_output_dir(bundle / "drift", inputs=(bundle,))
    assert _code(info) == "output.inside_input"
    assert check_output_dir(bundle.parent / "drift", inputs=(bundle,))  # beside the bundle is fine


def test_a_folder_is_not_a_file_and_a_file_is_not_a_folder(tmp_path: Path, data: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder") as info:
        check_output_file(tmp_path, inputs=(data,))
    assert _code(info) == "output.is_dir"
    with pytest.raises(ConfigError, match="is a file, not a folder") as info:
        check_output_dir(data)
    assert _code(info) == "output.not_a_dir"
    with pytest.raises(ConfigError, match="is a file, not a folder") as info:
        check_output_file(data / "out.csv")  # a path under a file
    assert _code(info) == "output.parent_not_a_dir"


def test_unsupported_extension_names_the_supported_ones(tmp_path: Path) -> None:
    for name in ("out.xlsx", "out.tsv", "out"):
        with pytest.raises(ConfigError) as info:
            check_output_file(tmp_path / name, suffixes=(".csv", ".parquet", ".pq"))
        assert _code(info) == "output.format"
        assert ".csv, .parquet, .pq" in str(info.value)
    assert check_output_file(tmp_path / "OUT.CSV", suffixes=(".csv",))


def test_output_dir_would_overwrite_an_input_by_name(tmp_path: Path) -> None:
    data = tmp_path / "reports" / "drift.json"
    data.parent.mkdir()
    data.write_text("{}")
    with pytest.raises(ConfigError) as info:
        check_output_dir(tmp_path / "reports", inputs=(data,), files=("drift.json", "drift.html"))
    assert _code(info) == "output.is_input" and "drift.json" in str(info.value)


def test_a_non_empty_folder_is_refused_when_the_writer_needs_an_empty_one(tmp_path: Path, data: Path) -> None:
    assert check_output_dir(tmp_path / "new", empty=True)
    (tmp_path / "empty").mkdir()
    assert check_output_dir(tmp_path / "empty", empty=True)
    with pytest.raises(ConfigError, match="not empty") as info:
        check_output_dir(tmp_path, empty=True)
    assert _code(info) == "output.not_empty"


@pytest.fixture
def locked(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """A folder the user may not write: read-only by its mode, and by ``os.access`` too where the tests run as root
    (who may write anywhere)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == folder else real(p, mode))
    yield folder
    folder.chmod(0o700)


def test_an_unwritable_folder_is_refused(locked: Path) -> None:
    with pytest.raises(ConfigError, match="not writable") as info:
        check_output_file(locked / "out.csv")
    assert _code(info) == "output.not_writable" and str(locked) in str(info.value)
    with pytest.raises(ConfigError, match="not writable"):
        check_output_dir(locked / "reports")
