"""How close a failed assertion's actual value came to the expected one.

A program with several bugs often fails the same tests after one of them is fixed, so "tests
passed" shows no progress. The values the failing assertion compared still move: fixing one of
three bugs typically brings the output nearer the expected value. This is the output-distance
fitness of genetic improvement and test-driven search (e.g. Arcuri 2008, "On the automation of
fixing software bugs"), computed from the ``left = ..., right = ...`` message the sandbox writes
for a failed ``assert a == b``.
"""

from __future__ import annotations

import ast
import difflib
import math

_LEFT = " failed: left = "
_RIGHT = ", right = "


def compared_values(message: str | None) -> tuple[str, str] | None:
    """The two reprs in a sandbox assertion message ``"<assert> failed: left = L, right = R"``,
    or ``None`` when the message is not of that form. Where ``", right = "`` occurs more than
    once, the split whose two sides both parse as Python literals is preferred."""
    if not message or _LEFT not in message:
        return None
    rest = message.split(_LEFT, 1)[1]
    splits = []
    start = 0
    while (at := rest.find(_RIGHT, start)) >= 0:
        splits.append((rest[:at], rest[at + len(_RIGHT):]))
        start = at + 1
    if not splits:
        return None
    for left, right in splits:
        if _literal(left) is not _MISSING and _literal(right) is not _MISSING:
            return left, right
    return splits[-1]


_MISSING = object()


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _MISSING


def closeness(left: str, right: str) -> float:
    """Similarity in [0, 1] of an actual value ``left`` to the expected ``right`` (both reprs).

    Numbers: ``1 / (1 + |l - r| / max(1, |r|))``. Values of different types: 0. Sequences,
    sets and dicts: the matching ratio of their elements (sets and dicts sorted by repr), so one
    wrong element of ten scores 0.9. Anything else (or a repr that is not a literal): the
    character matching ratio of the two reprs. Equal values score 1."""
    lval, rval = _literal(left), _literal(right)
    if lval is _MISSING or rval is _MISSING:
        return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()
    return _value_closeness(lval, rval)


def _value_closeness(lval, rval) -> float:
    if lval == rval and type(lval) is type(rval):
        return 1.0
    numbers = (int, float)
    if isinstance(lval, numbers) and isinstance(rval, numbers) and not isinstance(lval, bool) \
            and not isinstance(rval, bool):
        diff = abs(lval - rval)
        if not math.isfinite(diff):
            return 0.0
        return 1.0 / (1.0 + diff / max(1.0, abs(rval)))
    if type(lval) is not type(rval):
        return 0.0
    if isinstance(lval, (set, frozenset)):
        lval, rval = sorted(map(repr, lval)), sorted(map(repr, rval))
    elif isinstance(lval, dict):
        lval, rval = sorted(map(repr, lval.items())), sorted(map(repr, rval.items()))
    elif isinstance(lval, (list, tuple)):
        lval, rval = list(map(repr, lval)), list(map(repr, rval))
    elif not isinstance(lval, (str, bytes)):
        return 0.0
    if not lval and not rval:
        return 1.0
    return difflib.SequenceMatcher(None, lval, rval, autojunk=False).ratio()


def message_closeness(message: str | None) -> float | None:
    """:func:`closeness` of the values in a sandbox assertion message; ``None`` when the
    message did not come from a failed ``assert a == b``."""
    values = compared_values(message)
    return None if values is None else closeness(*values)
