"""Layer 7: drift monitoring of a bundle on new data (reports and a gate). Never imports training or serving."""

from trainwright.monitoring.check import Monitoring, gate, monitor
from trainwright.monitoring.render import render_html, write_reports

__all__ = ["Monitoring", "gate", "monitor", "render_html", "write_reports"]
