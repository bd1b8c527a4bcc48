"""Which rungs climb when the user named no models: the preset's tabular ladder, or the ladder of the input's kind
(images, audio clips, free text), each defined in ``config``. A named ``--models`` list always wins."""

from __future__ import annotations

from trainwright.config import AUDIO_MODELS, IMAGE_MODELS, TEXT_MODELS, Config
from trainwright.data import Role, Schema

__all__ = ["default_model_names"]

_TEXT_ALONE_BASE = ("dummy", "linear")  # the baseline, and TF-IDF + logistic regression: the rung to beat


def default_model_names(schema: Schema, cfg: Config) -> list[str]:
    """The model names to climb for ``schema`` under ``cfg`` (``cfg.model_names`` unless the input's kind has its
    own ladder and no models were named)."""
    named = list(cfg.model_names)
    if cfg.models is not None:
        return named
    kept = lambda names: [n for n in names if n not in cfg.exclude_models]  # noqa: E731
    if schema.names(Role.IMAGE):  # tabular rungs read 16x16 pixels as columns and add little but time
        return kept(IMAGE_MODELS) or named
    if schema.names(Role.AUDIO):  # tabular rungs would read the clips' MFCC statistics: the audio ladder has them
        return kept(AUDIO_MODELS) or named
    if TEXT_MODELS and schema.names(Role.TEXT):
        text = [n for n in kept(TEXT_MODELS) if n not in named]
        if set(schema.features) == set(schema.names(Role.TEXT)):  # text alone: tree rungs on the SVD of TF-IDF
            return [n for n in named if n in _TEXT_ALONE_BASE] + text  # add little; the budget goes to text rungs
        return named + text  # text beside tabular columns: the text rungs join the preset's ladder
    return named
