"""A tiny causal language model over whole encoded documents (transformers ``LlamaForCausalLM``).

Used twice with the same size: over the schema-aware tokens of :mod:`kelp.structured.codec`, and
as the baseline over plain byte-level BPE tokens of the same documents' YAML text. Saved with
``save_pretrained`` (``config.json`` + ``model.safetensors``), never pickle.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.utils import logging as hf_logging

from kelp.errors import KelpError
from kelp.structured.codec import CodecError, SchemaCodec

hf_logging.disable_progress_bar()  # kelp draws its own progress (kelp.progress); no per-shard bars

__all__ = ["LMSize", "new_lm", "load_lm", "sequence_nll", "StructuredModelError", "load_structured_model",
           "generate_documents", "document_text"]


class StructuredModelError(KelpError, ValueError):
    """A structured-LM run folder, schema or prefix that cannot be used (message says why)."""


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


def load_structured_model(folder: Path):
    """``(model, codec_or_tokenizer, settings)`` from a ``kelp train structured`` run folder (or a
    bundled copy of one): ``checkpoint/`` plus ``codec/`` (schema-aware tokens, a
    :class:`SchemaCodec`) or ``tokenizer.json`` (the plain-BPE baseline, a ``tokenizers``
    Tokenizer); ``settings`` is its ``settings.json`` (``{}`` when absent).
    Raises :class:`StructuredModelError` when the folder holds no readable model."""
    from tokenizers import Tokenizer

    folder = Path(folder)
    if not (folder / "checkpoint" / "config.json").exists():
        raise StructuredModelError(f"{folder} holds no trained model (checkpoint/config.json is missing)")
    try:
        model = load_lm(folder / "checkpoint")
    except ValueError as error:
        raise StructuredModelError(str(error)) from None
    settings = json.loads((folder / "settings.json").read_text()) if (folder / "settings.json").exists() else {}
    if (folder / "codec" / "codec.json").exists():
        try:
            return model, SchemaCodec.load(folder / "codec"), settings
        except CodecError as error:
            raise StructuredModelError(str(error)) from None
    if (folder / "tokenizer.json").exists():
        return model, Tokenizer.from_file(str(folder / "tokenizer.json")), settings
    raise StructuredModelError(f"{folder} has neither codec/ nor tokenizer.json")


def generate_documents(folder: Path, n: int, *, schema: Path | None = None, prefix: Path | None = None,
                       temperature: float = 1.0, seed: int = 0, max_len: int = 2048) -> list:
    """``n`` documents sampled under the schema automaton from the schema-aware model in
    ``folder`` (:func:`kelp.structured.generate.sample_documents`: every one complete and valid
    by construction), as :class:`~kelp.structured.generate.Sample` objects. ``schema``: a JSON
    Schema file that must equal the model's; ``prefix``: a YAML (or ``.json``) document to
    continue inside its last open mapping or list. Seeded.

    Raises :class:`StructuredModelError` for an unreadable folder, a plain-BPE model, a schema
    other than the model's, an unreadable prefix, and :class:`CodecError` for a prefix the
    schema rejects or one that leaves no room within ``max_len``."""
    from kelp.structured.generate import sample_documents
    from kelp.structured.workflow_yaml import WorkflowYAMLError, load_workflow

    model, codec, _ = load_structured_model(folder)
    if not isinstance(codec, SchemaCodec):
        raise StructuredModelError(f"{folder} is a plain-BPE baseline; generation needs a schema-aware (tct) model")
    if schema is not None:
        try:
            given = json.loads(Path(schema).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise StructuredModelError(f"cannot read the schema {schema}: {error}") from None
        if given != codec.schema:
            raise StructuredModelError(f"{schema} is not the schema this model was trained with")
    prompts = None
    if prefix is not None:
        try:
            text = Path(prefix).read_text(encoding="utf-8")
            doc = json.loads(text) if Path(prefix).suffix == ".json" else load_workflow(text)
        except (OSError, ValueError, WorkflowYAMLError) as error:
            raise StructuredModelError(f"cannot read the prefix {prefix}: {error}") from None
        prompts = [codec.encode_prefix(doc)]
    return sample_documents(model, codec, n, prompts=prompts, temperature=temperature, seed=seed, max_len=max_len,
                            batch_size=min(n, 32))


def document_text(doc: object) -> str:
    """A generated document as text: YAML for a mapping (workflow style), JSON otherwise."""
    from kelp.structured.workflow_yaml import dump_workflow

    return dump_workflow(doc) if isinstance(doc, dict) else json.dumps(doc, indent=2) + "\n"
