"""kelp's code bi-encoder: one small transformer embeds both natural-language queries and code
into the same unit-vector space (a dual encoder with shared weights, as in CodeSearchNet's
neural baselines, Husain et al. 2019, arXiv:1909.09436).

Architecture: a byte-level BPE tokenizer (HF ``tokenizers``) trained on the corpus, a small
``transformers.BertModel`` (default 4 layers, width 256, about 5M parameters), mean pooling over
non-padding positions, a linear projection and L2 normalisation. Trained with the symmetric
in-batch InfoNCE loss (van den Oord et al. 2018, arXiv:1807.03748; CLIP's form, Radford et al.
2021) on (docstring, code without docstring) pairs: ``kelp train encoder``
(:mod:`kelp.train.encoder_trainer`).

Checkpoints are directories with ``model.safetensors``, ``config.json``
(:class:`CodeEncoderConfig`) and ``tokenizer.json``; no pickle.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import Tensor, nn

from kelp.bpe import train_bpe
from kelp.errors import KelpError

#: The bundled encoder checkpoint (``kelp index`` / ``kelp search --retriever ours``).
DEFAULT_ENCODER_CHECKPOINT = Path(__file__).parent / "checkpoints" / "code_encoder"
_FORMAT = "kelp.code_encoder/1"
_FILES = ("config.json", "tokenizer.json", "model.safetensors")


class EncoderCheckpointError(KelpError, ValueError):
    """A missing or corrupt code-encoder checkpoint directory."""


@dataclass(frozen=True)
class CodeEncoderConfig:
    """Architecture of :class:`CodeEncoder`: ``vocab_size`` (the tokenizer's), ``hidden``
    (transformer width, divisible by ``heads``), ``layers``, ``heads``, ``dim`` (output vector
    size), ``max_length`` (tokens read per text; longer texts are cut). Raises ValueError for
    non-positive sizes or ``hidden`` not divisible by ``heads``."""

    vocab_size: int
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    dim: int = 256
    max_length: int = 256

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be an int >= 1, got {value!r}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")


def train_tokenizer(texts, vocab_size: int = 8192):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on the iterable ``texts``, with
    ``[PAD]`` (id 0) and ``[UNK]`` (id 1, the BPE model's unknown token) specials
    (:func:`kelp.bpe.train_bpe`). Raises ValueError for vocab_size < 300."""
    if vocab_size < 300:
        raise ValueError(f"vocab_size must be >= 300 (the byte alphabet needs 256), got {vocab_size}")
    return train_bpe(texts, vocab_size, special_tokens=("[PAD]", "[UNK]"), unk_token="[UNK]")


class CodeEncoder(nn.Module):
    """Embeds texts (queries or code) as unit vectors (see the module docstring).

    ``config``: :class:`CodeEncoderConfig`; ``tokenizer``: a ``tokenizers.Tokenizer`` whose
    id 0 is padding (:func:`train_tokenizer`)."""

    def __init__(self, config: CodeEncoderConfig, tokenizer) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel

        self.config = config
        self.tokenizer = tokenizer
        bert = BertConfig(vocab_size=config.vocab_size, hidden_size=config.hidden,
                          num_hidden_layers=config.layers, num_attention_heads=config.heads,
                          intermediate_size=4 * config.hidden, max_position_embeddings=config.max_length,
                          type_vocab_size=1, pad_token_id=0, hidden_dropout_prob=0.1,
                          attention_probs_dropout_prob=0.1)
        self.bert = BertModel(bert, add_pooling_layer=False)
        self.project = nn.Linear(config.hidden, config.dim)

    def tokenize(self, texts: list[str], max_length: int | None = None) -> tuple[Tensor, Tensor]:
        """``(ids (B, L) long, mask (B, L) long)``: texts cut to ``max_length`` tokens (default
        the config's), right-padded with 0 to the longest; an empty text becomes one ``[UNK]``."""
        limit = min(max_length or self.config.max_length, self.config.max_length)
        rows = [enc.ids[:limit] or [1] for enc in self.tokenizer.encode_batch(list(texts))]
        width = max((len(r) for r in rows), default=1)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return ids, mask

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        """(B, dim) float unit vectors for token ``ids`` (B, L) with attention ``mask`` (B, L)."""
        states = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, L, H)
        weights = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return nn.functional.normalize(self.project(pooled), dim=-1)

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 64, max_length: int | None = None) -> Tensor:
        """(len(texts), dim) float32 unit vectors, in eval mode, batched by length (sorted, so
        padding is small) and returned in input order."""
        was_training = self.training
        self.eval()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.zeros(len(texts), self.config.dim)
        for start in range(0, len(order), batch_size):
            part = order[start:start + batch_size]
            ids, mask = self.tokenize([texts[i] for i in part], max_length)
            out[part] = self(ids, mask)
        self.train(was_training)
        return out


def save_code_encoder(path: Path | str, model: CodeEncoder, training: dict | None = None) -> None:
    """Write ``model`` as a checkpoint directory (created if needed), with ``training``
    (JSON-serialisable: settings, step, metrics) as ``training.json``."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps({"format": _FORMAT, **asdict(model.config)}, indent=2) + "\n")
    model.tokenizer.save(str(path / "tokenizer.json"))
    (path / "training.json").write_text(json.dumps(training or {}, indent=2) + "\n")


def load_code_encoder(path: Path | str) -> CodeEncoder:
    """The :class:`CodeEncoder` in eval mode from a :func:`save_code_encoder` directory. Raises
    :class:`EncoderCheckpointError` naming the missing or corrupt file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    path = Path(path)
    for name in _FILES:
        if not (path / name).is_file():
            raise EncoderCheckpointError(f"{path} is not a code-encoder checkpoint: {name} is missing "
                                         "(train one with `kelp train encoder`)")
    try:
        doc = json.loads((path / "config.json").read_text())
        if doc.pop("format", None) != _FORMAT:
            raise ValueError(f"expected format {_FORMAT!r}")
        config = CodeEncoderConfig(**doc)
    except (ValueError, TypeError) as exc:
        raise EncoderCheckpointError(f"{path / 'config.json'} is corrupt: {exc}") from None
    try:
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises its own Exception subclass
        raise EncoderCheckpointError(f"{path / 'tokenizer.json'} is corrupt: {exc}") from None
    model = CodeEncoder(config, tokenizer)
    try:
        model.load_state_dict(load_file(str(path / "model.safetensors")), strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise EncoderCheckpointError(f"{path / 'model.safetensors'} is corrupt or does not match config.json: {exc}") from None
    return model.eval()


__all__ = ["DEFAULT_ENCODER_CHECKPOINT", "CodeEncoder", "CodeEncoderConfig", "EncoderCheckpointError",
           "load_code_encoder", "save_code_encoder", "train_tokenizer"]
