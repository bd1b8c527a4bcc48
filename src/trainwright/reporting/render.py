"""Renderers of report objects: self-contained HTML (PNGs embedded as base64, no network), Markdown, JSON."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from trainwright.evaluation.report import Report
from trainwright.fileio import atomic_output, jsonable
from trainwright.reporting.plots import draw

__all__ = ["render_html", "render_json", "render_markdown", "write_report"]


def _images(report: Report) -> dict[str, bytes]:
    return {f"{s.key}/{i}": draw(f.kind, f.data) for s in report.sections for i, f in enumerate(s.figures)}


def render_html(report: Report, images: dict[str, bytes] | None = None) -> str:
    import jinja2

    from trainwright import __version__

    images = images if images is not None else _images(report)
    template = resources.files("trainwright.reporting").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    encoded = {k: base64.b64encode(v).decode("ascii") for k, v in images.items()}
    return env.from_string(template).render(report=report, images=encoded, version=__version__,
                                            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, image_paths: dict[str, str] | None = None) -> str:
    """Markdown with the same sections; figures link to PNG files when ``image_paths`` is given."""
    lines = [f"# {report.title}", "", f"_{report.subtitle}_", ""]
    for s in report.sections:
        lines += [f"## {s.title}", ""]
        lines += [p + "\n" for p in s.paragraphs]
        for t in s.tables:
            if t.caption:
                lines += [f"*{t.caption}*", ""]
            lines.append("| " + " | ".join(_md_cell(c) for c in t.columns) + " |")
            lines.append("|" + "---|" * len(t.columns))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            lines.append("")
        for i, f in enumerate(s.figures):
            path = (image_paths or {}).get(f"{s.key}/{i}")
            lines.append(f"![{f.title}]({path})" if path else f"- figure: {f.title}")
        if s.figures:
            lines.append("")
    return "\n".join(lines)


def render_json(report: Report) -> str:
    return json.dumps(jsonable(report.to_dict()), indent=2, default=str, allow_nan=False)


def _atomic_write(path: Path, content: str | bytes) -> None:
    with atomic_output(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")


def write_report(report: Report, out_dir: str | Path, stem: str = "report") -> dict[str, Path]:
    """Write ``<stem>.html``, ``<stem>.md`` (figures under ``<stem>_figures/``) and ``<stem>.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = _images(report)
    fig_dir = out / f"{stem}_figures"
    fig_dir.mkdir(exist_ok=True)
    paths = {}
    for key, png in images.items():
        name = key.replace("/", "_") + ".png"
        _atomic_write(fig_dir / name, png)
        paths[key] = f"{fig_dir.name}/{name}"
    files = {"html": out / f"{stem}.html", "markdown": out / f"{stem}.md", "json": out / f"{stem}.json"}
    _atomic_write(files["html"], render_html(report, images))
    _atomic_write(files["markdown"], render_markdown(report, paths))
    _atomic_write(files["json"], render_json(replace(report)))
    return files
