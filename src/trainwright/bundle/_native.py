"""A pipeline's final estimator in its family's own format, beside the skops pipeline.

The registry's serializers are asked in order which one handles the final estimator (of the innermost pipeline).
That serializer writes it into the bundle directory; the skops file gets a copy of the pipeline with a
``passthrough`` in its place, and ``native.json`` records the serializer's name, the step's name and the
serializer's description. Loading finds the serializer again by name (an unknown name is refused) and puts the
estimator it builds back where the placeholder is. This module names no model family.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from trainwright.exceptions import BundleError, Problem
from trainwright.models import Serializer, get_serializer, serializers

__all__ = ["COMPOSITE_FILE", "NATIVE_FILE", "attach_composite", "attach_native", "split_composite", "split_native"]

NATIVE_FILE = "native.json"
COMPOSITE_FILE = "composite.json"
_PLACEHOLDER = "passthrough"


def _holder(pipeline: Any) -> Any:
    """The innermost pipeline along the last steps (the one whose last step is the final estimator), or None."""
    while hasattr(pipeline, "steps") and pipeline.steps:
        last = pipeline.steps[-1][1]
        if not (hasattr(last, "steps") and last.steps):
            return pipeline
        pipeline = last
    return None


def _with_placeholder(pipeline: Any) -> Any:
    """A shallow copy of ``pipeline`` whose final estimator is the placeholder; the original is left untouched."""
    name, last = pipeline.steps[-1]
    replacement = _with_placeholder(last) if hasattr(last, "steps") and last.steps else _PLACEHOLDER
    out = copy.copy(pipeline)
    out.steps = [*pipeline.steps[:-1], (name, replacement)]
    return out


def _serializer_for(estimator: Any) -> Serializer | None:
    return next((s for s in serializers() if s.is_native and s.handles(estimator)), None)


def split_native(pipeline: Any, directory: Path) -> tuple[Any, dict[str, Any] | None]:
    """Write the final estimator natively into ``directory`` when a serializer handles it. Returns the pipeline to
    put into the skops file and the ``native.json`` description (None: the pipeline goes into skops whole)."""
    holder = _holder(pipeline)
    if holder is None:
        return pipeline, None
    step, estimator = holder.steps[-1]
    serializer = _serializer_for(estimator)
    if serializer is None:
        return pipeline, None
    description = serializer.save(estimator, Path(directory))
    return _with_placeholder(pipeline), {"serializer": serializer.name, "step": step, "model": description}


def write_native_info(directory: Path, info: dict[str, Any]) -> None:
    (Path(directory) / NATIVE_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")


def _read_info(path: Path) -> tuple[Serializer, str, dict[str, Any]]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        name, step, description = str(info["serializer"]), str(info["step"]), dict(info["model"])
    except (OSError, ValueError, KeyError, TypeError):
        raise BundleError(f"{path} does not describe a model (serializer, step, model)", [Problem(
            "bundle.bad_native", "unreadable native model description", column=NATIVE_FILE,
            fix="re-export the model with this version of trainwright")]) from None
    serializer = get_serializer(name)
    if serializer is None or not serializer.is_native:
        known = ", ".join(s.name for s in serializers() if s.is_native)
        raise BundleError(f"{path} names a model serializer this installation does not have: {name!r}", [Problem(
            "bundle.unknown_serializer", f"unknown serializer {name!r}", column=NATIVE_FILE,
            fix=f"install the plugin that provides it; known: {known}")])
    return serializer, step, description


def attach_native(pipeline: Any, directory: Path) -> Any:
    """Put the natively stored estimator back into a pipeline read from the skops file (no-op without native.json)."""
    path = Path(directory) / NATIVE_FILE
    if not path.is_file():
        return pipeline
    serializer, step, description = _read_info(path)
    holder = _holder(pipeline)
    name, last = holder.steps[-1] if holder is not None else (None, None)
    if holder is None or name != step or not (isinstance(last, str) and last == _PLACEHOLDER):
        raise BundleError(f"{path} describes step {step!r}, but the pipeline holds no placeholder for it")
    try:
        estimator = serializer.load(description, Path(directory))
    except BundleError:
        raise
    except Exception as exc:
        raise BundleError(f"cannot load the {serializer.name} model in {directory}: "
                          f"{type(exc).__name__}: {str(exc)[:200]}") from None
    holder.steps[-1] = (step, estimator)
    return pipeline


# --- composites: a final estimator made of fitted pipelines (an ensemble), each stored as a bundle of its own ----
def _composite(pipeline: Any) -> tuple[str, Any] | None:
    """The final step of ``pipeline`` when it is a composite (``__bundle_composite__`` with ``members``)."""
    steps = getattr(pipeline, "steps", None)
    if not steps:
        return None
    name, last = steps[-1]
    return (name, last) if getattr(type(last), "__bundle_composite__", False) else None


def split_composite(pipeline: Any) -> tuple[Any, list[Any]]:
    """A shallow copy of ``pipeline`` whose composite final step holds no members, and the members (each goes
    into a member bundle); ``(pipeline, [])`` when the final step is not a composite."""
    found = _composite(pipeline)
    if found is None:
        return pipeline, []
    name, composite = found
    shell = copy.copy(composite)
    shell.members = []
    out = copy.copy(pipeline)
    out.steps = [*pipeline.steps[:-1], (name, shell)]
    return out, list(composite.members)


def attach_composite(pipeline: Any, directory: Path, read_member: Any) -> Any:
    """Put the member pipelines back (``read_member(path)`` loads one member bundle, checked); no-op without
    composite.json. Each member bundle's manifest must hash to what composite.json (itself in the manifest) says."""
    from trainwright.fileio import sha256_file

    path = Path(directory) / COMPOSITE_FILE
    if not path.is_file():
        return pipeline
    found = _composite(pipeline)
    try:
        entries = [(str(e["directory"]), str(e["manifest_sha256"]))
                   for e in json.loads(path.read_text(encoding="utf-8"))["members"]]
    except (OSError, ValueError, KeyError, TypeError):
        entries = None
    if found is None or entries is None:
        raise BundleError(f"{path} does not match the pipeline (a composite step with members)")
    members = []
    for name, digest in entries:
        member = Path(directory) / name
        if Path(name).name != name or member.is_symlink() or not (member / "manifest.json").is_file() \
                or sha256_file(member / "manifest.json") != digest:
            raise BundleError(f"the ensemble member bundle {name!r} in {directory} is missing or was changed",
                              [Problem("bundle.member_changed", "member manifest differs", column=name,
                                       fix="restore the bundle from the run")])
        members.append(read_member(member))
    found[1].members = members
    return pipeline
