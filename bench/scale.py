"""Wide data (not a test): ``train --preset quick`` on 200 rows x N columns, time per step and peak memory.

    .venv/bin/python bench/scale.py                       # 200 rows x 500, 1000, 2000, 5000 columns
    .venv/bin/python bench/scale.py --columns 1000 --profile 25   # and the 25 costliest functions (cProfile)

Each width runs in a fresh process (peak RSS is the process's own). Target from issue 10: 200 x 5,000 in at most
60 s, time growing linearly with the columns.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import cProfile, json, os, pstats, resource, sys, time, io
import numpy as np, pandas as pd
os.environ["TRAINWRIGHT_TRACKING"] = "0"
n_rows, n_cols, top, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
X = rng.normal(size=(n_rows, n_cols)).astype("float32")
frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(n_cols)])
frame["y"] = (X[:, 0] + X[:, 1] > 0).astype(int)
data = os.path.join(out, "wide.csv")
frame.to_csv(data, index=False)
from trainwright.workflow import train
profiler = cProfile.Profile() if top else None
start = time.perf_counter()
if profiler: profiler.enable()
result = train(data, target="y", preset="quick", models=("dummy", "linear"), output_dir=os.path.join(out, "runs"),
               tracking=False)
if profiler: profiler.disable()
wall = time.perf_counter() - start
text = ""
if profiler:
    buf = io.StringIO(); pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(top); text = buf.getvalue()
print(json.dumps({"rows": n_rows, "columns": n_cols, "seconds": round(wall, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "timings": result.timings, "profile": text}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--columns", type=int, nargs="*", default=[500, 1000, 2000, 5000])
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    args = parser.parse_args()
    for n_cols in args.columns:
        with tempfile.TemporaryDirectory() as out:
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            proc = subprocess.run([sys.executable, "-c", _CHILD, str(args.rows), str(n_cols), str(args.profile), out],
                                  capture_output=True, text=True, env=env, check=False)
            if proc.returncode:
                print(f"{n_cols} columns: failed\n{proc.stderr[-2000:]}")
                continue
            figures = json.loads(proc.stdout.strip().splitlines()[-1])
            profile = figures.pop("profile")
            print(json.dumps(figures))
            if profile:
                print(profile)


if __name__ == "__main__":
    main()
