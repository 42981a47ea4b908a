"""Subword tokenizer for the edit format: byte-level BPE (HF ``tokenizers``) trained on the
corpus, with the format's markers and section tokens as atomic special tokens.

Byte-level BPE (Radford et al. 2019, GPT-2) never meets an unknown character, so any program
and any error message can be encoded. Saved as ``tokenizer.json`` (the library's own JSON
format, no pickle).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer

from kelp.bpe import train_bpe
from kelp.errors import KelpError
from kelp.models.edit_format import SPECIAL_TOKENS

#: Default BPE vocabulary size, special tokens included.
VOCAB_SIZE = 4096


class TokenizerError(KelpError, ValueError):
    """A tokenizer file that is missing or does not hold the edit format's special tokens."""


def train_tokenizer(texts: Iterable[str], vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    """Train byte-level BPE on ``texts`` (program sources, test code, messages).

    The special tokens of :data:`~kelp.models.edit_format.SPECIAL_TOKENS` get ids 0.. in
    order (``<pad>`` = 0); a pair is merged only if it occurs at least twice. Deterministic
    for the same texts in the same order (:func:`kelp.bpe.train_bpe`)."""
    return train_bpe(texts, vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2)


def load_tokenizer(path: Path) -> Tokenizer:
    """Load ``tokenizer.json`` (or the directory holding it). Raises :class:`TokenizerError`
    when it is missing or lacks the format's special tokens."""
    path = path / "tokenizer.json" if path.is_dir() else path
    if not path.exists():
        raise TokenizerError(f"tokenizer not found: {path}")
    tokenizer = Tokenizer.from_file(str(path))
    for i, token in enumerate(SPECIAL_TOKENS):
        if tokenizer.token_to_id(token) != i:
            raise TokenizerError(f"{path}: special token {token} is not id {i}; retrain the tokenizer")
    return tokenizer


def special_id(tokenizer: Tokenizer, token: str) -> int:
    """Id of a special token. Raises :class:`TokenizerError` when the tokenizer lacks it."""
    found = tokenizer.token_to_id(token)
    if found is None:
        raise TokenizerError(f"the tokenizer has no {token} token")
    return found
