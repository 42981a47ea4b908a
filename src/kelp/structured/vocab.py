"""The token vocabulary of schema-aware encoding (TCT-style): structure, whole strings, subwords.

Ids are laid out as ``[specials | whole strings | subwords]``:

- 13 specials: ``<pad> <bos> <eos> { } [ ] <str> <num> <end> true false null``. ``<str>`` opens a
  free string and ``<num>`` a number; both are closed by ``<end>``. The opening token is the
  value's type tag.
- whole strings: property names, enum values and frequent corpus strings, one token each. A
  string in this list is always written as its token (never spelled), which keeps the encoding
  canonical.
- subwords: the byte strings of a byte-level BPE (HF ``tokenizers``), used to spell free strings;
  single bytes spell numbers digit by digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SPECIALS", "PAD", "BOS", "EOS", "OBJ", "OBJ_END", "ARR", "ARR_END", "STR", "NUM", "END",
           "TRUE", "FALSE", "NULL", "StructuredVocab", "VocabError"]

SPECIALS = ("<pad>", "<bos>", "<eos>", "{", "}", "[", "]", "<str>", "<num>", "<end>", "true", "false", "null")
PAD, BOS, EOS, OBJ, OBJ_END, ARR, ARR_END, STR, NUM, END, TRUE, FALSE, NULL = range(len(SPECIALS))


class VocabError(ValueError):
    """A vocabulary that cannot work (duplicate strings, missing single bytes)."""


@dataclass
class StructuredVocab:
    """Token ids for whole strings and subwords.

    ``strings``: whole-string tokens, distinct. ``subwords``: byte strings, distinct, including
    every single byte 0-255 (so any UTF-8 string can be spelled). Raises :class:`VocabError`
    otherwise.
    """

    strings: list[str]
    subwords: list[bytes]
    string_id: dict[str, int] = field(init=False, repr=False)
    subword_id: dict[bytes, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.string_offset = len(SPECIALS)
        self.subword_offset = self.string_offset + len(self.strings)
        self.size = self.subword_offset + len(self.subwords)
        self.string_id = {s: self.string_offset + i for i, s in enumerate(self.strings)}
        self.subword_id = {b: self.subword_offset + i for i, b in enumerate(self.subwords)}
        if len(self.string_id) != len(self.strings):
            raise VocabError("whole strings must be distinct")
        if len(self.subword_id) != len(self.subwords):
            raise VocabError("subwords must be distinct")
        missing = [b for b in range(256) if bytes([b]) not in self.subword_id]
        if missing:
            raise VocabError(f"subwords lack {len(missing)} single bytes (e.g. {missing[:5]})")
        self.single_byte_mask = np.zeros(self.size, dtype=bool)
        for b in range(256):
            self.single_byte_mask[self.subword_id[bytes([b])]] = True

    def is_string(self, token: int) -> bool:
        """True for a whole-string token."""
        return self.string_offset <= token < self.subword_offset

    def is_subword(self, token: int) -> bool:
        """True for a subword token."""
        return self.subword_offset <= token < self.size

    def string(self, token: int) -> str:
        """The text of a whole-string token."""
        return self.strings[token - self.string_offset]

    def subword(self, token: int) -> bytes:
        """The bytes of a subword token."""
        return self.subwords[token - self.subword_offset]

    def describe(self, token: int) -> str:
        """A readable name for any token id (for error messages and debugging)."""
        if 0 <= token < len(SPECIALS):
            return SPECIALS[token]
        if self.is_string(token):
            return f"S:{self.string(token)!r}"
        if self.is_subword(token):
            return f"B:{self.subword(token)!r}"
        return f"<bad id {token}>"
