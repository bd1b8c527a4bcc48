"""Trials per minute on the Ray backend against the local executors (not a test; prints figures).

    python bench/ray_scaling.py              # credit_data, 16 fits of a small LightGBM
    python bench/ray_scaling.py --fits 32

Each executor fits the same spec and parameters on the same 16 folds (repeated 4-fold plans of the choice rows)
through the fold engine: sequential with 1 thread, a process pool of 2, a local Ray (loopback) with 1 and with 2
workers. Printed: wall seconds, fits per minute, and Ray's overhead per fit against the local executor with the
same parallelism. Ray's start-up (seconds) is printed apart: a run pays it once.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CREDIT = ROOT.parent / "shared" / "datasets" / "credit_data.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fits", type=int, default=16)
    args = parser.parse_args()
    from trainwright.config import load_config
    from trainwright.data import kfold_plan, repeated_plan
    from trainwright.models import get_spec
    from trainwright.training import FitContext, ProcessExecutor, SequentialExecutor, run_folds
    from trainwright.training.ray_executor import RayExecutor
    from trainwright.workflow import prepare

    prep = prepare(CREDIT, load_config(None, target="Status"))
    plan = repeated_plan([kfold_plan(prep.y, n_folds=4, classification=True, seed=s) for s in range(args.fits // 4)])
    spec = get_spec("lightgbm")
    params = spec.params({"n_estimators": 200})
    ctx = FitContext(prep.schema, prep.task, random_state=0, n_jobs=1)

    def timed(executor) -> float:
        start = time.perf_counter()
        run_folds(spec, params, prep.X, prep.y, plan, ctx, executor=executor)
        return time.perf_counter() - start

    results = {"sequential, 1 thread": timed(SequentialExecutor(1))}
    pool = ProcessExecutor(2, cores=2)
    timed(pool)  # start the workers once, not counted
    results["process pool, 2 workers"] = timed(pool)
    start = time.perf_counter()
    for n in (1, 2):
        ray_executor = RayExecutor(n_workers=n)
        startup = time.perf_counter() - start
        timed(ray_executor)  # first use imports the engine in the Ray workers, not counted
        results[f"ray, {n} worker(s)"] = timed(ray_executor)
        ray_executor.close()
        print(f"ray start-up ({n} worker(s)): {startup:.1f} s")
        start = time.perf_counter()
    n = len(plan)
    print(f"\n{n} fits of lightgbm (200 trees) on credit_data ({len(prep.y)} rows):")
    for name, seconds in results.items():
        print(f"  {name:<26} {seconds:7.2f} s   {60 * n / seconds:7.1f} fits/min")
    for ray_name, local_name in (("ray, 1 worker(s)", "sequential, 1 thread"), ("ray, 2 worker(s)", "process pool, 2 workers")):
        overhead = (results[ray_name] - results[local_name]) / n
        print(f"  overhead per fit, {ray_name} vs {local_name}: {overhead * 1000:+.0f} ms")


if __name__ == "__main__":
    main()
