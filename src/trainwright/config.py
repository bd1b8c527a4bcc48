"""The one validated configuration: YAML file, then CLI flags on top, checked once by pydantic."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainwright.exceptions import ConfigError, Problem

__all__ = ["PRESETS", "Config", "PresetSettings", "SplitConfig", "load_config"]

Role = Literal["numeric", "categorical", "text", "datetime", "identifier", "ignored"]
TaskKindName = Literal["auto", "binary", "multiclass", "regression", "detection", "segmentation"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Strict):
    """How rows are divided into train / validation / test."""

    train: float = 0.70
    validation: float = 0.15
    test: float = 0.15
    group_column: str | None = None
    time_column: str | None = None
    force: bool = False

    @model_validator(mode="after")
    def _fractions(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must add up to 1, got {total:.3f}")
        if self.force:
            if min(self.train, self.validation, self.test) <= 0:
                raise ValueError("every split fraction must be above 0")
            return self
        bad = []
        if not 0.50 <= self.train <= 0.90:
            bad.append(f"train={self.train} (allowed 0.50-0.90)")
        if not 0.05 <= self.validation <= 0.20:
            bad.append(f"validation={self.validation} (allowed 0.05-0.20)")
        if not 0.05 <= self.test <= 0.20:
            bad.append(f"test={self.test} (allowed 0.05-0.20)")
        if bad:
            raise ValueError("split fractions out of range: " + ", ".join(bad) + "; set split.force: true to use them anyway")
        return self


class PresetSettings(_Strict):
    """What a preset means: which rungs, how much checking, how long by default."""

    models: tuple[str, ...]
    time_budget: float
    cv_folds: int
    cv_top: int
    cv_max_rows: int = 20_000
    n_estimators_scale: float = 1.0
    search_trials: int = 0  # hyperparameter search trials after the ladder (0: no search)
    search_top: int = 2  # how many of the ladder's best families are searched
    ensemble_size: int = 0  # greedy ensemble selection rounds over out-of-fold predictions (0: no ensemble)
    choose: Literal["simplest", "best"] = "simplest"
    bagging: bool = False  # keep the k fold models of every cross-validated candidate as one more trial (a bag)
    stacking: bool = False  # a linear level-2 model on the out-of-fold predictions of the best trials


PRESETS: dict[str, PresetSettings] = {
    "quick": PresetSettings(
        models=("dummy", "linear", "lightgbm"),
        time_budget=120,
        cv_folds=3,
        cv_top=2,
        n_estimators_scale=0.5,
    ),
    "balanced": PresetSettings(
        models=(
            "dummy", "linear", "svm", "knn", "random_forest", "extra_trees",
            "hist_gradient_boosting", "lightgbm", "xgboost", "catboost",
        ),
        time_budget=600,
        cv_folds=5,
        cv_top=3,
        search_trials=20,
        ensemble_size=25,
    ),
    "thorough": PresetSettings(
        models=(
            "dummy", "linear", "svm", "knn", "random_forest", "extra_trees",
            "hist_gradient_boosting", "lightgbm", "xgboost", "catboost", "mlp",
        ),
        time_budget=3600,
        cv_folds=5,
        cv_top=5,
        cv_max_rows=100_000,
        n_estimators_scale=2.0,
        search_trials=100,
        search_top=3,
        ensemble_size=50,
        bagging=True,
        stacking=True,
    ),
    # the most accurate model in the time given: balanced's ladder and search, bagged, stacked and ensembled, chosen
    # by the best expected score (the report still shows the simplest within noise, and the gap)
    "best": PresetSettings(
        models=(
            "dummy", "linear", "svm", "knn", "random_forest", "extra_trees",
            "hist_gradient_boosting", "lightgbm", "xgboost", "catboost",
        ),
        time_budget=600,
        cv_folds=5,
        cv_top=4,
        search_trials=30,
        search_top=2,
        ensemble_size=25,
        choose="best",
        bagging=True,
        stacking=True,
    ),
}


# the ladder when the data has an image column and no models were named: a baseline on downsampled pixels (the
# linear model), then the CNN; tabular rungs read 16x16 pixels as columns and add little but time
IMAGE_MODELS: tuple[str, ...] = ("dummy", "linear", "cnn", "efficientnet_lite0")
# the ladder for a folder (or column) of audio clips when no models were named (data/audio.py, features/audio.py):
# the baseline, MFCC summary statistics + a linear model, then the CNN on log-mel spectrograms. LightGBM on the same
# statistics (``--models lightgbm``) is left out: on digits said by two voices never heard in training it named 83-87%
# right against the linear model's 91-95%, yet the in-voice validation part rated it higher and chose it
AUDIO_MODELS: tuple[str, ...] = ("dummy", "linear", "audio_cnn")
# rungs added to the preset's ladder when the data has a free-text column and no models were named: learned word
# vectors, a sequence model, pretrained sentence embeddings, fine-tuned MiniLM (models/text*.py)
TEXT_MODELS: tuple[str, ...] = ("word2vec_linear", "lstm", "minilm_linear", "minilm_finetune")


class Config(_Strict):
    """Everything a run needs. Unknown keys fail with the nearest valid one."""

    target: str
    task: TaskKindName = "auto"
    metric: str | None = None
    beta: float = Field(1.0, gt=0)
    costs: dict[Literal["tp", "fp", "fn", "tn"], float] | None = None  # binary: cost per decision; metric "cost"
    positive_label: str | None = None
    preset: Literal["quick", "balanced", "thorough", "best"] = "balanced"
    time_budget: float | None = Field(None, gt=0)
    seed: int = Field(0, ge=0, le=2**32 - 1)  # NumPy and scikit-learn take 0 .. 2**32-1 as a random_state
    seeds: int = Field(1, ge=1, le=20)
    models: tuple[str, ...] | None = None
    exclude_models: tuple[str, ...] = ()
    roles: dict[str, Role] = Field(default_factory=dict)
    split: SplitConfig = Field(default_factory=SplitConfig)
    cv_folds: int | None = Field(None, ge=2, le=20)
    workers: int | None = Field(None, ge=0, le=256)  # parallel fits: 1 (default) sequential, N processes, 0 per core
    backend: Literal["local", "ray"] = "local"  # where fits run: this machine, or Ray tasks (local Ray on loopback)
    ray_address: str | None = None  # an existing Ray cluster (HOST:PORT, or "auto"); joined with its own auth
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")  # torch models: auto = CUDA when present, else CPU
    output_dir: str = "runs"
    tensorboard: str | None = None  # a folder: TensorBoard event files of each torch model's per-epoch curves
    tracking: bool = True
    tracking_uri: str | None = None
    force: bool = False
    # hyperparameter search (tuning/): None -> the preset decides
    search_trials: int | None = Field(None, ge=0, le=10_000)
    search_models: tuple[str, ...] | None = None  # None: the preset's search_top best families of the ladder
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    search_scheme: Literal["holdout", "cv"] = "holdout"  # score trials on the validation part or k folds
    resume_study: str | None = None  # a run id whose stored study the search continues
    ensemble_size: int | None = Field(None, ge=0, le=1000)
    choose: Literal["simplest", "best"] | None = None  # simplest within one standard error, or best score

    @model_validator(mode="after")
    def _some_model_left(self) -> Config:
        if not self.model_names:
            names = self.models if self.models is not None else PRESETS[self.preset].models
            source = "models (--models)" if self.models is not None else f"preset '{self.preset}'"
            excluded = ", ".join(self.exclude_models)
            removed = f" and exclude_models (--exclude) removes {excluded}" if excluded else ""
            raise ValueError(f"no model left to train: {source} lists {', '.join(names) or 'none'}{removed}; "
                             "keep at least one")
        return self

    @model_validator(mode="after")
    def _costs_are_finite(self) -> Config:
        if self.costs is not None:
            if not all(math.isfinite(v) for v in self.costs.values()):
                raise ValueError(f"costs must be finite numbers, got {self.costs}")
            if not any(self.costs.values()):
                raise ValueError("costs: give at least one non-zero cost, e.g. fp=1,fn=5")
        return self

    @property
    def preset_settings(self) -> PresetSettings:
        return PRESETS[self.preset]

    @property
    def effective_time_budget(self) -> float:
        return self.time_budget if self.time_budget is not None else self.preset_settings.time_budget

    @property
    def model_names(self) -> tuple[str, ...]:
        names = self.models if self.models is not None else self.preset_settings.models
        return tuple(n for n in names if n not in set(self.exclude_models))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc[:-1]:
        fields: dict[str, Any] = getattr(current, "model_fields", {})
        field_info = fields.get(part)
        annotation = getattr(field_info, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        else:
            return []
    return list(getattr(current, "model_fields", {}))


def _problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        key = ".".join(str(p) for p in loc) or "config"
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _known_keys(Config, loc), n=1)
            fix = f"did you mean '{close[0]}'?" if close else "remove it"
            problems.append(Problem("config.unknown_key", f"unknown key '{key}'", fix=fix))
        else:
            msg = item["msg"].removeprefix("Value error, ")
            problems.append(Problem("config.invalid", f"'{key}': {msg}" if loc else msg, fix=None))
    return problems


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Read a YAML file (optional), apply overrides that are not None, validate once."""
    data: dict[str, Any] = {}
    if path is not None:
        import yaml

        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file not found: {file}", [Problem("config.missing", str(file), fix="check the path")])
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8-sig")) or {}
        except UnicodeDecodeError as exc:
            line = file.read_bytes()[:exc.start].count(b"\n") + 1
            raise ConfigError(f"config file {file} is not UTF-8 text", [Problem(
                "config.encoding", f"byte 0x{exc.object[exc.start]:02x} on line {line} is not UTF-8 (a Latin-1 or "
                "Windows-1252 character?)", fix="save the file as UTF-8 (or remove that character)")]) from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {file} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {file} must hold a mapping of keys to values")
        data.update(loaded)
    split_overrides = overrides.pop("split", None) or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    if split_overrides and isinstance(data.get("split") or {}, dict):  # else validation names the wrong type
        data["split"] = {**(data.get("split") or {}), **{k: v for k, v in split_overrides.items() if v is not None}}
    try:
        return Config(**data)
    except ValidationError as exc:
        source = f" in {path}" if path else ""
        raise ConfigError(f"invalid configuration{source}", _problems(exc)) from None
