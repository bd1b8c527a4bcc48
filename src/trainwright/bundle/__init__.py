"""Layer 5: the deployable model bundle — the only hand-off from training to serving and monitoring.

The names below load on first use (PEP 562), so a process that needs only ``bundle.manifest`` or ``bundle.pyfunc``
(the tracking writer) does not import the model libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainwright.bundle._format import read_json, trusted_types, write_bundle
    from trainwright.bundle.manifest import BUNDLE_FORMAT, verify_manifest
    from trainwright.bundle.model import ExtraColumnsWarning, Model, load

__all__ = ["BUNDLE_FORMAT", "ExtraColumnsWarning", "Model", "load", "read_json", "trusted_types",
           "verify_manifest", "write_bundle"]

_WHERE = {"BUNDLE_FORMAT": "manifest", "verify_manifest": "manifest", "read_json": "_format",
          "trusted_types": "_format", "write_bundle": "_format", "ExtraColumnsWarning": "model", "Model": "model",
          "load": "model"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"trainwright.bundle.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'trainwright.bundle' has no attribute {name!r}")
