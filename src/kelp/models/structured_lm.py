"""A tiny causal language model over whole encoded documents (transformers ``LlamaForCausalLM``).

Used twice with the same size: over the schema-aware tokens of :mod:`kelp.structured.codec`, and
as the baseline over plain byte-level BPE tokens of the same documents' YAML text. Saved with
``save_pretrained`` (``config.json`` + ``model.safetensors``), never pickle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

__all__ = ["LMSize", "new_lm", "load_lm", "sequence_nll"]


@dataclass(frozen=True)
class LMSize:
    """Model width and depth. ``max_len``: the longest document (in tokens) the model reads."""

    hidden: int = 256
    layers: int = 4
    heads: int = 4
    ffn: int = 640
    max_len: int = 2048


def new_lm(vocab_size: int, size: LMSize, pad_id: int, bos_id: int, eos_id: int, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised model (seeded) with tied input/output embeddings."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=size.hidden, num_hidden_layers=size.layers,
        num_attention_heads=size.heads, num_key_value_heads=size.heads, intermediate_size=size.ffn,
        max_position_embeddings=size.max_len, tie_word_embeddings=True, pad_token_id=pad_id,
        bos_token_id=bos_id, eos_token_id=eos_id, attention_dropout=0.0,
    )
    config.kelp_size = asdict(size)
    return LlamaForCausalLM(config)


def load_lm(folder: Path) -> LlamaForCausalLM:
    """A model saved with ``save_pretrained``; raises ``ValueError`` with the folder if it cannot be read."""
    try:
        model = LlamaForCausalLM.from_pretrained(str(folder))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot load a model from {folder}: {error}") from None
    model.eval()
    return model


def sequence_nll(model: LlamaForCausalLM, batch: list[list[int]], pad_id: int,
                 masks: list[torch.Tensor] | None = None) -> list[float]:
    """Negative log-likelihood in nats of each sequence (every token after the first).

    ``masks``: optional per-sequence bool tensors ``(len - 1, vocab)`` of allowed next tokens; the
    softmax is then renormalised over the allowed set (constrained decoding's distribution).
    """
    width = max(len(s) for s in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for i, s in enumerate(batch):
        ids[i, :len(s)] = torch.tensor(s)
        attention[i, :len(s)] = 1
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention).logits.float()
    out = []
    for i, s in enumerate(batch):
        row = logits[i, :len(s) - 1]
        if masks is not None:
            row = row.masked_fill(~masks[i], float("-inf"))
        logp = torch.log_softmax(row, dim=-1)
        target = torch.tensor(s[1:])
        out.append(float(-logp.gather(1, target[:, None]).sum()))
    return out
