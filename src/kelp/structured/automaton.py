"""The schema automaton: the exact set of allowed next tokens for any prefix of an encoded document.

A state is a tuple of *stacks* (several when ``oneOf``/``anyOf``/type unions leave more than one
reading open, as in a GLR parser); a stack is a tuple of *frames*:

- ``(VALUE, nodeset)``: a value must come that satisfies every schema node in ``nodeset``;
- ``(OBJECT, alt_id, seen_keys)``: inside an object, waiting for a key or ``}``;
- ``(ARRAY, alt_id, count)``: inside an array, waiting for an item or ``]``;
- ``(STRING, alt_id, lexer_state, text)``, ``(KEY, alt_id, lexer_state, text)``,
  ``(NUMBER, alt_id, lexer_state, text)``: spelling a free string, a spelled key, a number.

A token is allowed if some stack allows it, and :meth:`SchemaAutomaton.advance` keeps the stacks
that do. Keys may come in any order; ``}`` is allowed only once the ``required`` keys (and those
``dependencies`` add) are present; a key that would complete a ``not: {required: [...]}`` group,
or that an ``if`` branch forbids, is masked. Tokens are only allowed when a valid completion still
exists (the minimum completion length is finite), so masked sampling never reaches a dead end.

:meth:`min_completion` gives the length of a shortest completion and its first token, which the
sampler uses to finish every document within a length limit.

Masks are numpy bool arrays of shape ``(vocab.size,)``, cached per frame; a returned mask is
shared and read-only.
"""

from __future__ import annotations

import numpy as np

from kelp.structured.schema_compile import Alt, SchemaCompiler, UnsupportedSchemaError
from kelp.structured.vocab import ARR, ARR_END, END, EOS, FALSE, NULL, NUM, OBJ, OBJ_END, STR, TRUE, StructuredVocab

__all__ = ["SchemaAutomaton", "INF", "VALUE", "OBJECT", "ARRAY", "STRING", "KEY", "NUMBER"]

VALUE, OBJECT, ARRAY, STRING, KEY, NUMBER = range(6)
INF = 10**9
_SCALARS = {TRUE: True, FALSE: False, NULL: None}


class SchemaAutomaton:
    """Allowed-next-token automaton for one JSON Schema over one :class:`StructuredVocab`.

    Raises :class:`UnsupportedSchemaError` for schemas outside the supported subset (see
    :mod:`kelp.structured.schema_compile`) and when a string ``enum`` value is not a whole-string
    token of the vocabulary.
    """

    def __init__(self, schema: dict, vocab: StructuredVocab) -> None:
        self.compiler = SchemaCompiler(schema)
        self.vocab = vocab
        self.root = frozenset({"#"})
        self._value_masks: dict = {}
        self._alt_masks: dict = {}
        self._obj_masks: dict = {}
        self._key_base: dict = {}
        self._key_ns: dict = {}
        self._arr_masks: dict = {}
        self._lex_masks: dict = {}
        self._vmin: dict = {}
        self._amin: dict = {}
        self._guard: set = set()
        self._costs: dict = {}
        self._lexeme_costs: dict = {}
        self._moves: dict = {}
        self._key_floor: dict = {}
        self._guard_hit = False
        self._eos = np.zeros(vocab.size, dtype=bool)
        self._eos[EOS] = True
        self._eos.flags.writeable = False
        self._subwords = vocab.subwords
        self._token_chars = np.zeros(vocab.size, dtype=np.int64)
        for i, data in enumerate(vocab.subwords):
            self._token_chars[vocab.subword_offset + i] = sum(1 for b in data if b & 0xC0 != 0x80)
        if self.vmin(self.root) >= INF:
            raise UnsupportedSchemaError("the schema admits no document (or none this vocabulary can express)")

    # -- public API ----------------------------------------------------------------------------

    def initial(self) -> tuple:
        """The state before the first token of a document."""
        return (((VALUE, self.root),),)

    def allowed(self, state: tuple) -> np.ndarray:
        """Boolean mask ``(vocab.size,)`` of the tokens allowed after ``state`` (shared, read-only).

        ``EOS`` is allowed once the document is complete; an empty (dead) state allows nothing.
        """
        if len(state) == 1:
            return self._stack_mask(state[0])
        masks = [self._stack_mask(s) for s in state]
        return np.logical_or.reduce(masks) if masks else np.zeros(self.vocab.size, dtype=bool)

    def advance(self, state: tuple, token: int) -> tuple:
        """The state after ``token``; an empty tuple if the token is not allowed."""
        out: dict = {}
        for stack in state:
            if not self._stack_mask(stack)[token]:
                continue
            for nxt in self._step(stack, token):
                out[nxt] = None
        return tuple(out)

    def accepts(self, state: tuple) -> bool:
        """True if the tokens so far form a complete document (``EOS`` may follow)."""
        return any(len(stack) == 0 for stack in state)

    def is_done(self, state: tuple) -> bool:
        """True after ``EOS``."""
        return state == (("eos",),)

    def min_completion(self, state: tuple) -> tuple[int, int]:
        """``(n, token)``: the fewest tokens (``EOS`` included) that complete the document, and the
        first token of such a completion. ``(INF, -1)`` for a dead state."""
        best = (INF, -1)
        for stack in state:
            cost = self._stack_cost(stack)
            if cost < best[0]:
                best = (cost, self._stack_next(stack))
        return best

    def walk(self, tokens: list[int], state: tuple | None = None) -> tuple:
        """Advance through ``tokens`` from ``state`` (default: initial); raises ``ValueError`` at the
        first token that is not allowed, naming its position."""
        state = self.initial() if state is None else state
        for i, t in enumerate(tokens):
            nxt = self.advance(state, t)
            if not nxt:
                raise ValueError(f"token {i} ({self.vocab.describe(t)}) is not allowed here")
            state = nxt
        return state

    # -- masks ---------------------------------------------------------------------------------

    def _stack_mask(self, stack: tuple) -> np.ndarray:
        if not stack:
            return self._eos
        if stack[0] == "eos":
            return np.zeros(self.vocab.size, dtype=bool)
        top = stack[-1]
        kind = top[0]
        if kind == VALUE:
            return self._value_mask(top[1])
        if kind == OBJECT:
            return self._obj_mask(top[1], top[2])
        if kind == ARRAY:
            return self._arr_mask(top[1], top[2])
        if kind == STRING:
            return self._string_mask(top)
        if kind == KEY:
            return self._key_mask(top, stack[-2])
        return self._number_mask(top)

    def _value_mask(self, nodeset: frozenset) -> np.ndarray:
        mask = self._value_masks.get(nodeset)
        if mask is None:
            mask = np.zeros(self.vocab.size, dtype=bool)
            for alt in self._live_alts(nodeset):
                mask |= self._alt_mask(alt)
            mask.flags.writeable = False
            self._value_masks[nodeset] = mask
        return mask

    def _live_alts(self, nodeset: frozenset) -> list[Alt]:
        return [a for a in self.compiler.alts(nodeset) if self.amin(a) < INF]

    def _alt_mask(self, alt: Alt) -> np.ndarray:
        """First tokens of a value of ``alt``."""
        mask = self._alt_masks.get(alt.id)
        if mask is not None:
            return mask
        v = self.vocab
        mask = np.zeros(v.size, dtype=bool)
        if alt.kind == "object":
            mask[OBJ] = True
        elif alt.kind == "array":
            mask[ARR] = True
        elif alt.kind in ("number", "integer"):
            mask[NUM] = True
        elif alt.kind == "boolean":
            mask[TRUE] = True not in alt.notin
            mask[FALSE] = False not in alt.notin
        elif alt.kind == "null":
            mask[NULL] = None not in alt.notin
        elif alt.kind == "enum":
            for value in alt.values:
                if isinstance(value, str):
                    if value not in v.string_id:
                        raise UnsupportedSchemaError(f"enum value {value!r} is not a whole-string token of the vocabulary")
                    mask[v.string_id[value]] = True
                else:
                    mask[{True: TRUE, False: FALSE, None: NULL}[value]] = True
        else:  # string
            mask[STR] = True
            for s, i in v.string_id.items():
                if alt.string_ok(s):
                    mask[i] = True
        mask.flags.writeable = False
        self._alt_masks[alt.id] = mask
        return mask

    def _alt(self, alt_id: int) -> Alt:
        return self.compiler.alts_by_id[alt_id]

    def key_nodeset(self, alt: Alt, key: str) -> frozenset | None:
        """Value nodes for ``key`` in object ``alt`` (None: key not allowed or no valid value)."""
        k = (alt.id, key)
        if k in self._key_ns:
            return self._key_ns[k]
        ns = self.compiler.key_nodeset(alt, key)
        if ns is not None and (key in alt.forbid or self.vmin(ns) >= INF):
            ns = None
        self._key_ns[k] = ns
        return ns

    def _keys_base(self, alt: Alt) -> np.ndarray:
        mask = self._key_base.get(alt.id)
        if mask is None:
            mask = np.zeros(self.vocab.size, dtype=bool)
            for s, i in self.vocab.string_id.items():
                if self.key_nodeset(alt, s) is not None:
                    mask[i] = True
            self._key_base[alt.id] = mask
        return mask

    def _missing(self, alt: Alt, seen: frozenset) -> list[str]:
        need = set(alt.required)
        for key in seen:
            need |= alt.dependencies.get(key, frozenset())
        for key in list(need):
            need |= alt.dependencies.get(key, frozenset())
        return sorted(need - seen)

    def _obj_mask(self, alt_id: int, seen: frozenset) -> np.ndarray:
        key = (alt_id, seen)
        mask = self._obj_masks.get(key)
        if mask is not None:
            return mask
        alt = self._alt(alt_id)
        v = self.vocab
        full = alt.max_props is not None and len(seen) >= alt.max_props
        mask = np.zeros(v.size, dtype=bool) if full else self._keys_base(alt).copy()
        if not full:
            for k in seen:
                if k in v.string_id:
                    mask[v.string_id[k]] = False
            for group in alt.notall:
                rest = [k for k in group if k not in seen]
                if len(rest) == 1 and rest[0] in v.string_id:
                    mask[v.string_id[rest[0]]] = False
            mask[STR] = alt.key_lexer is not None
            for k in alt.dependencies:
                if k not in seen and k in v.string_id and self._obj_rest(alt, seen | {k}) >= INF:
                    mask[v.string_id[k]] = False
        if not self._missing(alt, seen) and len(seen) >= alt.min_props:
            mask[OBJ_END] = True
        mask.flags.writeable = False
        self._obj_masks[key] = mask
        return mask

    def _arr_mask(self, alt_id: int, count: int) -> np.ndarray:
        alt = self._alt(alt_id)
        limit = max(alt.min_items, alt.max_items or 0, max((len(a["items"]) for a in alt.atoms
                                                            if isinstance(a.get("items"), list)), default=0))
        key = (alt_id, min(count, limit + 1))
        mask = self._arr_masks.get(key)
        if mask is None:
            ns = self.compiler.item_nodeset(alt, count)
            if ns is not None and self.vmin(ns) < INF:
                mask = self._value_mask(ns).copy()
            else:
                mask = np.zeros(self.vocab.size, dtype=bool)
            mask[ARR_END] = count >= alt.min_items
            mask.flags.writeable = False
            self._arr_masks[key] = mask
        return mask

    def _lex_mask(self, lexer, lex_state: tuple, digits: bool) -> np.ndarray:
        key = (id(lexer), lex_state, digits)
        mask = self._lex_masks.get(key)
        if mask is None:
            v = self.vocab
            mask = lexer.token_mask(lex_state, self._subwords, v.subword_offset, v.size)
            if digits:
                mask = mask & v.single_byte_mask
            else:
                mask = mask.copy()
            mask[END] = lexer.is_final(lex_state)
            mask.flags.writeable = False
            self._lex_masks[key] = mask
        return mask

    def _without_end(self, mask: np.ndarray) -> np.ndarray:
        out = mask.copy()
        out[END] = False
        return out

    def _string_mask(self, frame: tuple) -> np.ndarray:
        alt = self._alt(frame[1])
        mask = self._lex_mask(alt.lexer, frame[2], False)
        if alt.max_len is not None:  # characters = bytes that are not UTF-8 continuation bytes
            used = sum(1 for b in frame[3] if b & 0xC0 != 0x80)
            mask = mask & (self._token_chars <= alt.max_len - used)
        if mask[END]:
            text = _utf8(frame[3])
            if text is None or text in self.vocab.string_id or not alt.string_ok(text):
                return self._without_end(mask)
        return mask

    def _key_mask(self, frame: tuple, parent: tuple) -> np.ndarray:
        alt = self._alt(frame[1])
        mask = self._lex_mask(alt.key_lexer, frame[2], False)
        if mask[END]:
            text = _utf8(frame[3])
            if (text is None or text in self.vocab.string_id or text in parent[2]
                    or self.key_nodeset(alt, text) is None):
                return self._without_end(mask)
        return mask

    def _number_mask(self, frame: tuple) -> np.ndarray:
        alt = self._alt(frame[1])
        mask = self._lex_mask(self._lexer_of(frame), frame[2], True)
        if mask[END] and alt.notin and _number(frame[3]) in alt.notin:
            return self._without_end(mask)
        return mask

    # -- transitions ---------------------------------------------------------------------------

    def _step(self, stack: tuple, t: int) -> list[tuple]:
        """Successor stacks of ``stack`` on an allowed token ``t``."""
        if not stack:
            return [("eos",)]
        top = stack[-1]
        rest = stack[:-1]
        kind = top[0]
        v = self.vocab
        if kind == VALUE:
            out = []
            for alt in self._live_alts(top[1]):
                if not self._alt_mask(alt)[t]:
                    continue
                if t == OBJ:
                    out.append(rest + ((OBJECT, alt.id, frozenset()),))
                elif t == ARR:
                    out.append(rest + ((ARRAY, alt.id, 0),))
                elif t == STR:
                    out.append(rest + ((STRING, alt.id, alt.lexer.initial, b""),))
                elif t == NUM:
                    lexer = self.compiler.number_lexer(alt.kind == "integer")
                    out.append(rest + ((NUMBER, alt.id, lexer.initial, b""),))
                else:
                    out.append(rest)
            return out
        if kind == OBJECT:
            if t == OBJ_END:
                return [rest]
            alt = self._alt(top[1])
            if t == STR:
                return [stack + ((KEY, alt.id, alt.key_lexer.initial, b""),)]
            name = v.string(t)
            return [rest + ((OBJECT, top[1], top[2] | {name}), (VALUE, self.key_nodeset(alt, name)))]
        if kind == ARRAY:
            if t == ARR_END:
                return [rest]
            alt = self._alt(top[1])
            ns = self.compiler.item_nodeset(alt, top[2])
            return self._step(rest + ((ARRAY, top[1], top[2] + 1), (VALUE, ns)), t)
        if t == END:
            if kind == KEY:
                name = top[3].decode("utf-8")
                parent = rest[-1]
                alt = self._alt(parent[1])
                return [rest[:-1] + ((OBJECT, parent[1], parent[2] | {name}), (VALUE, self.key_nodeset(alt, name)))]
            return [rest]
        data = v.subword(t)
        return [rest + ((kind, top[1], self._lexer_of(top).walk(top[2], data), top[3] + data),)]

    # -- shortest completions ------------------------------------------------------------------

    def vmin(self, nodeset: frozenset) -> int:
        """Fewest tokens of a value satisfying ``nodeset`` (INF if none)."""
        hit = self._vmin.get(nodeset)
        if hit is not None:
            return hit
        if nodeset in self._guard:
            self._guard_hit = True
            return INF
        self._guard.add(nodeset)
        outer = self._guard_hit
        self._guard_hit = False
        best = min((self.amin(a) for a in self.compiler.alts(nodeset)), default=INF)
        self._guard.discard(nodeset)
        if not self._guard_hit or not self._guard:
            self._vmin[nodeset] = best
        self._guard_hit = self._guard_hit or outer
        return best

    def amin(self, alt: Alt) -> int:
        """Fewest tokens of a value of alternative ``alt`` (INF if none)."""
        hit = self._amin.get(alt.id)
        if hit is not None:
            return hit
        if alt.kind == "object":
            cost = 1 + self._obj_rest(alt, frozenset())
        elif alt.kind == "array":
            cost = 1 + self._arr_rest(alt, 0)
        elif alt.kind == "string":
            mask = self._alt_mask(alt)
            if mask[self.vocab.string_offset:self.vocab.subword_offset].any():
                cost = 1
            else:
                cost = 1 + self._lexeme_completion((STRING, alt.id, alt.lexer.initial, b""), None)[0]
        elif alt.kind in ("number", "integer"):
            cost = 3
        else:
            cost = 1 if self._alt_mask(alt).any() else INF
        cost = min(cost, INF)
        if not self._guard_hit:
            self._amin[alt.id] = cost
        return cost

    def _obj_rest(self, alt: Alt, seen: frozenset, spelling: bool = False) -> int:
        cost = 1
        missing = self._missing(alt, seen)
        present = seen.union(missing)
        if any(all(k in present for k in group) for group in alt.notall):
            return INF
        for key in missing:
            ns = self.key_nodeset(alt, key) if key in self.vocab.string_id else None
            if ns is None:
                return INF
            cost += 1 + self.vmin(ns)
        deficit = alt.min_props - len(seen) - len(missing) - int(spelling)
        if deficit > 0:
            cost += deficit * self._cheapest_key(alt, seen)[0]
        return min(cost, INF)

    def _cheapest_key(self, alt: Alt, seen: frozenset) -> tuple[int, int]:
        """``(cost, first token)`` of the cheapest optional key with its value (whole-string or spelled)."""
        best = min(((1 + self.vmin(self.key_nodeset(alt, k)), self.vocab.string_id[k])
                    for k in self._optional_keys(alt, seen)), default=(INF, -1))
        if alt.key_lexer is not None:
            spelled = 1 + self._lexeme_completion((KEY, alt.id, alt.key_lexer.initial, b""), (OBJECT, alt.id, seen))[0]
            if spelled < best[0]:
                best = (spelled, STR)
        return best

    def _optional_keys(self, alt: Alt, seen: frozenset) -> list[str]:
        base = self._keys_base(alt)
        names = [self.vocab.string(int(i)) for i in np.flatnonzero(base)]
        return [k for k in names if k not in seen and not alt.dependencies.get(k)][:50]

    def _arr_rest(self, alt: Alt, count: int) -> int:
        cost = 1
        for i in range(count, alt.min_items):
            ns = self.compiler.item_nodeset(alt, i)
            if ns is None:
                return INF
            cost += self.vmin(ns)
        return min(cost, INF)

    def _frame_cost(self, frame: tuple, parent: tuple | None) -> int:
        kind = frame[0]
        if kind <= ARRAY:
            cost = self._costs.get(frame)
            if cost is None:
                if kind == VALUE:
                    cost = self.vmin(frame[1])
                elif kind == OBJECT:
                    cost = self._obj_rest(self._alt(frame[1]), frame[2])
                else:
                    cost = self._arr_rest(self._alt(frame[1]), frame[2])
                self._costs[frame] = cost
            return cost
        return self._lexeme_completion(frame, parent)[0]

    def _end_ok(self, frame: tuple, parent: tuple | None, text: bytes) -> bool:
        """Whether ``<end>`` would be allowed after spelling ``text`` in a lexeme frame like ``frame``."""
        kind = frame[0]
        alt = self._alt(frame[1])
        if kind == NUMBER:
            return not alt.notin or _number(text) not in alt.notin
        decoded = _utf8(text)
        if decoded is None or decoded in self.vocab.string_id:
            return False
        if kind == STRING:
            return alt.string_ok(decoded)
        return decoded not in parent[2] and self.key_nodeset(alt, decoded) is not None

    def _lexer_of(self, frame: tuple):
        alt = self._alt(frame[1])
        if frame[0] == STRING:
            return alt.lexer
        if frame[0] == KEY:
            return alt.key_lexer
        return self.compiler.number_lexer(alt.kind == "integer")

    def _lexeme_completion(self, frame: tuple, parent: tuple | None) -> tuple[int, int]:
        """``(cost, first token)`` to finish a STRING / KEY / NUMBER frame: the bytes still to spell,
        ``<end>``, and for a key the shortest value. A small breadth-first search over single
        bytes (a few texts per lexer state and depth), checking each candidate ``<end>`` exactly."""
        key = (frame, parent[2] if frame[0] == KEY else None)
        hit = self._lexeme_costs.get(key)
        if hit is not None:
            return hit
        if len(self._lexeme_costs) > 200_000:
            self._lexeme_costs.clear()
        lexer = self._lexer_of(frame)
        alt = self._alt(frame[1])
        digits = frame[0] == NUMBER
        # a completion found at depth d costs d + 1 (+ the value for a key): once the best so far
        # is no more than the next depth's lower bound, no deeper text can beat it
        floor = 1 + (self._spelled_key_floor(alt) if frame[0] == KEY else 0)
        frontier = [(frame[2], frame[3], None)]
        best = (INF, -1)
        found = None
        for depth in range(0, 40):
            for state, text, first in frontier:
                if lexer.is_final(state) and self._end_ok(frame, parent, text):
                    cost = depth + 1
                    if frame[0] == KEY:
                        cost += self.vmin(self.key_nodeset(alt, text.decode("utf-8")))
                    if cost < best[0]:
                        best = (cost, END if first is None else self.vocab.subword_id[bytes([first])])
                    found = depth if found is None else found
            if found is not None and (best[0] <= depth + 1 + floor or depth >= found + 3):
                break
            nxt, per_state = [], {}
            for state, text, first in frontier:
                for b, s2 in self._lexer_moves(lexer, state, digits):
                    if per_state.get(s2, 0) >= 3:
                        continue
                    per_state[s2] = per_state.get(s2, 0) + 1
                    nxt.append((s2, text + bytes([b]), b if first is None else first))
            frontier = nxt
            if not frontier:
                break
        self._lexeme_costs[key] = best
        return best

    def _lexer_moves(self, lexer, state: tuple, digits: bool) -> list[tuple[int, tuple]]:
        """``(byte, next state)`` from ``state`` in search order, at most 3 bytes per next state
        (the breadth-first search of :meth:`_lexeme_completion` keeps no more than that)."""
        key = (id(lexer), state, digits)
        moves = self._moves.get(key)
        if moves is None:
            moves, per_state = [], {}
            for b in (_BYTE_ORDER_DIGITS if digits else _BYTE_ORDER):
                s2 = lexer.step(state, b)
                if s2 is not None and per_state.get(s2, 0) < 3:
                    per_state[s2] = per_state.get(s2, 0) + 1
                    moves.append((b, s2))
            if len(self._moves) > 100_000:
                self._moves.clear()
            self._moves[key] = moves
        return moves

    def _spelled_key_floor(self, alt: Alt) -> int:
        """A lower bound on the value cost of any spelled (not whole-string) key of ``alt``."""
        floor = self._key_floor.get(alt.id)
        if floor is None:
            floor = 1
            for nodes in self.compiler.spelled_key_nodes(alt):
                if nodes:
                    floor = max(floor, min(self.vmin(frozenset({n})) for n in nodes))
            self._key_floor[alt.id] = floor
        return floor

    def _stack_cost(self, stack: tuple) -> int:
        if not stack:
            return 1
        if stack[0] == "eos":
            return 0
        total = 1  # EOS
        for i, frame in enumerate(stack):
            if frame[0] == OBJECT and i + 1 < len(stack) and stack[i + 1][0] == KEY:
                # the key being spelled already counts towards minProperties
                total += self._obj_rest(self._alt(frame[1]), frame[2], spelling=True)
            else:
                total += self._frame_cost(frame, stack[i - 1] if i else None)
        return min(total, INF)

    def _value_first(self, nodeset: frozenset) -> int:
        alts = self._live_alts(nodeset)
        if not alts:
            return -1
        alt = min(alts, key=self.amin)
        mask = self._alt_mask(alt)
        if alt.kind == "string":
            strings = np.flatnonzero(mask[self.vocab.string_offset:self.vocab.subword_offset])
            return int(strings[0]) + self.vocab.string_offset if len(strings) and self.amin(alt) == 1 else STR
        return int(np.flatnonzero(mask)[0])

    def _stack_next(self, stack: tuple) -> int:
        if not stack:
            return EOS
        if stack[0] == "eos":
            return -1
        top = stack[-1]
        kind = top[0]
        v = self.vocab
        if kind == VALUE:
            return self._value_first(top[1])
        if kind == OBJECT:
            alt = self._alt(top[1])
            missing = self._missing(alt, top[2])
            if missing:
                return v.string_id[missing[0]]
            if len(top[2]) < alt.min_props:
                return self._cheapest_key(alt, top[2])[1]
            return OBJ_END
        if kind == ARRAY:
            alt = self._alt(top[1])
            if top[2] < alt.min_items:
                return self._value_first(self.compiler.item_nodeset(alt, top[2]))
            return ARR_END
        return self._lexeme_completion(top, stack[-2] if len(stack) > 1 else None)[1]


_BYTE_ORDER = (list(range(ord("a"), ord("z") + 1)) + list(range(ord("0"), ord("9") + 1))
               + list(range(ord("A"), ord("Z") + 1)) + [b for b in range(32, 127) if not chr(b).isalnum()] + [9, 10]
               + list(range(0x80, 0x100)))
_BYTE_ORDER_DIGITS = [ord(c) for c in "0123456789-.eE+"]


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _number(data: bytes) -> int | float:
    text = data.decode("ascii")
    return float(text) if any(c in text for c in ".eE") else int(text)
