"""Quality and time of the dense ladders on generated scenes (coloured circles, squares and triangles on noisy
textured backgrounds, 96x96, 1-3 objects): prints the leaderboard, the chosen model's test scores and the wall time.

    .venv/bin/python bench/dense.py segmentation --images 400 --budget 600
    .venv/bin/python bench/dense.py detection --images 400 --budget 600 --models components,centernet_effnet
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.dense.scenes import make_scenes

from trainwright.workflow import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=("segmentation", "detection"))
    parser.add_argument("--images", type=int, default=400, help="scenes generated (70%% train, 15%% validation, 15%% test)")
    parser.add_argument("--budget", type=float, default=600, help="seconds for the ladder (the balanced preset's 600)")
    parser.add_argument("--models", default=None, help="comma-separated dense model names (default: the preset's)")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trainwright-dense-bench-"))
    try:
        make_scenes(work / "scenes", args.images, seed=1, coco=args.task == "detection")
        start = time.monotonic()
        result = train(work / "scenes", task=args.task, preset=args.preset, output_dir=str(work / "runs"),
                       tracking=False, time_budget=args.budget, device=args.device,
                       **({"models": args.models.split(",")} if args.models else {}))
        print("\n".join(result.summary_lines()))
        print(f"wall {time.monotonic() - start:.1f} s")
        print(json.dumps(result.test_scores, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
