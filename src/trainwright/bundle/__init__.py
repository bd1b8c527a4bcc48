"""Layer 5: the deployable model bundle — the only hand-off from training to serving and monitoring."""

from trainwright.bundle._format import BUNDLE_FORMAT, TRUSTED_TYPES, read_json, verify_manifest, write_bundle
from trainwright.bundle.model import ExtraColumnsWarning, Model, atomic_output, load

__all__ = ["BUNDLE_FORMAT", "TRUSTED_TYPES", "ExtraColumnsWarning", "Model", "atomic_output", "load", "read_json",
           "verify_manifest", "write_bundle"]
