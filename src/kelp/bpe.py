"""The one BPE builder: byte-level BPE (HF ``tokenizers``) trained on an iterable of texts.

Byte-level BPE (Radford et al. 2019, GPT-2) starts from the 256 single bytes, so it never meets
an unknown character: any program, message or document can be encoded. Every tokenizer of kelp
(the edit format's, the code encoder's, the structured LM's baseline and the subwords of the
schema codec) is built here; callers differ only in their special tokens, the minimum pair
frequency and the unknown token. ``tokenizers`` is imported when a tokenizer is trained, so
importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["train_bpe"]


def train_bpe(texts: Iterable[str], vocab_size: int, *, special_tokens: Sequence[str] = (),
              min_frequency: int = 0, unk_token: str | None = None) -> Tokenizer:
    """Train a byte-level BPE ``tokenizers.Tokenizer`` on ``texts``.

    The tokenizer splits text with the ``ByteLevel`` pre-tokenizer (no prefix space), decodes
    with the ``ByteLevel`` decoder, and its initial alphabet is the 256 byte symbols.

    Args:
        texts: the training texts, read once (a generator is fine).
        vocab_size: the most tokens in the vocabulary, special tokens and the 256 bytes included.
        special_tokens: atomic tokens that get ids ``0..len(special_tokens)-1`` in this order.
        min_frequency: a pair is merged only if it occurs at least this many times (0: any).
        unk_token: the BPE model's unknown token (None: none), normally one of ``special_tokens``.
            The initial alphabet covers every byte whatever ``vocab_size``, so the model never
            emits it; it only reserves the name in the saved model.

    Returns:
        The trained tokenizer. The same texts in the same order give the same tokenizer.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=unk_token) if unk_token is not None else models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer
