"""Which rungs climb on text: alone, the baseline and TF-IDF + logistic regression then the text rungs; beside
tabular columns, the preset's ladder then the text rungs; a named list always wins."""

from __future__ import annotations

from tests.unit.text.corpus import reviews
from trainwright.config import PRESETS, TEXT_MODELS, load_config
from trainwright.data import infer_schema
from trainwright.workflow.ladders import default_model_names


def test_text_alone_climbs_from_tfidf_to_the_text_rungs() -> None:
    schema = infer_schema(reviews(60), "score")
    names = default_model_names(schema, load_config(None, target="score", preset="balanced", tracking=False))
    assert names == ["dummy", "linear", *TEXT_MODELS]


def test_text_beside_tabular_columns_joins_the_presets_ladder() -> None:
    schema = infer_schema(reviews(60, with_number=True), "score")
    cfg = load_config(None, target="score", preset="quick", tracking=False)
    assert default_model_names(schema, cfg) == [*PRESETS["quick"].models, *TEXT_MODELS]


def test_named_models_and_exclusions_win() -> None:
    schema = infer_schema(reviews(60), "score")
    named = load_config(None, target="score", models=["dummy", "lstm"], tracking=False)
    assert default_model_names(schema, named) == ["dummy", "lstm"]
    excluded = load_config(None, target="score", exclude_models=["minilm_finetune"], tracking=False)
    assert "minilm_finetune" not in default_model_names(schema, excluded)
