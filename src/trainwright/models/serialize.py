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

__all__ = ["SKOPS", "Serializer", "bundle_file", "instance_of"]


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
