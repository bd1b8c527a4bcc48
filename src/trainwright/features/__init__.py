"""Layer 3: preprocessing chosen from the schema."""

from trainwright.features.tabular import HIGH_CARDINALITY, FeatureNeeds, build_preprocessor
from trainwright.features.transformers import AsFloat32, DatetimeFeatures, SkewedLog1p, TextSVD

__all__ = ["HIGH_CARDINALITY", "AsFloat32", "DatetimeFeatures", "FeatureNeeds", "SkewedLog1p", "TextSVD", "build_preprocessor"]
