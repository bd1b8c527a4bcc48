"""Layer 5: the deployable model bundle — the only hand-off from training to serving and monitoring."""

from trainwright.bundle._format import BUNDLE_FORMAT, read_json, trusted_types, verify_manifest, write_bundle
from trainwright.bundle.model import ExtraColumnsWarning, Model, load

__all__ = ["BUNDLE_FORMAT", "ExtraColumnsWarning", "Model", "load", "read_json", "trusted_types",
           "verify_manifest", "write_bundle"]
