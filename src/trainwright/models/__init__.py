"""Layer 3: the model registry and one adapter per family."""

from trainwright.models.predict import probabilities
from trainwright.models.registry import REGISTRY, all_specs, get_serializer, get_spec, resolve, serializers
from trainwright.models.serialize import Serializer
from trainwright.models.spec import ALL_TASKS, BuildContext, EarlyStopping, ModelSpec

__all__ = ["ALL_TASKS", "REGISTRY", "BuildContext", "EarlyStopping", "ModelSpec", "Serializer", "all_specs",
           "get_serializer", "get_spec", "probabilities", "resolve", "serializers"]
