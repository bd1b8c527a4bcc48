"""The torch networks of the text family, built from a JSON-able description (what a bundle stores beside the
safetensors weights). Imports torch (and transformers for MiniLM): import only inside code that builds or runs one.

Both read one float32 row per text, the shape the shared loop (``_torch_loop``) indexes: ``n_tokens`` token ids
(0 = padding, exact in float32 below 2**24) then ``n_extra`` numbers from the table's other columns, which join
the pooled text representation before the head. Each batch is cut to its longest text, so short texts cost little.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["HeadOnly", "MiniLMNet", "RecurrentNet", "build_text_network", "split_row"]


def split_row(x: torch.Tensor, n_tokens: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(token ids cut to the batch's longest text, their mask, the extra numbers)."""
    ids = x[:, :n_tokens].long()
    mask = ids != 0
    longest = max(1, int(mask.sum(dim=1).max())) if len(ids) else 1
    return ids[:, :longest], mask[:, :longest], x[:, n_tokens:]


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(h.dtype)
    return (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class RecurrentNet(nn.Module):
    """Embedding -> bidirectional LSTM or GRU over the packed (unpadded) sequence -> mean and max pooling over the
    real tokens, beside the extra numbers -> dropout -> a linear head."""

    def __init__(self, vocab_size: int, n_tokens: int, n_extra: int, n_out: int, cell: str = "gru",
                 embed_dim: int = 100, units: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise ValueError(f"unknown recurrent cell {cell!r}; valid: lstm, gru")
        self.n_tokens = n_tokens
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(embed_dim, units, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(4 * units + n_extra, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids, mask, extra = split_row(x, self.n_tokens)
        lengths = mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(self.embedding(ids)), lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.rnn(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        mask = mask | (torch.arange(ids.shape[1], device=ids.device) == 0)  # an empty text pools its first step
        biggest = h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)
        pooled = torch.cat([_masked_mean(h, mask), biggest, extra.to(h.dtype)], dim=1)
        return self.head(self.dropout(pooled))


class MiniLMNet(nn.Module):
    """The MiniLM encoder (a BERT) -> mean pooling over the real tokens (as sentence-transformers pools it),
    beside the extra numbers -> dropout -> a linear head; trained end to end."""

    def __init__(self, encoder: nn.Module, n_tokens: int, n_extra: int, n_out: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.n_tokens = n_tokens
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        config: Any = encoder.config
        self.head = nn.Linear(int(config.hidden_size) + n_extra, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids, mask, extra = split_row(x, self.n_tokens)
        h = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        pooled = torch.cat([_masked_mean(h, mask), extra.to(h.dtype)], dim=1)
        return self.head(self.dropout(pooled))


class HeadOnly(nn.Module):
    """A text network given no text column (a model named on a plain table): its linear head on the other columns."""

    def __init__(self, n_tokens: int, n_extra: int, n_out: int) -> None:
        super().__init__()
        self.n_tokens = n_tokens
        self.head = nn.Linear(n_extra, n_out)
        nn.init.zeros_(self.head.weight)  # start as the baseline (the mean, or even odds): a convex problem from there
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x[:, self.n_tokens:])


def _minilm_encoder(config: Mapping[str, Any] | None, pretrained_path: str | None) -> nn.Module:
    """A BERT encoder: the pretrained weights of ``pretrained_path`` (training), or an empty one of ``config``
    whose weights the bundle's safetensors file then fills (loading). Only BERT: a bundle chooses no code."""
    from transformers import BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the unused pooler's "newly initialised" notice is expected
    hf_logging.disable_progress_bar()
    if pretrained_path is not None:
        return BertModel.from_pretrained(pretrained_path, add_pooling_layer=False, local_files_only=True)
    if config is None or config.get("model_type") != "bert":
        raise ValueError("a MiniLM network needs a BERT configuration")
    return BertModel(BertConfig.from_dict(dict(config)), add_pooling_layer=False)


def build_text_network(architecture: Mapping[str, Any], pretrained_path: str | None = None) -> nn.Module:
    """The network an architecture description names (``rnn`` or ``minilm``); MiniLM starts from the pretrained
    weights in ``pretrained_path`` when given, else from the description's encoder configuration."""
    arch = dict(architecture)
    kind = arch.get("kind")
    if kind == "rnn":
        return RecurrentNet(int(arch["vocab_size"]), int(arch["n_tokens"]), int(arch["n_extra"]), int(arch["n_out"]),
                            str(arch["cell"]), int(arch["embed_dim"]), int(arch["units"]), float(arch["dropout"]))
    if kind == "minilm":
        encoder = _minilm_encoder(arch.get("encoder"), pretrained_path)
        return MiniLMNet(encoder, int(arch["n_tokens"]), int(arch["n_extra"]), int(arch["n_out"]),
                         float(arch["dropout"]))
    if kind == "head":
        return HeadOnly(int(arch["n_tokens"]), int(arch["n_extra"]), int(arch["n_out"]))
    raise ValueError(f"unknown text network kind {kind!r}; valid: rnn, minilm, head")
