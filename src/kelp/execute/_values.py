"""Plain values across the judge/candidate boundary: a tagged JSON encoding (stdlib only).

Only data crosses: None, bool, int, float, complex, str, bytes, and lists, tuples, dicts, sets
and frozensets of them (subclasses are reduced to their base type; iterators and generators to
lists), up to :data:`MAX_DEPTH` levels.  Any other object can cross only as a handle
(``["r", n]``): its owner gives ``encode`` a ``refs`` function that numbers the object and keeps
it, and the other side's ``decode`` turns the number into its own stand-in (``deref``).
Decoding builds fresh builtin objects and never runs code, so a hostile sender cannot reach the
receiver's interpreter through a value (unlike pickle or marshal).  Loaded by path by the
sandbox; see ``_judge.py``.
"""

from __future__ import annotations

import base64
import json

MAX_DEPTH = 64


class UnencodableValue(TypeError):
    """The value is not plain data (a function, a class instance, too deep); ``value_type`` is
    the offending value's type (None when too deep)."""

    def __init__(self, message: str, value_type: type | None = None) -> None:
        super().__init__(message)
        self.value_type = value_type


def encode(value, depth: int = 0, refs=None):
    """``value`` as JSON-ready tagged data.  ``refs(value) -> int`` numbers a value that is not
    plain data (a handle, ``["r", n]``); it may raise :class:`UnencodableValue`.  Raises
    :class:`UnencodableValue` for such a value without ``refs``, and when nested too deeply."""
    if depth > MAX_DEPTH:
        raise UnencodableValue("nested too deeply")
    if value is None or isinstance(value, bool):
        return ["v", value]
    if isinstance(value, int):
        return ["v", int(value)]
    if isinstance(value, float):
        return ["v", float(value)]
    if isinstance(value, str):
        return ["v", str(value)]
    if isinstance(value, complex):
        return ["c", [value.real, value.imag]]
    if isinstance(value, (bytes, bytearray)):
        return ["b" if isinstance(value, bytes) else "ba", base64.b64encode(bytes(value)).decode()]
    d = depth + 1
    if isinstance(value, list):
        return ["l", [encode(v, d, refs) for v in list(value)]]
    if isinstance(value, tuple):
        return ["t", [encode(v, d, refs) for v in tuple(value)]]
    if isinstance(value, dict):
        return ["d", [[encode(k, d, refs), encode(v, d, refs)] for k, v in dict(value).items()]]
    if isinstance(value, frozenset):
        return ["f", [encode(v, d, refs) for v in frozenset(value)]]
    if isinstance(value, set):
        return ["s", [encode(v, d, refs) for v in set(value)]]
    if hasattr(value, "__next__") and hasattr(value, "__iter__"):  # map, filter, generators
        return ["i", [encode(v, d, refs) for v in value]]
    if refs is not None:
        return ["r", refs(value)]
    raise UnencodableValue(f"a {type(value).__name__} is not plain data", type(value))


def decode(data, deref=None):
    """Rebuild the value :func:`encode` produced; ``deref(n)`` gives what stands for handle ``n``
    (none: handles are malformed).  Raises ValueError on malformed data."""
    if not isinstance(data, list) or len(data) != 2 or not isinstance(data[0], str):
        raise ValueError("malformed value")
    tag, payload = data
    if tag == "v":
        if payload is not None and not isinstance(payload, (bool, int, float, str)):
            raise ValueError("malformed scalar")
        return payload
    if tag == "c":
        return complex(float(payload[0]), float(payload[1]))
    if tag in ("b", "ba"):
        raw = base64.b64decode(payload.encode(), validate=True)
        return raw if tag == "b" else bytearray(raw)
    if tag == "r":
        if deref is None or type(payload) is not int:
            raise ValueError("malformed handle")
        return deref(payload)
    if not isinstance(payload, list):
        raise ValueError("malformed container")
    if tag == "l":
        return [decode(v, deref) for v in payload]
    if tag == "t":
        return tuple(decode(v, deref) for v in payload)
    if tag == "d":
        return {decode(k, deref): decode(v, deref) for k, v in payload}
    if tag == "s":
        return {decode(v, deref) for v in payload}
    if tag == "f":
        return frozenset(decode(v, deref) for v in payload)
    if tag == "i":
        return iter([decode(v, deref) for v in payload])
    raise ValueError(f"unknown value tag {tag!r}")


def dumps(obj) -> bytes:
    """JSON bytes of an already encoded message."""
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")
