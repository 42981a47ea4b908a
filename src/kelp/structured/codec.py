"""Schema-aware codec: JSON documents <-> token ids of a :class:`StructuredVocab` (TCT-style).

A document is written in pre-order: ``<bos>``, the value, ``<eos>``. An object is ``{``, then for
each key (in the document's order) the key and its value, then ``}``; an array is ``[`` items
``]``. A string that is a whole-string token is that token; any other string is ``<str>``, its
byte-level BPE subwords, ``<end>``. A number is ``<num>``, one token per character of its JSON
spelling, ``<end>``. Keys follow the same rule as strings.

Every encoding is checked against the :class:`~kelp.structured.automaton.SchemaAutomaton`, so
``encode`` rejects documents the schema rejects; ``decode(encode(doc)) == doc``, key order
included, for every document the schema accepts whose numbers fit the bounds of
:data:`~kelp.structured.lexer.NUMBER_PATTERN` (16 digits, two-digit exponents). A codec is saved as a folder of JSON files
(``codec.json``, the schema, the HF tokenizer), never pickle.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from kelp.bpe import train_bpe
from kelp.errors import KelpError
from kelp.structured.automaton import SchemaAutomaton
from kelp.structured.vocab import (
    ARR, ARR_END, BOS, END, EOS, FALSE, NULL, NUM, OBJ, OBJ_END, STR, TRUE, StructuredVocab,
)

__all__ = ["CodecError", "SchemaCodec", "byte_level_bytes"]

_FORMAT = 1


class CodecError(KelpError, ValueError):
    """A document the codec cannot encode (not JSON data, or rejected by the schema), token ids
    that do not decode, or a codec folder that cannot be read."""


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    """Inverse of the GPT-2 byte-to-unicode table that HF ``ByteLevel`` uses for token strings."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def byte_level_bytes(token: str) -> bytes:
    """The bytes of a byte-level BPE token string (``"Ġthe"`` -> ``b" the"``)."""
    table = _unicode_to_byte()
    return bytes(table[c] for c in token)


def _strings(value: object, keys: Counter, values: Counter) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            keys[k] += 1
            _strings(v, keys, values)
    elif isinstance(value, list):
        for v in value:
            _strings(v, keys, values)
    elif isinstance(value, str):
        values[value] += 1


def _schema_strings(node: object, out: set[str]) -> None:
    if isinstance(node, dict):
        for key in ("properties",):
            if isinstance(node.get(key), dict):
                out.update(node[key].keys())
        for key in ("enum",):
            for v in node.get(key) or []:
                if isinstance(v, str):
                    out.add(v)
        if isinstance(node.get("const"), str):
            out.add(node["const"])
        for k, v in node.items():
            if k not in ("enum", "const", "default", "examples"):
                _schema_strings(v, out)
    elif isinstance(node, list):
        for v in node:
            _schema_strings(v, out)


class SchemaCodec:
    """Encode and decode documents of one schema.

    Args:
        schema: the JSON Schema (draft-07 subset, see :mod:`kelp.structured.schema_compile`).
        vocab: the token vocabulary.
        tokenizer: the HF byte-level BPE whose tokens are ``vocab.subwords``.

    Raises:
        UnsupportedSchemaError: the schema is outside the supported subset.
    """

    def __init__(self, schema: dict, vocab: StructuredVocab, tokenizer: Tokenizer) -> None:
        self.schema = schema
        self.vocab = vocab
        self.tokenizer = tokenizer
        self.automaton = SchemaAutomaton(schema, vocab)
        hf_vocab = tokenizer.get_vocab()
        self._hf_to_ours = {i: vocab.subword_id[byte_level_bytes(tok)] for tok, i in hf_vocab.items()}

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(cls, schema: dict, docs: Iterable[dict], n_strings: int = 2048, n_subwords: int = 2048,
              min_count: int = 3, max_string_chars: int = 48) -> SchemaCodec:
        """Build a vocabulary from training documents and return the codec.

        Whole strings: every property name and string ``enum``/``const`` of the schema, then the
        corpus's most frequent keys and string values (at least ``min_count`` occurrences, at most
        ``max_string_chars`` characters) up to ``n_strings`` in all. Subwords: a byte-level BPE
        of ``n_subwords`` tokens (256 single bytes included) trained on the remaining strings.
        """
        docs = list(docs)
        fixed: set[str] = set()
        _schema_strings(schema, fixed)
        keys: Counter = Counter()
        values: Counter = Counter()
        for doc in docs:
            _strings(doc, keys, values)
        counts = keys + values
        strings = sorted(fixed)
        room = max(0, n_strings - len(strings))
        frequent = [s for s, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                    if c >= min_count and len(s) <= max_string_chars and s not in fixed and s][:room]
        strings += frequent
        whole = set(strings)
        free = []
        for s, c in counts.items():
            if s not in whole:
                free.extend([s] * min(c, 20))
        tokenizer = train_bpe(free or ["a"], n_subwords)
        subwords = sorted((byte_level_bytes(t) for t in tokenizer.get_vocab()), key=lambda b: (len(b), b))
        vocab = StructuredVocab(strings=strings, subwords=subwords)
        return cls(schema, vocab, tokenizer)

    # -- saving --------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write ``codec.json``, ``schema.json`` and ``tokenizer.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "strings": self.vocab.strings,
                "subwords": [b.hex() for b in self.vocab.subwords]}
        (folder / "codec.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        (folder / "schema.json").write_text(json.dumps(self.schema, ensure_ascii=False, indent=1), encoding="utf-8")
        self.tokenizer.save(str(folder / "tokenizer.json"))

    @classmethod
    def load(cls, folder: Path) -> SchemaCodec:
        """Read a codec saved by :meth:`save`; raises :class:`CodecError` if a file is missing or
        malformed."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "codec.json").read_text(encoding="utf-8"))
            schema = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as error:  # tokenizers raises a bare Exception for a malformed file
            raise CodecError(f"cannot read a codec from {folder}: {error}") from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise CodecError(f"{folder}/codec.json: unknown format")
        try:
            vocab = StructuredVocab(strings=meta["strings"], subwords=[bytes.fromhex(h) for h in meta["subwords"]])
        except (KeyError, TypeError, ValueError) as error:
            raise CodecError(f"{folder}/codec.json: malformed vocabulary ({error})") from None
        return cls(schema, vocab, tokenizer)

    # -- encoding ------------------------------------------------------------------------------

    def _spell(self, text: str, out: list[int]) -> None:
        out.append(STR)
        if text:
            out.extend(self._hf_to_ours[i] for i in self.tokenizer.encode(text, add_special_tokens=False).ids)
        out.append(END)

    def _string(self, text: str, out: list[int]) -> None:
        i = self.vocab.string_id.get(text)
        if i is not None:
            out.append(i)
        else:
            self._spell(text, out)

    def _value(self, value: object, out: list[int]) -> None:
        if isinstance(value, dict):
            out.append(OBJ)
            for k, v in value.items():
                if not isinstance(k, str):
                    raise CodecError(f"object keys must be strings, got {k!r}")
                self._string(k, out)
                self._value(v, out)
            out.append(OBJ_END)
        elif isinstance(value, list):
            out.append(ARR)
            for v in value:
                self._value(v, out)
            out.append(ARR_END)
        elif isinstance(value, str):
            self._string(value, out)
        elif value is True:
            out.append(TRUE)
        elif value is False:
            out.append(FALSE)
        elif value is None:
            out.append(NULL)
        elif isinstance(value, (int, float)):
            text = json.dumps(value, allow_nan=False)
            out.append(NUM)
            out.extend(self.vocab.subword_id[bytes([b])] for b in text.encode("ascii"))
            out.append(END)
        else:
            raise CodecError(f"not JSON data: {type(value).__name__}")

    def encode(self, doc: object, validate: bool = True) -> list[int]:
        """Token ids ``[<bos>, ..., <eos>]`` of ``doc``.

        Raises :class:`CodecError` if ``doc`` is not JSON data or (with ``validate``) if the
        schema automaton rejects it; the message names the first rejected token.
        """
        out = [BOS]
        try:
            self._value(doc, out)
        except ValueError as error:
            raise CodecError(str(error)) from None
        out.append(EOS)
        if validate:
            try:
                self.automaton.walk(out[1:])
            except ValueError as error:
                raise CodecError(f"the schema rejects this document: {error}") from None
        return out

    def encode_prefix(self, doc: dict) -> list[int]:
        """Ids of ``doc`` as an unfinished document: ``<bos>`` and the encoding without its trailing
        ``}``/``]`` tokens and ``<eos>``, so that generation continues inside the last open
        container. The prefix must be accepted by the automaton (required keys may be missing).
        Raises :class:`CodecError` otherwise."""
        out = [BOS]
        try:
            self._value(doc, out)
        except ValueError as error:
            raise CodecError(str(error)) from None
        while out and out[-1] in (OBJ_END, ARR_END):
            out.pop()
        try:
            self.automaton.walk(out[1:])
        except ValueError as error:
            raise CodecError(f"the schema rejects this prefix: {error}") from None
        return out

    # -- decoding ------------------------------------------------------------------------------

    def decode(self, ids: list[int]) -> object:
        """The document of a complete encoding (``<bos>``/``<eos>``/``<pad>`` optional).

        Raises :class:`CodecError` for an incomplete or malformed sequence.
        """
        value, complete = self._parse(ids)
        if not complete:
            raise CodecError("the token sequence ends before the document is complete")
        return value

    def decode_prefix(self, ids: list[int]) -> object:
        """The partial document of an unfinished encoding: open objects and arrays hold what they
        have so far, a string being spelled holds its text so far, a key without a value yet is
        left out. None for an empty prefix."""
        return self._parse(ids)[0]

    def _parse(self, ids: list[int]) -> tuple[object, bool]:
        try:
            return self._parse_unchecked(ids)
        except (UnicodeDecodeError, ValueError) as error:
            if isinstance(error, CodecError):
                raise
            raise CodecError(f"malformed spelled value: {error}") from None

    def _parse_unchecked(self, ids: list[int]) -> tuple[object, bool]:
        reader = _Reader(self.vocab)
        for t in _body(ids):
            reader.feed(t)
        return reader.finish()


def _body(ids: list[int]) -> list[int]:
    """``ids`` without ``<bos>``, ``<pad>`` and a final ``<eos>``. Raises :class:`CodecError` for
    an ``<eos>`` before the end."""
    ids = [t for t in ids if t not in (BOS, 0)]
    if ids and ids[-1] == EOS:
        ids = ids[:-1]
    if EOS in ids:
        raise CodecError("<eos> before the end of the sequence")
    return ids


#: The key slot of an open object that is waiting for its next key.
_NO_KEY = object()


class _Reader:
    """Builds a document from the tokens of its encoding, one :meth:`feed` at a time.

    ``stack`` holds one ``[container, key]`` pair per open container, the bottom one a list
    ``root`` that receives the top-level value; ``key`` is the key awaiting its value in an
    object (:data:`_NO_KEY` when the next token is a key) and None for arrays and the root.
    ``spelling`` collects the bytes of a ``<str>``/``<num>`` value until its ``<end>``.
    Errors (:class:`CodecError`, or the ``UnicodeDecodeError``/``ValueError`` of a malformed
    spelled value) are raised by :meth:`feed` at the token that causes them.
    """

    def __init__(self, vocab: StructuredVocab) -> None:
        self.vocab = vocab
        self.root: list = []
        self.stack: list[list] = [[self.root, None]]
        self.spelling: bytearray | None = None
        self.spell_kind = 0

    def put(self, value: object) -> None:
        """Place a finished value (or an object's key) into the innermost open container."""
        top = self.stack[-1]
        container = top[0]
        if isinstance(container, dict):
            if top[1] is not _NO_KEY and top[1] is not None:
                container[top[1]] = value
                top[1] = _NO_KEY
            elif not isinstance(value, str):
                raise CodecError(f"object key must be a string, got {value!r}")
            else:
                top[1] = value
        elif container is self.root and self.root:
            raise CodecError("more than one top-level value")
        else:
            container.append(value)

    def feed(self, t: int) -> None:
        """Read token ``t``: a subword or ``<end>`` of the value being spelled, else a structure
        token, a literal or a whole string."""
        if self.spelling is not None:
            self._spell(t)
        else:
            self._structure(t)

    def _spell(self, t: int) -> None:
        v = self.vocab
        if t == END:
            data = bytes(self.spelling)
            self.spelling = None
            if self.spell_kind == NUM:
                text = data.decode("ascii")
                self.put(float(text) if any(c in text for c in ".eE") else int(text))
            else:
                self.put(data.decode("utf-8"))
        elif v.is_subword(t):
            self.spelling.extend(v.subword(t))
        else:
            raise CodecError(f"{v.describe(t)} inside a spelled value")

    def _structure(self, t: int) -> None:
        v = self.vocab
        if t in (STR, NUM):
            self.spelling, self.spell_kind = bytearray(), t
        elif t == OBJ:
            d: dict = {}
            self.put(d)
            self.stack.append([d, _NO_KEY])
        elif t == ARR:
            a: list = []
            self.put(a)
            self.stack.append([a, None])
        elif t in (OBJ_END, ARR_END):
            top = self.stack[-1]
            if len(self.stack) == 1 or isinstance(top[0], dict) != (t == OBJ_END) or (
                    isinstance(top[0], dict) and top[1] is not _NO_KEY):
                raise CodecError(f"unbalanced {v.describe(t)}")
            self.stack.pop()
        elif t in (TRUE, FALSE, NULL):
            self.put({TRUE: True, FALSE: False, NULL: None}[t])
        elif v.is_string(t):
            self.put(v.string(t))
        else:
            raise CodecError(f"unexpected token {v.describe(t)}")

    def finish(self) -> tuple[object, bool]:
        """``(value, complete)``: the document read so far (None if nothing was read) and whether
        it is whole. A string being spelled is kept with the text so far (bytes that are not
        UTF-8, such as a character cut short, dropped), unless it is an object's key."""
        complete = self.spelling is None and len(self.stack) == 1 and bool(self.root)
        if self.spelling is not None and self.spell_kind == STR:
            top = self.stack[-1]
            if not (isinstance(top[0], dict) and top[1] is _NO_KEY):  # a partial key is left out
                self.put(bytes(self.spelling).decode("utf-8", errors="ignore"))
        return (self.root[0] if self.root else None), complete
