"""A tiny generated review corpus: the label is carried by a few sentiment words among neutral ones, so every text
rung can learn it from a hundred rows in one epoch (and a test still fails when a rung learns nothing)."""

from __future__ import annotations

import numpy as np
import pandas as pd

GOOD = ("great", "delicious", "love", "excellent", "tasty", "fresh", "wonderful", "perfect")
BAD = ("awful", "stale", "bland", "terrible", "disappointing", "broken", "rancid", "worst")
FOODS = ("coffee", "tea", "cookies", "chips", "sauce", "pasta", "honey", "crackers", "cereal", "jam")
FILLER = ("the", "box", "arrived", "today", "and", "my", "kids", "tried", "it", "with", "dinner", "again")


def reviews(n: int = 120, seed: int = 0, *, with_number: bool = False, flipped: float = 0.0) -> pd.DataFrame:
    """``n`` short reviews with a ``score`` of great/other; optionally a numeric ``price`` column beside them, and a
    share of ``flipped`` labels (texts no model can get right, for the report's worst mistakes)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        good = bool(i % 3)  # two thirds great, like fine_foods
        words = list(rng.choice(FILLER, size=int(rng.integers(3, 9))))
        words += [*rng.choice(GOOD if good else BAD, size=2), str(rng.choice(FOODS))]
        rng.shuffle(words)
        label = good != bool(rng.random() < flipped)
        rows.append({"review": " ".join(words).capitalize() + ".", "price": float(rng.uniform(2, 20)),
                     "score": "great" if label else "other"})
    frame = pd.DataFrame(rows)
    return frame if with_number else frame.drop(columns="price")
