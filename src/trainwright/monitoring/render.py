"""The drift report as JSON and as one self-contained HTML page (Matplotlib PNGs embedded; no CDN, no script)."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from trainwright.fileio import atomic_output
from trainwright.monitoring.check import Monitoring

__all__ = ["render_html", "write_reports"]

MAX_PLOTS = 40


def _png(name: str, dist: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    labels = dist["labels"]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(6.4, 2.8), dpi=80)
    try:
        ax.bar(x - 0.2, dist["reference"], width=0.4, label="training (reference)", color="#4C72B0")
        ax.bar(x + 0.2, dist["current"], width=0.4, label="new data", color="#DD8452")
        ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=7)
        ax.set_ylabel("fraction of rows")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def _row(c: dict[str, Any]) -> str:
    cls = ' class="drift"' if c["drifted"] else ""
    cells = [html.escape(c["name"]), c["kind"], _fmt(c["psi"]), _fmt(c["ks_statistic"]), _fmt(c["ks_pvalue"]),
             _fmt(c["chi2_pvalue"]), _fmt(c["unseen_rate"]), _fmt(c["missing_rate_reference"]),
             _fmt(c["missing_rate_current"]), "DRIFT" if c["drifted"] else "ok", html.escape("; ".join(c["reasons"]))]
    return f"<tr{cls}>" + "".join(f"<td>{v}</td>" for v in cells) + "</tr>"


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}tr.drift{background:#fde2e1}.verdict{font-size:1.3em}
.bad{color:#b00020}.good{color:#1b7f3b}img{display:block;margin:0.5em 0}"""


def render_html(result: Monitoring) -> str:
    data = result.to_dict()
    rows = [*data["columns"], *([{**data["prediction"], "name": "prediction"}] if data["prediction"] else [])]
    verdict = ('<p class="verdict bad">Drift detected</p>' if data["drifted"] else
               '<p class="verdict good">No drift above the thresholds</p>')
    if not data["enough_rows"]:
        verdict = f'<p class="verdict">Too few rows for a verdict ({data["n_rows"]})</p>'
    metric = ""
    if data["metric"]:
        m = data["metric"]
        metric = (f"<h2>Metric on labelled rows</h2><p>{html.escape(m['metric'])}: test {m['reference']:.4f} -> "
                  f"new {m['current']:.4f} ({'degraded' if m['degraded'] else 'within tolerance'})</p>")
    drifted_first = sorted(result.distributions, key=lambda n: (n != "prediction", n not in data["drifted_columns"]))
    plots = "".join(f'<h3>{html.escape(n)}</h3><img alt="{html.escape(n)}" src="data:image/png;base64,'
                    f'{_png(n, result.distributions[n])}">' for n in drifted_first[:MAX_PLOTS])
    head = "".join(f"<th>{h}</th>" for h in ("column", "kind", "PSI", "KS stat", "KS p", "chi2 p", "unseen",
                                             "missing (train)", "missing (new)", "verdict", "why"))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in data["notes"])
    thresholds = html.escape(json.dumps(data["thresholds"]))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Drift report: {html.escape(result.model)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>Drift report</h1><p>Model {html.escape(result.model)} "
            f"({html.escape(result.bundle)}) against {html.escape(result.source)}: {data['n_rows']} rows.</p>{verdict}"
            f"{metric}<h2>Columns</h2><table><tr>{head}</tr>{''.join(_row(r) for r in rows)}</table>"
            f"<p>Thresholds: <code>{thresholds}</code></p><ul>{notes}</ul><h2>Distributions</h2>{plots}</body></html>")


def write_reports(result: Monitoring, output_dir: str | Path) -> tuple[Path, Path]:
    """Write drift.json and drift.html into ``output_dir`` (each atomically)."""
    output_dir = Path(output_dir)
    json_path, html_path = output_dir / "drift.json", output_dir / "drift.html"
    with atomic_output(json_path) as tmp:
        tmp.write_text(json.dumps(result.to_dict(), indent=2, default=str), encoding="utf-8")
    with atomic_output(html_path) as tmp:
        tmp.write_text(render_html(result), encoding="utf-8")
    return json_path, html_path
