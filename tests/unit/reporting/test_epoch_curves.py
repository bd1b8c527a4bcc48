"""Per-epoch curves of real torch fits: the loop's observers see every epoch, the TensorBoard event files read back
(tensorboard's own EventAccumulator) hold the same values, the run's curves are filed under the trial that trained
them, and the CLI's per-epoch bar draws on a terminal only."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from trainwright.models import get_spec  # noqa: E402
from trainwright.models._torch_loop import LoopResult, LoopSettings, add_observer, train_module  # noqa: E402
from trainwright.reporting.curves import EpochCurves, write_tensorboard  # noqa: E402
from trainwright.training.events import Event, RunStart  # noqa: E402


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def fit_started(self, info: dict[str, Any]) -> None:
        self.calls.append(("start", info))

    def epoch_ended(self, record: dict[str, float]) -> None:
        self.calls.append(("epoch", dict(record)))

    def fit_ended(self, result: LoopResult) -> None:
        self.calls.append(("end", result))


def _fit(epochs: int = 4, observers: tuple[Any, ...] = ()) -> LoopResult:
    """A tiny real fit: a linear classifier on two separable blobs, validated on its training rows."""
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    X = torch.cat([torch.randn(40, 3, generator=generator) + 2, torch.randn(40, 3, generator=generator) - 2])
    y = torch.cat([torch.zeros(40, dtype=torch.int64), torch.ones(40, dtype=torch.int64)])
    module = torch.nn.Linear(3, 2)

    def validate(m: torch.nn.Module) -> float:
        return -float(torch.nn.functional.cross_entropy(m(X), y))

    settings = LoopSettings(max_epochs=epochs, batch_size=16, lr=0.05, patience=None, device="cpu",
                            observers=observers)
    return train_module(module, torch.nn.CrossEntropyLoss(), X, y, settings, validate=validate)


def test_observers_see_every_epoch_of_a_real_fit_and_stop_when_removed() -> None:
    own, everyone = Recorder(), Recorder()
    stop = add_observer(everyone)
    try:
        result = _fit(4, observers=(own,))
    finally:
        stop()
    for seen in (own, everyone):
        kinds = [k for k, _ in seen.calls]
        assert kinds == ["start", "epoch", "epoch", "epoch", "epoch", "end"]
        assert seen.calls[0][1]["max_epochs"] == 4 and seen.calls[0][1]["first_epoch"] == 1
        assert [r for k, r in seen.calls if k == "epoch"] == result.history
        assert seen.calls[-1][1] is result
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]  # it did learn
    _fit(2)
    assert len(everyone.calls) == 6  # removed: the next fit is not seen


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_event_file_reads_back_with_each_epochs_values(tmp_path: Path) -> None:
    result = _fit(5)
    folder = write_tensorboard(tmp_path / "tb" / "mlp", result.history)
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    scalars = _scalars(folder)
    assert set(scalars) == {"loss/train", "validation/score", "learning_rate", "seconds/epoch"}
    for tag, key in (("loss/train", "train_loss"), ("validation/score", "val_score"), ("learning_rate", "lr")):
        assert [s for s, _ in scalars[tag]] == [1, 2, 3, 4, 5]
        for (_, value), record in zip(scalars[tag], result.history, strict=True):
            assert math.isclose(value, record[key], rel_tol=1e-6, abs_tol=1e-9)  # stored as float32


def _spec_event(name: str, stage: str, step: str = "ladder", trial_id: str | None = None) -> Event:
    from types import SimpleNamespace

    trial = SimpleNamespace(trial_id=trial_id) if trial_id else None
    return Event(stage, get_spec(name), trial, step=step)  # type: ignore[arg-type]


def test_curves_are_filed_under_their_trial_and_written_per_trial(tmp_path: Path) -> None:
    curves = EpochCurves()
    curves(Event("start", None, step="run", payload=RunStart("run-1", {"tensorboard": str(tmp_path / "tb")}, {})))
    curves(_spec_event("dummy", "start"))
    curves(_spec_event("dummy", "done", trial_id="dummy"))  # no torch: no curve, torch not watched yet
    assert curves.curves == {} and curves._stop is None
    curves(_spec_event("mlp", "start"))  # the first torch model: the run starts watching
    first = _fit(3)
    curves(_spec_event("mlp", "done", trial_id="mlp"))
    curves(_spec_event("mlp", "start", step="cv", trial_id="mlp"))
    folds = [_fit(2), _fit(2)]
    curves(_spec_event("mlp", "done", step="cv", trial_id="mlp"))
    curves(Event("start", None, step="refit"))
    refit = _fit(3)
    curves(Event("done", None, step="refit"))
    curves(Event("done", None, step="run"))
    _fit(1)  # after the run: not watched any more
    assert list(curves.curves) == ["mlp", "mlp/cv/fold-1", "mlp/cv/fold-2", "refit"]
    assert [r["train_loss"] for r in curves.curves["mlp"]] == [r["train_loss"] for r in first.history]
    assert [len(curves.curves[f"mlp/cv/fold-{i}"]) for i in (1, 2)] == [len(f.history) for f in folds]
    assert len(curves.curves["refit"]) == len(refit.history)
    written = sorted(str(p.parent.relative_to(tmp_path / "tb" / "run-1")) for p in
                     (tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert written == ["mlp", "mlp/cv/fold-1", "mlp/cv/fold-2", "refit"]
    assert [s for s, _ in _scalars(tmp_path / "tb" / "run-1" / "mlp")["validation/score"]] == [1, 2, 3]


def test_an_unwritable_tensorboard_folder_is_a_config_error(tmp_path: Path) -> None:
    from trainwright.exceptions import ConfigError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write TensorBoard files"):
        EpochCurves()(Event("start", None, step="run", payload=RunStart("r", {"tensorboard": str(blocker / "tb")}, {})))


def _progress(terminal: bool) -> tuple[Any, io.StringIO]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=120, color_system=None)
    return Progress(TextColumn("{task.description}"), BarColumn(), console=console, auto_refresh=False), out


def test_the_epoch_bar_shows_loss_and_validation_on_a_terminal() -> None:
    from trainwright.cli._epochs import epoch_bar

    progress, out = _progress(terminal=True)
    with progress, epoch_bar(progress) as bar:
        bar(_spec_event("mlp", "start"))
        seen: list[str] = []

        class Snapshot(Recorder):  # a fit's own observers are told first: what the bar said before each epoch
            def epoch_ended(self, record: dict[str, float]) -> None:
                seen.append(progress.tasks[bar.task_id].description)

        result = _fit(3, observers=(Snapshot(),))
        final = progress.tasks[bar.task_id]
        progress.refresh()
    first, last = result.history[0], result.history[-1]
    assert seen[:2] == ["  mlp: epoch 0/3",
                        f"  mlp: epoch 1/3  loss {first['train_loss']:.4f}  validation {first['val_score']:.4f}"]
    assert final.description == f"  mlp: epoch 3/3  loss {last['train_loss']:.4f}  validation {last['val_score']:.4f}"
    assert final.completed == 3 and final.total == 3 and "mlp: epoch" in out.getvalue()
    assert bar._stop is None and not progress.tasks[bar.task_id].visible  # hidden after the fit, unhooked after


def test_the_epoch_bar_stays_quiet_off_a_terminal() -> None:
    from trainwright.cli._epochs import epoch_bar
    from trainwright.models import _torch_loop

    progress, out = _progress(terminal=False)
    with progress, epoch_bar(progress) as bar:
        bar(_spec_event("mlp", "start"))
        assert bar._stop is None and bar not in _torch_loop._OBSERVERS
        _fit(2)
    assert bar.task_id is None and "epoch" not in out.getvalue()


def test_a_ladder_curve_fitted_out_of_sight_is_filed_from_its_event(tmp_path: Path) -> None:
    """A fit in another process is never observed; the ladder's ``curve`` event (the estimator's history) files it,
    and an observed trial is not filed twice."""
    from types import SimpleNamespace

    curves = EpochCurves()
    curves(Event("start", None, step="run", payload=RunStart("run-2", {"tensorboard": str(tmp_path / "tb")}, {})))
    history = _fit(2).history
    curves(Event("done", get_spec("mlp"), SimpleNamespace(trial_id="mlp#2"), step="curve",  # type: ignore[arg-type]
                 payload=tuple(history)))
    assert curves.curves == {"mlp#2": history}
    curves(Event("done", get_spec("mlp"), SimpleNamespace(trial_id="mlp#2"), step="curve",  # type: ignore[arg-type]
                 payload=tuple(history[:1])))
    assert curves.curves == {"mlp#2": history}
    assert [s for s, _ in _scalars(tmp_path / "tb" / "run-2" / "mlp#2")["loss/train"]] == [1, 2]
