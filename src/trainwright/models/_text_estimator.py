"""Text networks as scikit-learn estimators: a recurrent network on a tokenizer learned from the training texts,
or MiniLM fine-tuned end to end on its own tokenizer. Both are trained by the shared loop (``_torch_loop``).

The input is what the preprocessor makes with ``FeatureNeeds(text="raw")``: the text column(s) as strings beside
the table's other columns as numbers. String columns are joined into one text and tokenized (Hugging Face
``tokenizers``); the other columns ride along as extra inputs of the network's head. torch, tokenizers and
transformers are imported inside the methods, so importing this module (the registry does) stays cheap.

These are not ``NeuralEstimator`` subclasses on purpose: the bundle asks the serializers in order which one owns
the final estimator, and the neural family's serializer owns every ``NeuralEstimator``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

__all__ = ["TextNetClassifier", "TextNetEstimator", "TextNetRegressor", "learn_tokenizer"]

_PREDICT_ROWS = 512
_HEAD_LR = 1e-2
_SPECIALS = ("[PAD]", "[UNK]")  # [PAD] must be id 0: the networks read 0 as padding


def learn_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A byte-pair-encoding tokenizer (BERT normalisation: lower case, accents stripped) learned on ``texts``.
    BPE rather than WordPiece: the WordPiece trainer of ``tokenizers`` 0.23 breaks ties differently from one call
    to the next (four calls on the same texts gave four vocabularies), so the same seed would not give the same
    model; BPE's vocabulary is the same every time."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, clean_text=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(_SPECIALS), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def _pretrained_tokenizer(path: str) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(f"{path}/tokenizer.json")
    if tokenizer.token_to_id("[PAD]") != 0:
        raise ValueError("the MiniLM tokenizer's [PAD] token is not id 0")
    return tokenizer


class TextNetEstimator(BaseEstimator):
    """Shared by the classifier and the regressor. ``network``: ``rnn`` (``cell`` lstm or gru) or ``minilm``."""

    def __init__(self, network: str = "rnn", cell: str = "gru", vocab_size: int = 8000, embed_dim: int = 100,
                 units: int = 64, max_len: int = 256, dropout: float = 0.2, max_epochs: int = 10,
                 batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 1e-4, schedule: str = "onecycle",
                 warmup: float = 0.1, patience: int | None = 2, device: str = "auto", precision: str = "auto",
                 random_state: int = 0, n_jobs: int | None = None, deadline: float = math.inf) -> None:
        self.network = network
        self.cell = cell
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.units = units
        self.max_len = max_len
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.warmup = warmup
        self.patience = patience
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.deadline = deadline

    # --- what the subclasses define -------------------------------------------------------------
    def _targets(self, y: Any, fitting: bool) -> np.ndarray:
        raise NotImplementedError

    def _n_out(self) -> int:
        raise NotImplementedError

    def _loss_name(self) -> str:
        raise NotImplementedError

    # --- inputs -----------------------------------------------------------------------------------
    def _texts_and_extras(self, X: Any, fitting: bool) -> tuple[list[str], np.ndarray]:
        """The string columns joined into one text per row, and the other columns as float32 numbers."""
        X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=object)
        X = X.reshape(len(X), -1)
        if fitting:  # without a text column (a model named on a plain table) the head reads the other columns
            self.text_columns_ = [j for j in range(X.shape[1]) if len(X) and isinstance(X[0, j], str)]
            self.n_features_in_ = X.shape[1]
        others = [j for j in range(X.shape[1]) if j not in self.text_columns_]
        texts = [" | ".join(str(v) for v in row) for row in X[:, self.text_columns_]]
        extras = np.nan_to_num(np.asarray(X[:, others], dtype=np.float32))
        return texts, extras

    def _rows(self, X: Any) -> np.ndarray:
        return self._encode(*self._texts_and_extras(X, fitting=False))

    def _encode(self, texts: list[str], extras: np.ndarray, fitting: bool = False) -> np.ndarray:
        """One float32 row per text: ``n_tokens_`` token ids (0-padded) then the extra numbers."""
        tokenizer = self.tokenizer_
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(self.max_len))
        encoded = [e.ids for e in tokenizer.encode_batch(texts)] if texts else []
        if fitting:  # rows as long as the longest training text (at most max_len): less memory for short texts
            self.n_tokens_ = max([1, *(len(ids) for ids in encoded)])
        ids = np.zeros((len(texts), self.n_tokens_), dtype=np.float32)
        for row, seq in enumerate(encoded):
            seq = seq[: self.n_tokens_]
            ids[row, : len(seq)] = seq
        return np.hstack([ids, extras]) if extras.shape[1] else ids

    # --- the network ------------------------------------------------------------------------------
    def architecture(self) -> dict[str, Any]:
        """The network's description (JSON-able): what ``_text_nets.build_text_network`` builds it back from."""
        shape = {"n_tokens": int(self.n_tokens_), "n_extra": int(self.n_extra_), "n_out": self._n_out(),
                 "dropout": float(self.dropout)}
        if not self.text_columns_:
            return {"kind": "head", **shape}
        if self.network == "rnn":
            return {"kind": "rnn", "vocab_size": int(self.tokenizer_.get_vocab_size()), "cell": self.cell,
                    "embed_dim": int(self.embed_dim), "units": int(self.units), **shape}
        if self.network == "minilm":
            return {"kind": "minilm", "encoder": self.encoder_config_, **shape}
        raise ValueError(f"unknown text network {self.network!r}; valid: rnn, minilm")

    def _start(self, texts: list[str]) -> str | None:
        """Set the tokenizer: MiniLM's own (and return the pretrained folder) or one learned from the texts."""
        from trainwright.features.text import minilm_path, offline

        if self.network == "minilm":
            offline()
            path = minilm_path()
            self.tokenizer_ = _pretrained_tokenizer(path)
            self.encoder_config_ = None
            return path
        self.tokenizer_ = learn_tokenizer(texts, int(self.vocab_size))
        return None

    def _settings(self, has_validation: bool) -> Any:
        from trainwright.models._torch_loop import LoopSettings

        return LoopSettings(
            max_epochs=max(1, int(self.max_epochs)), batch_size=int(self.batch_size),
            # a head alone (no text column) is a fresh linear layer: MiniLM's fine-tuning rate would barely move it
            lr=float(self.lr) if self.text_columns_ else max(float(self.lr), _HEAD_LR),
            weight_decay=float(self.weight_decay), schedule=self.schedule, warmup=float(self.warmup),
            clip_norm=1.0, patience=self.patience if has_validation else None, device=self.device,
            precision=self.precision, deadline=float(self.deadline) if has_validation else math.inf,
            seed=int(self.random_state))

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> TextNetEstimator:
        """Train on (X, y); with ``eval_set=(X_val, y_val)`` stop early on its loss and keep the best epoch."""
        import torch

        from trainwright.models._text_nets import build_text_network
        from trainwright.models._torch_loop import make_loss, seeded, train_module

        texts, extras = self._texts_and_extras(X, fitting=True)
        target = self._targets(y, fitting=True)
        with seeded(int(self.random_state), deterministic=True, n_threads=self.n_jobs):
            path = self._start(texts)
            rows = self._encode(texts, extras, fitting=True)
            self.n_extra_ = rows.shape[1] - self.n_tokens_
            module: Any = build_text_network(self.architecture(), pretrained_path=path)
            if path is not None and hasattr(module, "encoder"):
                self.encoder_config_ = module.encoder.config.to_dict()
            validate = None
            if eval_set is not None:
                validate = self._validator(torch.from_numpy(self._rows(eval_set[0])),
                                           torch.from_numpy(self._targets(eval_set[1], fitting=False)))
            result = train_module(module, make_loss(self._loss_name()), torch.from_numpy(rows),
                                  torch.from_numpy(target), self._settings(eval_set is not None), validate=validate)
        self.module_ = module.to("cpu").eval()
        self.best_epoch_ = int(result.best_epoch)
        self.history_ = result.history
        self.stopped_ = result.stopped
        return self

    def _validator(self, Xv: Any, yv: Any) -> Any:
        import torch

        def validate(module: Any) -> float:
            device = next(module.parameters()).device
            total = 0.0
            for start in range(0, len(Xv), _PREDICT_ROWS):
                out = module(Xv[start:start + _PREDICT_ROWS].to(device)).float()
                target = yv[start:start + _PREDICT_ROWS].to(device)
                if target.dtype == torch.int64:
                    total += float(torch.nn.functional.cross_entropy(out, target, reduction="sum"))
                else:
                    total += float(torch.nn.functional.mse_loss(out, target, reduction="sum"))
            return -total / max(len(Xv), 1)

        return validate

    def _outputs(self, X: Any) -> np.ndarray:
        """The network's raw outputs (logits or standardised values) in float64, on the CPU, in row chunks."""
        import torch

        rows = self._rows(X)
        module = self.module_.eval()
        parts = []
        with torch.inference_mode():
            for start in range(0, len(rows), _PREDICT_ROWS):
                parts.append(module(torch.from_numpy(rows[start:start + _PREDICT_ROWS])).double().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self._n_out()))

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")


class TextNetClassifier(ClassifierMixin, TextNetEstimator):
    """Cross-entropy; softmax probabilities."""

    def _targets(self, y: Any, fitting: bool) -> np.ndarray:
        y = np.asarray(y)
        if fitting:
            self.classes_ = np.unique(y)
        return np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1).astype(np.int64)

    def _n_out(self) -> int:
        return len(self.classes_)

    def _loss_name(self) -> str:
        return "cross_entropy"

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._outputs(X)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class TextNetRegressor(RegressorMixin, TextNetEstimator):
    """MSE on the standardised target; predictions in the target's units."""

    def _targets(self, y: Any, fitting: bool) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if fitting:
            self.y_mean_ = float(y.mean()) if len(y) else 0.0
            self.y_scale_ = float(y.std()) or 1.0
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32).reshape(-1, 1)

    def _n_out(self) -> int:
        return 1

    def _loss_name(self) -> str:
        return "mse"

    def predict(self, X: Any) -> np.ndarray:
        return self._outputs(X)[:, 0] * self.y_scale_ + self.y_mean_
