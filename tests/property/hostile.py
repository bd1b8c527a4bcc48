"""Hostile inputs, generated: broken or odd tables and configs, and the one rule every command must keep with them.

A table starts as a tiny clean frame (a number, a category, a date, a text column and the target ``y``) and gets a
random set of defects: ragged rows, a Latin-1 byte, a byte-order mark, NUL bytes, quoted newlines, duplicate, empty,
unicode or whitespace column names, mixed types, decimal commas, inf and huge numbers (in features and target),
dates in mixed formats and time zones, a one-class or all-missing target, an all-missing feature, a header-only,
one-row or empty file. ``check`` is the rule: a valid result or the documented error (one ``error:`` message, the
documented exit code, no traceback) and no partial file left behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

DEFECTS = ("ragged_short", "ragged_long", "latin1_byte", "bom", "nul", "quoted_newline", "dup_names", "empty_name",
           "unicode_names", "space_names", "mixed_types", "decimal_comma", "inf_feature", "huge_feature", "inf_target",
           "huge_target", "mixed_dates", "one_class", "target_all_missing", "feature_all_missing", "header_only",
           "one_row", "empty_file", "regression", "multiclass", "crlf", "semicolons", "all_text_target")


@dataclass
class Table:
    """A generated input file: its bytes, the target's name as written, the defects applied."""

    content: bytes
    target: str
    defects: tuple[str, ...]
    suffix: str = ".csv"
    columns: list[str] = field(default_factory=list)

    def write(self, folder: Path, stem: str = "data") -> Path:
        path = folder / f"{stem}{self.suffix}"
        path.write_bytes(self.content)
        return path


def _cells(n: int, rng: Any, defects: set[str]) -> tuple[list[str], list[list[str]]]:
    header = ["num", "cat", "when", "note", "y"]
    rows = []
    for i in range(n):
        num = f"{rng.uniform(-5, 5):.3f}"
        cat = rng.choice(["red", "green", "blue"])
        when = f"2024-0{1 + i % 9}-1{i % 10}"
        note = rng.choice(["fine", "late again", "ok ok", "no"])
        if "regression" in defects:
            y = f"{rng.uniform(0, 100):.2f}"
        elif "multiclass" in defects:
            y = rng.choice(["a", "b", "c"])
        elif "all_text_target" in defects:
            y = rng.choice(["yes", "no"])
        else:
            y = str(int(float(num) + rng.gauss(0, 1) > 0))
        rows.append([num, cat, when, note, y])
    return header, rows


def _apply_cells(header: list[str], rows: list[list[str]], defects: set[str], rng: Any) -> None:
    n = len(rows)
    pick = (lambda: rng.randrange(n)) if n else (lambda: 0)
    for _ in range(3 if n else 0):
        if "mixed_types" in defects:
            rows[pick()][0] = rng.choice(["abc", "12%", "N/A", "1.2.3", "TRUE"])
        if "decimal_comma" in defects:
            i = pick()
            rows[i][0] = rows[i][0].replace(".", ",")
        if "inf_feature" in defects:
            rows[pick()][0] = rng.choice(["inf", "-inf", "Infinity", "1e400"])
        if "huge_feature" in defects:
            rows[pick()][0] = rng.choice(["1e308", "-1.7e308", "123456789012345678901234567890"])
        if "inf_target" in defects:
            rows[pick()][4] = rng.choice(["inf", "-inf"])
        if "mixed_dates" in defects:
            rows[pick()][2] = rng.choice(["03/04/2024", "2024-01-05T10:00:00+05:30", "5 Jan 2024", "2024-01-05Z",
                                          "yesterday", "2024-13-45", "1700000000"])
        if "latin1_byte" in defects:
            rows[pick()][1] = "caf\udce9"  # becomes the single byte 0xE9 (Latin-1 é) in an otherwise UTF-8 file
        if "nul" in defects:
            rows[pick()][3] = "a\x00b"
        if "quoted_newline" in defects:
            rows[pick()][3] = "line one\nline two"
    if "huge_target" in defects:
        for row in rows:
            row[4] = rng.choice(["1e308", "-1e308", "1.5e308"])
    if "one_class" in defects:
        for row in rows:
            row[4] = rows[0][4]
    if "target_all_missing" in defects:
        for row in rows:
            row[4] = ""
    if "feature_all_missing" in defects:
        for row in rows:
            row[0] = ""
    if "dup_names" in defects:
        header[1] = "num"
    if "empty_name" in defects:
        header[3] = ""
    if "unicode_names" in defects:
        header[0], header[2] = "größe €", "日付"
    if "space_names" in defects:
        header[1] = " cat "


def _quote(cell: str, sep: str) -> str:
    if any(ch in cell for ch in (sep, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _render(header: list[str], rows: list[list[str]], defects: set[str], rng: Any) -> bytes:
    sep = ";" if "semicolons" in defects or ("decimal_comma" in defects and rng.random() < 0.5) else ","
    lines = [sep.join(_quote(c, sep) for c in header)]
    for i, row in enumerate(rows):
        cells = list(row)
        if "ragged_short" in defects and i % 4 == 1:
            cells = cells[:-2]
        if "ragged_long" in defects and i % 5 == 2:
            cells = [*cells, "extra", "more"]
        lines.append(sep.join(_quote(c, sep) for c in cells))
    text = ("\r\n" if "crlf" in defects else "\n").join(lines) + "\n"
    data = text.encode("utf-8", errors="surrogateescape")
    if "bom" in defects:
        data = b"\xef\xbb\xbf" + data
    return data


def make_table(defects: set[str], n_rows: int, seed: int) -> Table:
    import random

    rng = random.Random(seed)
    if "header_only" in defects:
        n_rows = 0
    elif "one_row" in defects:
        n_rows = 1
    header, rows = _cells(n_rows, rng, defects)
    _apply_cells(header, rows, defects, rng)
    content = b"" if "empty_file" in defects else _render(header, rows, defects, rng)
    return Table(content, header[4], tuple(sorted(defects)), columns=header)


@st.composite
def tables(draw: Any, max_defects: int = 3, n_rows: tuple[int, int] = (30, 60)) -> Table:
    chosen = draw(st.sets(st.sampled_from(DEFECTS), max_size=max_defects))
    return make_table(set(chosen), draw(st.integers(*n_rows)), draw(st.integers(0, 2**16)))


# --- configs and seeds ------------------------------------------------------------------------------------------

CONFIG_KEYS = {"preset": st.sampled_from(["quick", "turbo", 3, None]), "seed": st.one_of(
    st.integers(-(2**40), 2**40), st.text(max_size=4), st.floats(allow_nan=True)),
    "time_budget": st.one_of(st.integers(-5, 100), st.text(max_size=3)), "modles": st.just("dummy"),
    "models": st.one_of(st.just(["dummy", "linear"]), st.just("dummy"), st.just([]), st.just(["nope"])),
    "split": st.one_of(st.just({"train": 0.9, "validation": 0.3}), st.just("half"), st.just({"tset": 0.2})),
    "tracking": st.one_of(st.just(False), st.just("maybe"))}


@st.composite
def configs(draw: Any) -> tuple[bytes, dict[str, Any]]:
    """A YAML config: a few keys, some unknown or of the wrong type; sometimes a Latin-1 byte or broken YAML."""
    keys = draw(st.sets(st.sampled_from(sorted(CONFIG_KEYS)), min_size=1, max_size=3))
    values = {k: draw(CONFIG_KEYS[k]) for k in keys}
    values.setdefault("models", ["dummy", "linear"])
    values.setdefault("preset", "quick")
    text = "\n".join(f"{k}: {json.dumps(v)}" for k, v in values.items()) + "\n"
    flavour = draw(st.sampled_from(["plain", "plain", "latin1", "broken", "list", "bom"]))
    if flavour == "latin1":
        text = "# r\udce9sum\u00e9\n" + text
    elif flavour == "broken":
        text += "split: {train: [\n"
    elif flavour == "list":
        text = "- just\n- a list\n"
    data = text.encode("utf-8", errors="surrogateescape")
    if flavour == "latin1":
        data = data.replace("\u00e9".encode(), b"\xe9")
    if flavour == "bom":
        data = b"\xef\xbb\xbf" + data
    return data, values


SEEDS = st.one_of(st.integers(-(2**70), -1), st.integers(2**32 - 2, 2**70), st.sampled_from(
    ["abc", "1.5", "", "0x10", "-0", "1e3", "٣"]), st.integers(0, 2**31))


# --- running a command in-process and the rule it must keep -----------------------------------------------------

@dataclass
class Outcome:
    code: int
    out: str
    err: str


def run(*args: Any) -> Outcome:
    """``trainwright ARGS`` in this process (``cli.main``), output captured, warnings as a user sees them (not
    errors: pytest's warnings-as-errors would turn a user's yellow line into a crash)."""
    from trainwright.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([str(a) for a in args])
    return Outcome(code, out.getvalue(), err.getvalue())


LEFTOVER_PATTERNS = ("*.tmp", ".*.partial", ".owner", ".*.creating-*")


def check(outcome: Outcome, allowed: set[int], folder: Path, *, outputs: tuple[Path, ...] = (),
          context: str = "") -> None:
    """The rule: an allowed exit code (never 1: a traceback), no traceback, one ``error:`` message when it fails,
    no temporary or partial file anywhere under ``folder``, and on failure none of ``outputs`` written."""
    info = f"{context}\nexit {outcome.code}\nstdout: {outcome.out[-1500:]}\nstderr: {outcome.err[-1500:]}"
    assert outcome.code in allowed, info
    assert "Traceback" not in outcome.out + outcome.err, info
    if outcome.code != 0:
        errors = [line for line in outcome.err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and len(errors[0]) > len("error: ") + 5, info
        for path in outputs:
            assert not path.exists(), f"{path} written by a failed command\n{info}"
    leftovers = [p for pattern in LEFTOVER_PATTERNS for p in folder.rglob(pattern)]
    assert not leftovers, f"partial files left: {leftovers}\n{info}"


def finite_scores(run_dir: Path) -> bool:
    summary = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    scores = summary.get("test_scores") or {}
    return all(v is not None and math.isfinite(v) for v in scores.values()) and summary.get(
        "validation_score") is not None
