"""Regular languages over UTF-8 bytes, for the free strings and numbers of the schema automaton.

A JSON Schema ``pattern`` is compiled to a character DFA with `interegular`; this module adds the
UTF-8 layer on top, so that a subword token (a byte string from byte-level BPE) can be walked
through the DFA byte by byte, and a multi-byte character can be split across tokens. Several
patterns that must all hold (``allOf``) are walked together as a tuple of states.

A lexer state is a small hashable tuple; :meth:`ByteLexer.token_mask` caches, per state, which
subword tokens keep every pattern alive, so the automaton pays the walk once per state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import interegular
import numpy as np
from interegular.fsm import anything_else

__all__ = ["PatternError", "CharDFA", "ByteLexer", "search_to_fullmatch", "NUMBER_PATTERN", "INTEGER_PATTERN"]

#: JSON numbers, bounded so that every accepted spelling is a finite float (at most 16 digits
#: before and after the point, a two-digit exponent: below 1e116 < 1.8e308).
NUMBER_PATTERN = r"-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,16})?([eE][+-]?[0-9]{1,2})?"
#: JSON integers of at most 18 digits.
INTEGER_PATTERN = r"-?(0|[1-9][0-9]{0,17})"
_ANY = r"(.|\n)*"


class PatternError(ValueError):
    """A schema ``pattern`` that cannot be compiled to a byte automaton (the message names it)."""


def search_to_fullmatch(pattern: str) -> str:
    """Rewrite a JSON Schema ``pattern`` (search semantics, as ``re.search``) as a full-match regex.

    A leading ``^`` and trailing ``$`` are removed (interegular has no anchors); an unanchored side
    is padded with ``(.|\\n)*``. Raises :class:`PatternError` for anchors inside an alternation,
    which this rewrite cannot express.
    """
    body = pattern
    start = body.startswith("^")
    end = body.endswith("$") and not body.endswith("\\$")
    if start:
        body = body[1:]
    if end:
        body = body[:-1]
    if "^" in body.replace("\\^", "").replace("[^", "") or re.search(r"(?<!\\)\$(?!\))", body):
        raise PatternError(f"pattern {pattern!r}: anchors inside the pattern are not supported")
    if (start or end) and _top_level_bar(body):
        raise PatternError(f"pattern {pattern!r}: anchors around a top-level alternation are not supported")
    # Python's (and so jsonschema's) "$" also matches before one final newline
    return ("" if start else _ANY) + "(" + body + ")" + (r"\n?" if end else _ANY)


def _top_level_bar(body: str) -> bool:
    depth, escaped, in_class = 0, False, False
    for ch in body:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
    return False


class CharDFA:
    """A full-match character DFA from `interegular`, restricted to live states.

    ``step(q, ch)`` returns the next state or ``-1`` (dead: no accepting state is reachable).
    Characters the regex never names share one class (interegular's ``anything_else``).
    Raises :class:`PatternError` if interegular cannot parse the regex.
    """

    def __init__(self, fullmatch_regex: str) -> None:
        try:
            fsm = interegular.parse_pattern(fullmatch_regex).to_fsm()
        except Exception as error:  # interegular raises several private exception types
            raise PatternError(f"regex {fullmatch_regex!r} is not supported: {error}") from None
        self.regex = fullmatch_regex
        reverse: dict[int, set[int]] = {}
        for q, row in fsm.map.items():
            for r in row.values():
                reverse.setdefault(r, set()).add(q)
        live = set(fsm.finals)
        todo = list(live)
        while todo:
            for p in reverse.get(todo.pop(), ()):
                if p not in live:
                    live.add(p)
                    todo.append(p)
        self._alphabet = fsm.alphabet
        self._other = fsm.alphabet[anything_else]
        self._map = {q: {s: r for s, r in row.items() if r in live} for q, row in fsm.map.items()}
        self.initial = fsm.initial if fsm.initial in live else -1
        self.finals = frozenset(fsm.finals)
        self._ascii = [self._alphabet[chr(b)] for b in range(128)]

    def step(self, q: int, ch: str) -> int:
        """Next state after character ``ch`` from state ``q``, or -1."""
        if q < 0:
            return -1
        symbol = self._ascii[ord(ch)] if ord(ch) < 128 else self._alphabet[ch]
        return self._map[q].get(symbol, -1) if symbol is not None else -1

    def step_other(self, q: int) -> int:
        """Next state for a character the regex does not name (every non-ASCII char here)."""
        return self._map[q].get(self._other, -1) if q >= 0 and self._other is not None else -1

    def names_non_ascii(self) -> bool:
        """True if the regex names a specific non-ASCII character (the byte layer cannot split those)."""
        return any(isinstance(c, str) and ord(c) >= 128 for c in self._alphabet.keys())


# UTF-8: lead byte -> (continuation bytes, allowed range of the first continuation byte)
def _utf8_lead(b: int) -> tuple[int, int, int] | None:
    if 0xC2 <= b <= 0xDF:
        return 1, 0x80, 0xBF
    if b == 0xE0:
        return 2, 0xA0, 0xBF
    if b == 0xED:
        return 2, 0x80, 0x9F
    if 0xE1 <= b <= 0xEF:
        return 2, 0x80, 0xBF
    if b == 0xF0:
        return 3, 0x90, 0xBF
    if 0xF1 <= b <= 0xF3:
        return 3, 0x80, 0xBF
    if b == 0xF4:
        return 3, 0x80, 0x8F
    return None


@dataclass
class ByteLexer:
    """The conjunction of full-match regexes, walked over UTF-8 bytes.

    A state is ``(char_states, pending, lo, hi)``: the DFA state of every regex (after the last
    whole character), how many continuation bytes the current character still needs, and the
    allowed range of the next one. ``char_states`` already holds the target states of a pending
    non-ASCII character, so a state is live exactly when every component is >= 0.

    ``dfas``: one :class:`CharDFA` per regex (empty: any valid UTF-8 string).
    ``ascii_only``: allow only ASCII bytes (numbers).
    """

    dfas: tuple[CharDFA, ...]
    ascii_only: bool = False
    _masks: dict = field(default_factory=dict, repr=False)
    _dist: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for dfa in self.dfas:
            if dfa.names_non_ascii():
                raise PatternError(f"regex {dfa.regex!r} names a non-ASCII character; not supported")

    @property
    def initial(self) -> tuple:
        """The start state."""
        return (tuple(d.initial for d in self.dfas), 0, 0, 0)

    def step(self, state: tuple, b: int) -> tuple | None:
        """The state after byte ``b`` (0-255), or None if no accepted string continues this way."""
        qs, pending, lo, hi = state
        if pending:
            if not lo <= b <= hi:
                return None
            return (qs, pending - 1, 0x80, 0xBF)
        if b < 0x80:
            ch = chr(b)
            nxt = tuple(d.step(q, ch) for d, q in zip(self.dfas, qs))
        else:
            if self.ascii_only:
                return None
            lead = _utf8_lead(b)
            if lead is None:
                return None
            n, lo, hi = lead
            nxt = tuple(d.step_other(q) for d, q in zip(self.dfas, qs))
            if -1 in nxt:
                return None
            return (nxt, n, lo, hi)
        return None if -1 in nxt else (nxt, 0, 0, 0)

    def walk(self, state: tuple | None, data: bytes) -> tuple | None:
        """Step through every byte of ``data``; None as soon as the walk dies."""
        for b in data:
            if state is None:
                return None
            state = self.step(state, b)
        return state

    def is_final(self, state: tuple) -> bool:
        """True if the bytes so far form a complete string every regex accepts."""
        qs, pending, _, _ = state
        return not pending and all(q in d.finals for d, q in zip(self.dfas, qs))

    def token_mask(self, state: tuple, tokens: list[bytes], offset: int, size: int) -> np.ndarray:
        """Boolean mask of shape ``(size,)``: True at ``offset + i`` where ``tokens[i]`` may follow.

        Cached per state; the returned array is shared and must not be modified.
        """
        key = (state, offset, size)
        mask = self._masks.get(key)
        if mask is None:
            mask = np.zeros(size, dtype=bool)
            for i, data in enumerate(tokens):
                if self.walk(state, data) is not None:
                    mask[offset + i] = True
            mask.flags.writeable = False
            self._masks[key] = mask
        return mask

    def distance(self, state: tuple) -> tuple[int, int | None]:
        """``(n, b)``: the fewest bytes to reach a final state, and the first byte of such a path.

        ``b`` is None when ``state`` is already final; ``n`` is a large number if no final state
        is reachable. Breadth-first over single bytes (ASCII first), cached.
        """
        hit = self._dist.get(state)
        if hit is not None:
            return hit
        if self.is_final(state):
            self._dist[state] = (0, None)
            return 0, None
        frontier = [(state, None)]
        seen = {state}
        depth = 0
        byte_order = list(range(32, 127)) + [9, 10] + list(range(0x80, 0x100))
        while frontier and depth < 64:
            depth += 1
            nxt = []
            for s, first in frontier:
                for b in byte_order:
                    t = self.step(s, b)
                    if t is None or t in seen:
                        continue
                    f = b if first is None else first
                    if self.is_final(t):
                        self._dist[state] = (depth, f)
                        return depth, f
                    seen.add(t)
                    nxt.append((t, f))
            frontier = nxt
        self._dist[state] = (10**6, None)
        return 10**6, None
