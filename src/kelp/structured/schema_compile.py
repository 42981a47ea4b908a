"""Compile a JSON Schema (draft-07) into alternatives: one type-specific constraint set each.

A schema node is rewritten, lazily and memoised, into disjunctive normal form: a list of
*clauses*, each a set of *atoms* (schema nodes whose own keywords must all hold). ``$ref`` is
followed (its siblings are ignored, as draft-07 specifies), ``allOf`` multiplies clauses,
``anyOf`` / ``oneOf`` add them, ``if``/``then``/``else`` becomes
``(if AND then) OR (NOT if AND else)``. ``not`` is supported for the forms that occur in real
schemas: ``not: {required: [...]}``, ``not: {const}`` / ``not: {enum}``, and the negation of an
``if`` made of ``required`` plus ``const``/``enum`` properties; anything else raises
:class:`UnsupportedSchemaError`, as does any validation keyword this compiler does not know.

A clause becomes :class:`Alt` objects, one per JSON type it allows (``object``, ``array``,
``string``, ``number``, ``boolean``, ``null``, or ``enum`` when values are listed). The automaton
in :mod:`kelp.structured.automaton` walks these.

``oneOf`` is compiled as ``anyOf``. That is exact when the branches are disjoint;
:meth:`SchemaCompiler.oneof_overlaps` reports branches that can share a document's first token,
and the automaton's samples are checked with ``jsonschema`` in the tests.
"""

from __future__ import annotations

import itertools
import re

import interegular
from dataclasses import dataclass, field

from kelp.errors import KelpError
from kelp.structured.lexer import ByteLexer, CharDFA, PatternError, search_to_fullmatch

__all__ = ["UnsupportedSchemaError", "Alt", "SchemaCompiler"]

_LOCAL = {
    "type", "enum", "const", "properties", "patternProperties", "additionalProperties", "required",
    "minProperties", "maxProperties", "dependencies", "items", "additionalItems", "minItems",
    "maxItems", "pattern", "minLength", "maxLength", "x-forbid", "x-notall", "x-notin",
}
_COMBINATORS = {"$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"}
_ANNOTATIONS = {
    "$schema", "$id", "id", "$comment", "title", "description", "default", "examples", "definitions",
    "markdownDescription", "deprecationMessage", "format", "readOnly", "writeOnly", "deprecated",
    "contentMediaType", "contentEncoding",
}
_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")


class UnsupportedSchemaError(KelpError, ValueError):
    """The schema uses a keyword or form the automaton cannot enforce exactly (message says where)."""


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass(eq=False)
class Alt:
    """One alternative of a value: a JSON type and the merged constraints of a clause.

    ``kind``: ``object | array | string | number | integer | boolean | null | enum``.
    ``atoms``: the schema dicts of the clause (object and array constraints are read from them).
    Object fields: ``required``, ``forbid``, ``notall`` (key groups that may not all be
    present), ``dependencies`` (key -> keys it requires), ``min_props`` / ``max_props``,
    ``key_lexer`` (what a spelled key must match, or None when no spelled key is allowed).
    Array fields: ``min_items``, ``max_items``. String fields: ``patterns``, ``min_len``,
    ``max_len``, ``lexer``. Every kind: ``notin`` (excluded values); enum: ``values``.
    """

    kind: str
    atoms: tuple
    id: int = -1
    values: tuple = ()
    notin: tuple = ()
    required: frozenset = frozenset()
    forbid: frozenset = frozenset()
    notall: tuple = ()
    dependencies: dict = field(default_factory=dict)
    min_props: int = 0
    max_props: int | None = None
    key_lexer: ByteLexer | None = None
    min_items: int = 0
    max_items: int | None = None
    patterns: tuple = ()
    min_len: int = 0
    max_len: int | None = None
    lexer: ByteLexer | None = None

    def string_ok(self, s: str) -> bool:
        """True if ``s`` satisfies this string alternative (patterns with ``re.search``, lengths)."""
        if s in self.notin or len(s) < self.min_len or (self.max_len is not None and len(s) > self.max_len):
            return False
        return all(re.search(p, s) for p in self.patterns)


class SchemaCompiler:
    """Lazily compiles the nodes of one schema document into clauses and :class:`Alt` objects.

    Node ids are JSON pointers (``"#"``, ``"#/definitions/step"``); synthetic atoms made by
    ``not`` get ids starting with ``"!"``. Raises :class:`UnsupportedSchemaError` (at
    construction) for unknown keywords anywhere in the document, and for unresolvable ``$ref``.
    """

    def __init__(self, schema: dict) -> None:
        if not isinstance(schema, (dict, bool)):
            raise UnsupportedSchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}")
        self.schema = schema
        self.nodes: dict[str, object] = {}
        self._clauses: dict[str, list[frozenset]] = {}
        self._alts: dict[frozenset, tuple[Alt, ...]] = {}
        self._alt_key: dict[tuple, Alt] = {}
        self.alts_by_id: list[Alt] = []
        self._dfas: dict[str, CharDFA] = {}
        self._lexers: dict[tuple, ByteLexer] = {}
        self._anyof_oneofs: list[str] = []
        self._register(schema, "#")
        for pointer, node in list(self.nodes.items()):
            if isinstance(node, dict) and "$ref" in node:
                self._resolve(node["$ref"], pointer)
        for pointer in list(self.nodes):
            self.clauses(pointer)  # surfaces unsupported forms of not/if now, not while sampling

    # -- nodes -------------------------------------------------------------------------------

    def _register(self, node: object, pointer: str) -> None:
        self.nodes[pointer] = node
        if not isinstance(node, dict):
            if not isinstance(node, bool):
                raise UnsupportedSchemaError(f"{pointer}: a schema must be an object or a boolean")
            return
        unknown = sorted(k for k in node if k not in _LOCAL | _COMBINATORS | _ANNOTATIONS and not k.startswith("x-"))
        if unknown:
            raise UnsupportedSchemaError(f"{pointer}: unsupported keyword(s) {unknown}")
        if node.get("uniqueItems"):
            raise UnsupportedSchemaError(f"{pointer}: uniqueItems is not supported")
        for key in ("properties", "patternProperties", "definitions"):
            for name, sub in (node.get(key) or {}).items():
                self._register(sub, f"{pointer}/{key}/{_escape(name)}")
        for key in ("additionalProperties", "additionalItems", "not", "if", "then", "else"):
            if isinstance(node.get(key), dict):
                self._register(node[key], f"{pointer}/{key}")
        items = node.get("items")
        if isinstance(items, dict):
            self._register(items, f"{pointer}/items")
        elif isinstance(items, list):
            for i, sub in enumerate(items):
                self._register(sub, f"{pointer}/items/{i}")
        for key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(node.get(key) or []):
                self._register(sub, f"{pointer}/{key}/{i}")
        deps = node.get("dependencies") or {}
        for name, dep in deps.items():
            if not isinstance(dep, list):
                raise UnsupportedSchemaError(f"{pointer}/dependencies/{name}: only the array form is supported")

    def _resolve(self, ref: str, where: str) -> str:
        if not ref.startswith("#"):
            raise UnsupportedSchemaError(f"{where}: only local $ref is supported, not {ref!r}")
        target = "#" + "/".join(ref[1:].split("/")) if ref != "#" else "#"
        if target not in self.nodes:
            raise UnsupportedSchemaError(f"{where}: $ref {ref!r} does not resolve")
        return target

    def _synthetic(self, schema: dict) -> str:
        pointer = f"!{len(self.nodes)}"
        self.nodes[pointer] = schema
        return pointer

    # -- disjunctive normal form ---------------------------------------------------------------

    def clauses(self, pointer: str) -> list[frozenset]:
        """The node's DNF: a list of atom sets; an empty list means unsatisfiable (``false``)."""
        hit = self._clauses.get(pointer)
        if hit is not None:
            return hit
        node = self.nodes[pointer]
        if node is False:
            result: list[frozenset] = []
        elif node is True:
            result = [frozenset()]
        elif "$ref" in node:
            self._clauses[pointer] = [frozenset()]  # recursion guard; a $ref cycle with no constraint
            result = self.clauses(self._resolve(node["$ref"], pointer))
        else:
            result = [frozenset({pointer})] if any(k in _LOCAL for k in node) else [frozenset()]
            for i in range(len(node.get("allOf") or [])):
                result = _product(result, self.clauses(f"{pointer}/allOf/{i}"))
            if "anyOf" in node:
                union: list[frozenset] = []
                for i in range(len(node["anyOf"])):
                    union += self.clauses(f"{pointer}/anyOf/{i}")
                result = _product(result, _dedupe(union))
            if "oneOf" in node:
                result = _product(result, self._one_of(pointer, len(node["oneOf"])))
            if "not" in node:
                result = _product(result, self._negate(f"{pointer}/not"))
            if "if" in node:
                then = self.clauses(f"{pointer}/then") if "then" in node else [frozenset()]
                other = self.clauses(f"{pointer}/else") if "else" in node else [frozenset()]
                branches = _product(self.clauses(f"{pointer}/if"), then) + _product(self._negate(f"{pointer}/if"), other)
                result = _product(result, _dedupe(branches))
        self._clauses[pointer] = result
        return result

    def _one_of(self, pointer: str, n: int) -> list[frozenset]:
        """``oneOf``: exactly one branch. When every branch can be negated, branch ``i`` becomes
        ``B_i AND NOT B_j`` for all ``j != i`` (exact); otherwise the branches are added as in
        ``anyOf``, which is exact when they are disjoint (:meth:`oneof_overlaps` checks that)."""
        branches = [f"{pointer}/oneOf/{i}" for i in range(n)]
        try:
            negations = [self._negate(b) for b in branches]
        except UnsupportedSchemaError:
            negations = None
        union: list[frozenset] = []
        for i, b in enumerate(branches):
            part = self.clauses(b)
            if negations is not None:
                for j in range(n):
                    if j != i:
                        part = _product(part, negations[j])
            union += part
        if negations is None:
            self._anyof_oneofs.append(pointer)
        return _dedupe(union)

    def _negate(self, pointer: str) -> list[frozenset]:
        node = self.nodes[pointer]
        if node is True:
            return []
        if node is False:
            return [frozenset()]
        keys = set(node) - _ANNOTATIONS
        if keys == {"required"}:
            return [frozenset({self._synthetic({"x-notall": list(node["required"])})})]
        if keys in ({"const"}, {"enum"}):
            values = [node["const"]] if "const" in node else list(node["enum"])
            return [frozenset({self._synthetic({"x-notin": values})})]
        if keys <= {"properties", "required", "type"} and node.get("type", "object") == "object":
            out = [frozenset({self._synthetic({"x-forbid": [r]})}) for r in node.get("required", [])]
            for name, sub in (node.get("properties") or {}).items():
                if not isinstance(sub, dict) or set(sub) - _ANNOTATIONS not in ({"const"}, {"enum"}):
                    raise UnsupportedSchemaError(f"{pointer}: negating property {name!r} needs const or enum")
                values = [sub["const"]] if "const" in sub else list(sub["enum"])
                notin = self._synthetic({"x-notin": values})
                out.append(frozenset({self._synthetic({"required": [name], "properties": {name: {"$ref": notin}}})}))
            return out
        raise UnsupportedSchemaError(f"{pointer}: this form of 'not' (or 'if') is not supported: keys {sorted(keys)}")

    # -- alternatives --------------------------------------------------------------------------

    def atoms_of(self, nodeset: frozenset) -> list[frozenset]:
        """DNF of the conjunction of ``nodeset`` (pointers)."""
        result = [frozenset()]
        for pointer in sorted(nodeset):
            result = _product(result, self.clauses(pointer))
        return result

    def alts(self, nodeset: frozenset) -> tuple[Alt, ...]:
        """The alternatives of a value that must satisfy every node in ``nodeset`` (memoised)."""
        hit = self._alts.get(nodeset)
        if hit is not None:
            return hit
        out: list[Alt] = []
        for clause in self.atoms_of(nodeset):
            for alt in self._clause_alts(clause):
                if alt not in out:
                    out.append(alt)
        result = tuple(out)
        self._alts[nodeset] = result
        return result

    def _register_alt(self, key: tuple, make) -> Alt:
        alt = self._alt_key.get(key)
        if alt is None:
            alt = make()
            alt.id = len(self.alts_by_id)
            self.alts_by_id.append(alt)
            self._alt_key[key] = alt
        return alt

    def _clause_alts(self, clause: frozenset) -> list[Alt]:
        atoms = tuple(self.nodes[p] for p in sorted(clause))
        types = set(_TYPES)
        enum: list | None = None
        notin: list = []
        for atom in atoms:
            if "type" in atom:
                t = {atom["type"]} if isinstance(atom["type"], str) else set(atom["type"])
                if "number" in t:
                    t.add("integer")
                types &= t
            for key in ("enum", "const"):
                if key in atom:
                    vals = list(atom["enum"]) if key == "enum" else [atom["const"]]
                    enum = vals if enum is None else [v for v in enum if v in vals]
            notin += atom.get("x-notin", [])
        notin_t = tuple(notin)
        patterns = tuple(sorted({a["pattern"] for a in atoms if "pattern" in a}))
        min_len = max([a.get("minLength", 0) for a in atoms], default=0)
        max_lens = [a["maxLength"] for a in atoms if "maxLength" in a]
        max_len = min(max_lens) if max_lens else None
        if enum is not None:
            values = []
            for v in enum:
                jt = _json_type(v)
                if jt in ("object", "array") or (jt in ("integer", "number") and not isinstance(v, bool)):
                    raise UnsupportedSchemaError(f"enum value {v!r}: only string, boolean and null enum values are supported")
                if jt not in types or v in notin:
                    continue
                if jt == "string" and not (all(re.search(p, v) for p in patterns) and min_len <= len(v)
                                           and (max_len is None or len(v) <= max_len)):
                    continue
                values.append(v)
            if not values:
                return []
            key = ("enum", tuple(values))
            return [self._register_alt(key, lambda: Alt("enum", atoms, values=tuple(values)))]
        out = []
        for kind in ("object", "array", "string", "number", "boolean", "null"):
            if kind == "number":
                if "integer" not in types:
                    continue
                kind = "number" if "number" in types else "integer"
            elif kind not in types:
                continue
            key = (kind, clause)
            alt = self._register_alt(key, lambda kind=kind: self._make_alt(kind, atoms, notin_t, patterns, min_len, max_len))
            if alt is not None:
                out.append(alt)
        return out

    def _make_alt(self, kind, atoms, notin, patterns, min_len, max_len) -> Alt:
        if kind == "object":
            required = frozenset(itertools.chain.from_iterable(a.get("required", []) for a in atoms))
            forbid = frozenset(itertools.chain.from_iterable(a.get("x-forbid", []) for a in atoms))
            notall = tuple(tuple(a["x-notall"]) for a in atoms if "x-notall" in a)
            deps: dict[str, set] = {}
            for a in atoms:
                for k, v in (a.get("dependencies") or {}).items():
                    deps.setdefault(k, set()).update(v)
            maxes = [a["maxProperties"] for a in atoms if "maxProperties" in a]
            return Alt("object", atoms, notin=notin, required=required, forbid=forbid, notall=notall,
                       dependencies={k: frozenset(v) for k, v in deps.items()},
                       min_props=max([a.get("minProperties", 0) for a in atoms], default=0),
                       max_props=min(maxes) if maxes else None, key_lexer=self._key_lexer(atoms))
        if kind == "array":
            maxes = [a["maxItems"] for a in atoms if "maxItems" in a]
            return Alt("array", atoms, notin=notin, min_items=max([a.get("minItems", 0) for a in atoms], default=0),
                       max_items=min(maxes) if maxes else None)
        if kind == "string":
            return Alt("string", atoms, notin=notin, patterns=patterns, min_len=min_len, max_len=max_len,
                       lexer=self.lexer(patterns))
        return Alt(kind, atoms, notin=notin)

    def _dfa(self, regex: str) -> CharDFA:
        dfa = self._dfas.get(regex)
        if dfa is None:
            dfa = self._dfas[regex] = CharDFA(regex)
        return dfa

    def lexer(self, patterns: tuple, ascii_only: bool = False) -> ByteLexer:
        """A shared :class:`ByteLexer` for the conjunction of JSON Schema ``patterns`` (search semantics)."""
        key = (patterns, ascii_only)
        lex = self._lexers.get(key)
        if lex is None:
            try:
                dfas = tuple(self._dfa(search_to_fullmatch(p)) for p in patterns)
            except PatternError as error:
                raise UnsupportedSchemaError(str(error)) from None
            lex = self._lexers[key] = ByteLexer(dfas, ascii_only=ascii_only)
        return lex

    def number_lexer(self, integer: bool) -> ByteLexer:
        """The lexer of JSON numbers (``integer``: no fraction or exponent)."""
        from kelp.structured.lexer import INTEGER_PATTERN, NUMBER_PATTERN

        key = ("#num", integer)
        lex = self._lexers.get(key)
        if lex is None:
            lex = self._lexers[key] = ByteLexer((self._dfa(INTEGER_PATTERN if integer else NUMBER_PATTERN),), ascii_only=True)
        return lex

    def _key_lexer(self, atoms) -> ByteLexer | None:
        regexes = []
        for a in atoms:
            if a.get("additionalProperties", True) is False:
                pats = list((a.get("patternProperties") or {}).keys())
                if not pats:
                    return None
                regexes.append("|".join(f"({search_to_fullmatch(p)})" for p in pats))
        try:
            return ByteLexer(tuple(self._dfa(r) for r in regexes))
        except PatternError as error:
            raise UnsupportedSchemaError(str(error)) from None

    def key_nodeset(self, alt: Alt, key: str) -> frozenset | None:
        """The nodes the value of ``key`` must satisfy in object ``alt``; None if the key is not allowed."""
        nodes = set()
        for atom, pointer in zip(alt.atoms, self._atom_pointers(alt)):
            props = atom.get("properties") or {}
            matched = False
            if key in props:
                nodes.add(self._prop_pointer(pointer, "properties", key, props[key]))
                matched = True
            for pat, sub in (atom.get("patternProperties") or {}).items():
                if re.search(pat, key):
                    nodes.add(self._prop_pointer(pointer, "patternProperties", pat, sub))
                    matched = True
            if not matched:
                extra = atom.get("additionalProperties", True)
                if extra is False:
                    return None
                if isinstance(extra, dict):
                    nodes.add(f"{pointer}/additionalProperties")
        return frozenset(nodes)

    def spelled_key_nodes(self, alt: Alt) -> list[list[str]]:
        """Per atom of object ``alt``: the nodes of which a key that is not a named property gets
        at least one (its ``patternProperties`` and ``additionalProperties`` schemas). An empty
        list: that atom may leave such a key's value unconstrained. For lower bounds on costs."""
        out = []
        for atom, pointer in zip(alt.atoms, self._atom_pointers(alt)):
            nodes = [self._prop_pointer(pointer, "patternProperties", pat, sub)
                     for pat, sub in (atom.get("patternProperties") or {}).items()]
            extra = atom.get("additionalProperties", True)
            if isinstance(extra, dict):
                nodes.append(f"{pointer}/additionalProperties")
            elif extra is True:
                nodes = []
            out.append(nodes)
        return out

    def item_nodeset(self, alt: Alt, index: int) -> frozenset | None:
        """The nodes item ``index`` of array ``alt`` must satisfy; None if no item may be there."""
        nodes = set()
        for atom, pointer in zip(alt.atoms, self._atom_pointers(alt)):
            items = atom.get("items", True)
            if isinstance(items, list):
                if index < len(items):
                    nodes.add(f"{pointer}/items/{index}")
                else:
                    extra = atom.get("additionalItems", True)
                    if extra is False:
                        return None
                    if isinstance(extra, dict):
                        nodes.add(f"{pointer}/additionalItems")
            elif items is False:
                return None
            elif isinstance(items, dict):
                nodes.add(f"{pointer}/items")
        if alt.max_items is not None and index >= alt.max_items:
            return None
        return frozenset(nodes)

    def _atom_pointers(self, alt: Alt) -> list[str]:
        cached = getattr(alt, "_pointers", None)
        if cached is None:
            by_id = {id(node): p for p, node in self.nodes.items() if isinstance(node, dict)}
            cached = [by_id[id(a)] for a in alt.atoms]
            alt._pointers = cached
        return cached

    def _prop_pointer(self, pointer: str, key: str, name: str, sub: object) -> str:
        if isinstance(sub, dict) and "$ref" in sub and sub["$ref"].startswith("!"):
            return sub["$ref"]
        return f"{pointer}/{key}/{_escape(name)}"

    def oneof_overlaps(self) -> list[str]:
        """``oneOf`` nodes compiled as ``anyOf`` whose branches may overlap (empty list: every
        ``oneOf`` of the schema is enforced exactly).

        Two alternatives are disjoint when their kinds differ, when a key one requires is
        forbidden by the other, when no enum value of one satisfies the other string, or when
        their string patterns have an empty intersection (interegular FSMs).
        """
        for pointer, node in list(self.nodes.items()):
            if isinstance(node, dict) and "oneOf" in node:
                self.clauses(pointer)
        found = []
        for pointer in self._anyof_oneofs:
            node = self.nodes[pointer]
            branch_alts = [self.alts(frozenset({f"{pointer}/oneOf/{i}"})) for i in range(len(node["oneOf"]))]
            for a, b in itertools.combinations(range(len(branch_alts)), 2):
                for x in branch_alts[a]:
                    for y in branch_alts[b]:
                        if not self._disjoint(x, y):
                            found.append(f"{pointer}: branches {a} and {b} may both hold ({x.kind}/{y.kind})")
        return found

    def _disjoint(self, x: Alt, y: Alt) -> bool:
        kinds = {x.kind, y.kind}
        if kinds == {"number", "integer"}:
            return False
        if x.kind != y.kind and not (kinds <= {"enum", "string"} or "enum" in kinds):
            return True
        if "enum" in kinds:
            e, o = (x, y) if x.kind == "enum" else (y, x)
            if o.kind == "enum":
                return not set(map(repr, e.values)) & set(map(repr, o.values))
            if o.kind == "string":
                return not any(isinstance(v, str) and o.string_ok(v) for v in e.values)
            kind_of = {"boolean": bool, "null": type(None)}
            return not any(type(v) is kind_of.get(o.kind, ()) for v in e.values)
        if x.kind == "object":
            for p, q in ((x, y), (y, x)):
                for key in p.required:
                    if key in q.forbid or self.key_nodeset(q, key) is None:
                        return True
            return False
        if x.kind == "string" and x.patterns and y.patterns:
            both = None
            for pat in x.patterns + y.patterns:
                fsm = interegular.parse_pattern(search_to_fullmatch(pat)).to_fsm()
                both = fsm if both is None else both & fsm
            return both.empty()
        return False


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _product(left: list[frozenset], right: list[frozenset]) -> list[frozenset]:
    return _dedupe([a | b for a in left for b in right])


def _dedupe(clauses: list[frozenset]) -> list[frozenset]:
    seen: set = set()
    out = []
    for c in clauses:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out
