"""The baseline tokenizer of the structured LM: a plain byte-level BPE (HF ``tokenizers``) of the
documents' YAML text (``kelp train structured --tokens bpe``), with ``<pad> <bos> <eos>`` at the
ids of the structured vocabulary, so that both token streams are framed alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kelp.bpe import train_bpe
from kelp.structured.vocab import BOS, EOS

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["BPE_SPECIALS", "bpe_baseline_tokenizer", "bpe_encode"]

BPE_SPECIALS = ["<pad>", "<bos>", "<eos>"]


def bpe_baseline_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """Byte-level BPE (:func:`kelp.bpe.train_bpe`) with ``<pad> <bos> <eos>`` (ids 0, 1, 2, as in
    the structured vocabulary)."""
    return train_bpe(texts, vocab_size, special_tokens=BPE_SPECIALS)


def bpe_encode(tok: Tokenizer, text: str) -> list[int]:
    """``[<bos>] + BPE ids + [<eos>]``."""
    return [BOS] + tok.encode(text, add_special_tokens=False).ids + [EOS]
