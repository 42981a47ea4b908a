"""Tokens of code and prose for lexical (BM25) ranking.

Queries are prose ("parse the http response") and documents are code
(``def parseHTTPResponse(raw_bytes):``), so identifiers must meet words halfway: every
identifier is kept whole *and* split into its parts.

:func:`code_tokens` rules, in order:

1. Words are maximal runs of Unicode word characters (``\\w``: letters, digits, ``_``);
   everything else (punctuation, operators, whitespace) only separates words and is dropped.
2. Each word gives its *whole* form, lowercased with leading and trailing underscores removed
   (``__init__`` -> ``init``, ``parse_args`` -> ``parse_args``), followed by its *parts* if it
   has more than one: the word is split at underscores, at lower-to-upper case changes
   (``parseHttp`` -> ``parse``, ``Http``), before the last capital of a capital run followed
   by a lowercase letter (``HTTPResponse`` -> ``HTTP``, ``Response``) and between letters and
   digits (``utf8`` -> ``utf``, ``8``), then lowercased. So ``parseHTTPResponse2`` gives
   ``parsehttpresponse2, parse, http, response, 2``, and ``parse_args`` gives
   ``parse_args, parse, args``. A part equal to the whole form is not repeated.
3. Dropped: stopwords (:data:`STOPWORDS`, compared after lowercasing) and one-character
   tokens that are not digits (``x``, ``i``; but ``2`` stays, numbers like ``404`` or the
   ``256`` of ``sha256`` carry meaning).

Repeated words give repeated tokens (BM25 counts term frequency), in text order. The result
is deterministic, and every token is a non-empty lowercase string.

:data:`STOPWORDS` is kept small on purpose, since BM25's IDF already discounts common terms
and most "stopwords" of code (``list``, ``type``, ``open``, ``not``) are real query words. It
holds English function words that carry no meaning in a query (``the``, ``a``, ``an``, ``of``,
``to``, ``in``, ``on``, ``at``, ``by``, ``for``, ``with``, ``and``, ``or``, ``is``, ``are``,
``be``, ``it``, ``its``, ``this``, ``that``, ``as``) and the Python words that occur in
nearly every function and never describe one (``self``, ``cls``, ``def``, ``return``,
``pass``, ``elif``).

Pure code: no I/O.
"""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "code_tokens", "split_identifier"]

#: Tokens dropped by :func:`code_tokens` (see the module docstring).
STOPWORDS: frozenset[str] = frozenset(
    {
        # English function words
        "the", "a", "an", "of", "to", "in", "on", "at", "by", "for", "with", "and", "or",
        "is", "are", "be", "it", "its", "this", "that", "as",
        # Python words present in nearly every definition
        "self", "cls", "def", "return", "pass", "elif",
    }
)  # fmt: skip

_WORD_RE = re.compile(r"\w+")


def _char_class(char: str) -> str:
    """``"u"`` upper-case letter, ``"d"`` digit, ``"l"`` any other word character."""
    if char.isdigit():
        return "d"
    if char.isupper():
        return "u"
    return "l"


def split_identifier(word: str) -> list[str]:
    """The parts of one identifier, in order and with their original case.

    Splits at underscores, at lower-to-upper changes, before the last capital of a capital
    run followed by a lowercase letter, and between digits and non-digits::

        split_identifier("parseHTTPResponse2") == ["parse", "HTTP", "Response", "2"]
        split_identifier("__init__") == ["init"]
        split_identifier("sha256_hex") == ["sha", "256", "hex"]

    Returns ``[]`` for a word of underscores only. Never raises.
    """
    parts: list[str] = []
    for segment in word.split("_"):
        if not segment:
            continue
        start = 0
        classes = [_char_class(c) for c in segment]
        for i in range(1, len(segment)):
            before, here = classes[i - 1], classes[i]
            boundary = (
                (before == "d") != (here == "d")
                or (before == "l" and here == "u")
                or (
                    before == "u"
                    and here == "u"
                    and i + 1 < len(segment)
                    and classes[i + 1] == "l"
                )
            )
            if boundary:
                parts.append(segment[start:i])
                start = i
        parts.append(segment[start:])
    return parts


def _keep(token: str) -> bool:
    return bool(token) and token not in STOPWORDS and (len(token) > 1 or token.isdigit())


def code_tokens(text: str) -> list[str]:
    """Lowercase search tokens of ``text`` (code or prose), in order, duplicates kept.

    See the module docstring for the rules. Example::

        code_tokens("def parseHTTPResponse2(self, raw_bytes): return the_body")
        == ["parsehttpresponse2", "parse", "http", "response", "2",
            "raw_bytes", "raw", "bytes", "the_body", "body"]

    Args:
        text: any string.

    Returns:
        Non-empty lowercase tokens; ``[]`` when ``text`` has no word that survives the filters.
        Never raises.
    """
    tokens: list[str] = []
    for match in _WORD_RE.finditer(text):
        word = match.group()
        whole = word.strip("_").lower()
        if _keep(whole):
            tokens.append(whole)
        parts = split_identifier(word)
        if len(parts) > 1:
            tokens.extend(p for p in (part.lower() for part in parts) if p != whole and _keep(p))
    return tokens
