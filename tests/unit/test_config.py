"""Config: one pydantic model, YAML then overrides, unknown keys answered with the nearest valid key."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainwright.config import PRESETS, Config, SplitConfig, load_config
from trainwright.exceptions import ConfigError


def _codes(exc: ConfigError) -> list[str]:
    return [p.code for p in exc.problems]


def test_defaults_are_best_practice() -> None:
    cfg = Config(target="y")
    assert (cfg.split.train, cfg.split.validation, cfg.split.test) == (0.70, 0.15, 0.15)
    assert cfg.task == "auto" and cfg.preset == "balanced"
    assert cfg.effective_time_budget == PRESETS["balanced"].time_budget
    assert cfg.model_names == PRESETS["balanced"].models


def test_unknown_top_level_key_suggests_nearest() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, target="y", preest="quick")
    problem = info.value.problems[0]
    assert problem.code == "config.unknown_key"
    assert "preest" in problem.message
    assert problem.fix == "did you mean 'preset'?"


def test_unknown_nested_key_suggests_nearest_in_split(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("target: y\nsplit:\n  validaton: 0.15\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in info.value.message
    unknown = [p for p in info.value.problems if p.code == "config.unknown_key"]
    assert unknown and unknown[0].fix == "did you mean 'validation'?"
    assert "split.validaton" in unknown[0].message


def test_unknown_key_without_close_match_says_remove() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, target="y", zzzzqqq=1)
    assert info.value.problems[0].fix == "remove it"


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, target="y", preest="quick", sed=3)
    fixes = sorted(p.fix or "" for p in info.value.problems)
    assert fixes == ["did you mean 'preset'?", "did you mean 'seed'?"]


@pytest.mark.parametrize(
    ("fractions", "bad"),
    [
        ((0.40, 0.30, 0.30), ["train=0.4", "validation=0.3", "test=0.3"]),
        ((0.95, 0.03, 0.02), ["train=0.95", "validation=0.03", "test=0.02"]),
        ((0.70, 0.25, 0.05), ["validation=0.25"]),
        ((0.78, 0.20, 0.02), ["test=0.02"]),
    ],
)
def test_split_fractions_out_of_range_refused(fractions: tuple[float, float, float], bad: list[str]) -> None:
    train, validation, test = fractions
    with pytest.raises(ConfigError) as info:
        load_config(None, target="y", split={"train": train, "validation": validation, "test": test})
    message = " ".join(str(p) for p in info.value.problems)
    for item in bad:
        assert item in message
    assert "force" in message  # the fix is named


def test_split_fractions_out_of_range_allowed_with_force() -> None:
    cfg = load_config(None, target="y", split={"train": 0.4, "validation": 0.3, "test": 0.3, "force": True})
    assert cfg.split.train == 0.4 and cfg.split.force


def test_split_fractions_must_sum_to_one_even_forced() -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        SplitConfig(train=0.5, validation=0.3, test=0.3, force=True)
    with pytest.raises(ValueError, match="above 0"):
        SplitConfig(train=0.9, validation=0.1, test=0.0, force=True)


def test_boundaries_of_allowed_ranges_accepted() -> None:
    assert SplitConfig(train=0.90, validation=0.05, test=0.05).train == 0.90
    assert SplitConfig(train=0.60, validation=0.20, test=0.20).test == 0.20


def test_yaml_then_overrides_win(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("target: survived\npreset: quick\nseed: 3\nsplit:\n  train: 0.8\n  validation: 0.1\n  test: 0.1\n",
                    encoding="utf-8")
    cfg = load_config(path, seed=7, metric=None, split={"group_column": "g", "time_column": None})
    assert cfg.target == "survived" and cfg.preset == "quick"
    assert cfg.seed == 7  # flag wins
    assert cfg.metric is None  # None override leaves the file's value (absent -> default)
    assert (cfg.split.train, cfg.split.group_column) == (0.8, "g")  # nested override merges


def test_model_names_follow_preset_and_exclusions() -> None:
    cfg = load_config(None, target="y", preset="quick", exclude_models=("random_forest",))
    assert cfg.model_names == tuple(m for m in PRESETS["quick"].models if m != "random_forest")
    cfg = load_config(None, target="y", models=("lightgbm", "dummy"))
    assert cfg.model_names == ("lightgbm", "dummy")
    assert load_config(None, target="y", time_budget=5).effective_time_budget == 5


def test_config_is_frozen_and_round_trips() -> None:
    cfg = load_config(None, target="y", roles={"a": "text"}, preset="quick")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        cfg.seed = 1  # type: ignore[misc]
    assert Config(**cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("text", "needle"),
    [("target: [unclosed\n", "not valid YAML"), ("- a\n- b\n", "mapping")],
)
def test_bad_yaml_file_is_a_config_error(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.exit_code == 2


def test_invalid_values_named() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, target="y", preset="fast", roles={"a": "colour"})
    keys = " ".join(p.message for p in info.value.problems)
    assert "'preset'" in keys and "'roles.a'" in keys


@pytest.mark.parametrize("overrides", [
    {"preset": "quick", "exclude_models": ("dummy", "linear", "lightgbm")},  # every model of the preset excluded
    {"models": ("svm",), "exclude_models": ("svm",)},
    {"models": ()},
])
def test_no_model_left_is_a_config_error(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, target="y", **overrides)
    assert info.value.exit_code == 2
    (problem,) = info.value.problems
    assert problem.code == "config.invalid" and "no model left to train" in problem.message
    assert "'config'" not in problem.message  # a whole-config rule is stated plainly, not under a made-up key
