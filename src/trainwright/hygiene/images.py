"""What the audit says about a column of image paths: how many images per class, the sizes and modes (grey,
colour, with alpha...) and file formats found, the files that cannot be opened, and a few example files per class
for the report's thumbnails.

Only each file's header is read (Pillow opens lazily: size, mode and format without decoding the pixels), so this
costs milliseconds per thousand images. The door (``data/images.py``) already refuses unreadable training images;
a table whose paths name missing or foreign files is reported here too, by path. Pillow is imported inside.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainwright.hygiene.checks import Finding

__all__ = ["EXAMPLES_PER_CLASS", "ImageProfile", "image_findings", "profile_images"]

EXAMPLES_PER_CLASS = 6
MAX_CLASSES_SHOWN = 12
_TOP = 8  # sizes, modes and formats listed (the most frequent first)


@dataclass(frozen=True)
class ImageProfile:
    """One image column, as the audit report shows it. ``examples``: (class, paths) for the thumbnails."""

    column: str
    n_images: int
    sizes: tuple[tuple[str, int], ...]  # "WxH" -> count, most frequent first
    modes: tuple[tuple[str, int], ...]  # Pillow mode (L, RGB, RGBA, P...) -> count
    formats: tuple[tuple[str, int], ...]  # PNG, JPEG... -> count
    width_range: tuple[int, int]
    height_range: tuple[int, int]
    unreadable: tuple[tuple[str, str], ...]  # (path, reason)
    examples: tuple[tuple[str, tuple[str, ...]], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "n_images": self.n_images, "sizes": dict(self.sizes), "modes": dict(self.modes),
                "formats": dict(self.formats), "width_range": list(self.width_range),
                "height_range": list(self.height_range), "unreadable": [list(u) for u in self.unreadable],
                "examples": {label: list(paths) for label, paths in self.examples}}


def _header(path: str) -> tuple[int, int, str, str] | str:
    """(width, height, mode, format) from the file's header, or the reason it cannot be opened."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.width, image.height, image.mode, image.format or "?"
    except Exception as exc:  # Pillow raises many types for a missing, broken or foreign file
        return f"{type(exc).__name__}: {str(exc)[:120]}"


def _examples(paths: pd.Series, labels: pd.Series | None, ok: np.ndarray, per_class: int,
              random_state: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A few readable files per class (of the most frequent classes, in name order), drawn at random but
    reproducibly."""
    rng = np.random.default_rng(random_state)
    if labels is None:
        groups = {"all images": np.flatnonzero(ok)}
    else:
        present = labels.notna().to_numpy() & ok
        order = sorted(labels[present].astype(str).value_counts(sort=True).index[:MAX_CLASSES_SHOWN])
        as_text = labels.astype(str).to_numpy()
        groups = {label: np.flatnonzero(present & (as_text == label)) for label in order}
    out = []
    for label, rows in groups.items():
        pick = np.sort(rng.choice(rows, min(per_class, len(rows)), replace=False)) if len(rows) else rows
        out.append((str(label), tuple(str(paths.iloc[i]) for i in pick)))
    return tuple(out)


def profile_images(frame: pd.DataFrame, column: str, target: str | None = None, *,
                   per_class: int = EXAMPLES_PER_CLASS, random_state: int = 0) -> ImageProfile:
    """Read every image's header in ``frame[column]`` (paths) and profile them (see the module docstring)."""
    paths = frame[column].dropna().astype(str)
    headers = [_header(p) for p in paths]
    ok = np.array([not isinstance(h, str) for h in headers], dtype=bool)
    read = [h for h in headers if not isinstance(h, str)]
    sizes = Counter(f"{w}x{h}" for w, h, _, _ in read)
    modes = Counter(m for _, _, m, _ in read)
    formats = Counter(f for _, _, _, f in read)
    widths, heights = [w for w, _, _, _ in read], [h for _, h, _, _ in read]
    labels = frame.loc[paths.index, target] if target is not None and target in frame.columns else None
    return ImageProfile(
        column=column, n_images=len(paths), sizes=tuple(sizes.most_common(_TOP)), modes=tuple(modes.most_common(_TOP)),
        formats=tuple(formats.most_common(_TOP)),
        width_range=(min(widths, default=0), max(widths, default=0)),
        height_range=(min(heights, default=0), max(heights, default=0)),
        unreadable=tuple((p, h) for p, h in zip(paths, headers, strict=True) if isinstance(h, str)),
        examples=_examples(paths, labels, ok, per_class, random_state))


def image_findings(profile: ImageProfile) -> list[Finding]:
    """Unreadable files (blocking: training would refuse them), and notes on mixed sizes and modes (the pixels
    rung resizes every image to one square and converts grey and colour to one mode, which is worth knowing)."""
    findings = []
    if profile.unreadable:
        n = len(profile.unreadable)
        findings.append(Finding(
            "images.unreadable", "blocking", f"{n} image file(s) in column '{profile.column}' cannot be read",
            "opening the file's header failed", columns=(profile.column,), n_rows=n,
            examples=tuple(f"{path}: {reason}" for path, reason in profile.unreadable[:5]),
            fix="remove or replace these files (or their rows)", rule="PIL.Image.open on each path"))
    if len(profile.sizes) > 1:
        findings.append(Finding(
            "images.mixed_sizes", "info", f"images of {len(profile.sizes)}+ different sizes in '{profile.column}'",
            f"widths {profile.width_range[0]}-{profile.width_range[1]}, heights {profile.height_range[0]}-"
            f"{profile.height_range[1]}", columns=(profile.column,),
            examples=tuple(f"{size}: {count}" for size, count in profile.sizes[:5]),
            fix="nothing to do: every image is resized to one square size (the aspect ratio is not kept)",
            rule="more than one width x height"))
    if len(profile.modes) > 1:
        findings.append(Finding(
            "images.mixed_modes", "info", f"images in {len(profile.modes)} colour modes in '{profile.column}'",
            "grey and colour images are converted to one mode (colour when any image is in colour)",
            columns=(profile.column,), examples=tuple(f"{mode}: {count}" for mode, count in profile.modes),
            fix="nothing to do, unless colour should not matter: then convert the images to grey",
            rule="more than one Pillow mode"))
    return findings
