"""The baseline tokenizer of the structured LM: a plain byte-level BPE (HF ``tokenizers``) of the
documents' YAML text (``kelp train structured --tokens bpe``), with ``<pad> <bos> <eos>`` at the
ids of the structured vocabulary, so that both token streams are framed alike."""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from kelp.structured.vocab import BOS, EOS

__all__ = ["BPE_SPECIALS", "bpe_baseline_tokenizer", "bpe_encode"]

BPE_SPECIALS = ["<pad>", "<bos>", "<eos>"]


def bpe_baseline_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """Byte-level BPE with ``<pad> <bos> <eos>`` (ids 0, 1, 2, as in the structured vocabulary)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=BPE_SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return tok


def bpe_encode(tok: Tokenizer, text: str) -> list[int]:
    """``[<bos>] + BPE ids + [<eos>]``."""
    return [BOS] + tok.encode(text, add_special_tokens=False).ids + [EOS]
