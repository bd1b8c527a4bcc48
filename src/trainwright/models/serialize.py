"""How a model family's fitted estimator travels in a bundle: its share of the skops allowlist, or its own format.

Every family declares a ``Serializer`` in its own module and its specs point at it; the bundle loops over the
registry's serializers and never names a family. Two kinds:

- skops (the default): the estimator stays in the bundle's skops pipeline; ``trusted_types`` lists the types
  beyond skops' defaults that it may contain. Loading refuses any type outside the union of these lists.
- native: ``handles(estimator)`` says the family owns a fitted estimator; ``save(estimator, directory)`` writes it
  into the bundle directory in its library's own format (a format that cannot run code when read) and returns a
  JSON description; ``load(description, directory)`` builds the estimator back through public APIs only. The skops
  pipeline then keeps a ``passthrough`` placeholder where the estimator was, so it asks for none of its types.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainwright.exceptions import BundleError

__all__ = ["SKOPS", "Serializer", "bundle_file", "describe_estimator", "instance_of", "rebuild_estimator",
           "save_weights"]


def _never(estimator: Any) -> bool:
    return False


def _no_save(estimator: Any, directory: Path) -> dict[str, Any]:
    raise NotImplementedError("this family's estimators stay in the skops pipeline")


def _no_load(description: Mapping[str, Any], directory: Path) -> Any:
    raise NotImplementedError("this family's estimators stay in the skops pipeline")


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Serializer:
    """One family's way into and out of a bundle (see the module docstring). ``name`` is written into the bundle's
    description file and looked up again on load, so it must stay stable across releases."""

    name: str
    trusted_types: frozenset[str] = frozenset()
    handles: Callable[[Any], bool] = _never
    save: Callable[[Any, Path], dict[str, Any]] = _no_save
    load: Callable[[Mapping[str, Any], Path], Any] = _no_load
    # registers the family's ONNX converters with skl2onnx; export calls it for every family before converting
    onnx_setup: Callable[[], None] = _nothing

    @property
    def is_native(self) -> bool:
        return self.handles is not _never


SKOPS = Serializer("skops")  # an estimator that skops' default types describe completely


def instance_of(module: str, *names: str) -> Callable[[Any], bool]:
    """``handles`` for classes of an optional library, without importing it: an instance of one of its classes can
    only exist once the library is imported, so a library missing from ``sys.modules`` owns nothing."""

    def handles(estimator: Any) -> bool:
        library = sys.modules.get(module)
        return library is not None and isinstance(estimator, tuple(getattr(library, n) for n in names))

    return handles


def bundle_file(directory: Path, name: str) -> Path:
    """``directory / name`` for a file a serializer wrote: a plain name, present, not a link out of the bundle."""
    path = Path(directory) / name
    if Path(name).name != name or name in {"", ".", ".."} or path.is_symlink() or not path.is_file():
        raise BundleError(f"the bundle's model file {name!r} is missing or not a plain file in {directory}")
    return path


# --- what every torch estimator's bundle shares: its kind, its kept parameters, its target's encoding --------------
def describe_estimator(estimator: Any, classifier: bool, kept: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """The JSON description of a fitted torch estimator: ``kind``, the ``kept`` parameters (tuples as lists), the
    ``extra`` fields, and the classes (a classifier) or the target's scaling (a regressor)."""
    import numpy as np

    params = estimator.get_params()
    description: dict[str, Any] = {
        "kind": "classifier" if classifier else "regressor",
        "params": {k: list(params[k]) if isinstance(params[k], tuple) else params[k] for k in kept}, **extra}
    if classifier:
        description["classes"] = np.asarray(estimator.classes_).tolist()
    else:
        description["y_mean"], description["y_scale"] = float(estimator.y_mean_), float(estimator.y_scale_)
    return description


def rebuild_estimator(description: Mapping[str, Any], kinds: Mapping[str, Any], kept: tuple[str, ...],
                      **overrides: Any) -> Any:
    """An unfitted estimator of the described kind (only the ``kinds`` given: a bundle chooses no code) with its
    kept parameters, on the CPU, and its classes or target scaling restored."""
    import numpy as np

    kind = str(description.get("kind"))
    if kind not in kinds:
        raise ValueError(f"unknown estimator kind {kind!r}; valid: {', '.join(kinds)}")
    params = {k: v for k, v in dict(description["params"]).items() if k in kept}
    estimator = kinds[kind](**{**params, **overrides, "device": "cpu"})
    if kind == "classifier":
        estimator.classes_ = np.asarray(description["classes"])
    else:
        estimator.y_mean_, estimator.y_scale_ = float(description["y_mean"]), float(description["y_scale"])
    return estimator


def save_weights(module: Any, path: Path) -> None:
    """A torch module's state as a safetensors file (tensors only: reading it back runs no code)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(path))
