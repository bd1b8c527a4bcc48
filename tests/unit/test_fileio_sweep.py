"""What a killed writer leaves is removed by the next writer of the same file, and only that."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from trainwright.fileio import atomic_output, sweep_temporaries

WRITER = """
import sys, time
from trainwright.fileio import atomic_output
with atomic_output(sys.argv[1]) as tmp:
    tmp.write_text("half of a file")
    print(tmp, flush=True)
    time.sleep(60)
"""


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "predictions.csv"
    target.write_text("the previous complete output")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    leftover = Path(proc.stdout.readline().strip())
    assert leftover.is_file() and leftover.parent == tmp_path
    assert sweep_temporaries(target) == []  # its writer is alive: never touched
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert leftover.is_file() and target.read_text() == "the previous complete output"
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert not leftover.exists() and target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv"]


def test_only_this_files_leftovers_of_gone_processes_on_this_host_are_removed(tmp_path: Path) -> None:
    host = socket.gethostname()
    gone = 2**22 + 12345  # above Linux's default pid_max: no such process
    files = {name: tmp_path / name for name in (
        f".a.csv.{host}-{gone}.x1.tmp",          # this file, a gone process here: removed
        f".a.csv.{host}-{os.getpid()}.x2.tmp",   # this file, a live process: kept
        f".a.csv.other-host-{gone}.x3.tmp",      # another host: never judged
        f".b.csv.{host}-{gone}.x4.tmp",          # another file's: not this writer's business
        ".a.csv.old-style.tmp")}                 # no owner in the name: kept
    for path in files.values():
        path.write_text("")
    time.sleep(0.01)
    removed = sweep_temporaries(tmp_path / "a.csv")
    assert [p.name for p in removed] == [f".a.csv.{host}-{gone}.x1.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(list(files)[1:])
