"""Read and write GitHub Actions workflow files as JSON data, keeping ``on:`` a string key.

A workflow file is YAML, but the schema it must satisfy (SchemaStore's
``github-workflow.json``, a JSON Schema) talks about JSON data, so every workflow is handled
here as the JSON value its YAML denotes: a ``dict`` with ``str`` keys whose leaves are ``str``,
``int``, finite ``float``, ``bool`` or ``None``.

**Reading** (:func:`load_workflow`). PyYAML implements YAML 1.1, whose boolean type
(https://yaml.org/type/bool.html) also spells true and false as ``yes``/``no``/``on``/``off``
(and ``y``/``n``, which PyYAML leaves out). With ``yaml.safe_load`` the top-level key ``on:``,
which says when a workflow runs, therefore becomes the boolean ``True`` and no workflow
validates. GitHub reads workflows the YAML 1.2 way, where the core schema (YAML 1.2.2 spec,
§10.3.2) only knows ``true``/``false`` (in three casings). :class:`WorkflowLoader` is PyYAML's
safe loader (the libyaml-backed ``CSafeLoader`` when PyYAML was built with it, about 10 times
faster; the pure-Python ``SafeLoader`` otherwise) with the YAML 1.1 boolean resolver replaced by
the YAML 1.2 one. Everything else keeps PyYAML's YAML 1.1 typing (``3.10`` is the float 3.1,
``2024-01-01`` a date), except that a plain ``=`` is the string ``"="`` (PyYAML would raise: it
resolves ``=`` to the YAML 1.1 "value" type, which its safe loader cannot construct). The
loaded value is then made JSON data the way the corpus was validated (``VALIDATION.md`` of the
shared workflow data): ``json.loads(json.dumps(value, default=str))``, so dates and timestamps
become their ``str()`` and non-string keys become strings (``1`` → ``"1"``, ``true`` →
``"true"``, ``null`` → ``"null"``, a date key → its ``str()``). NaN and infinities, which JSON
cannot hold, are an error.

**Writing** (:func:`dump_workflow`). :class:`WorkflowDumper` writes block-style YAML in the
document's own key order, sequences indented under their key (the way workflows are usually
written), strings with line breaks as ``|`` literal blocks when YAML allows it, no anchors or
aliases and no line folding. A string is written plain (unquoted) only if no common reader
could take it for something else: not a YAML 1.2 core boolean, null, integer or float, not
anything PyYAML's YAML 1.1 resolver types (``yes``/``no``/``off``, ``3.10``, ``1_000``,
``0x1F``, ``1:30``, ``2024-01-01``, ``~``, ``<<``, ``=``, ``""``...), and not one of the YAML
1.1 booleans PyYAML ignores (``y``/``Y``/``n``/``N``) or the YAML 1.2 numbers it misses
(``1e3``, ``089``, ``0o17``). Such strings are quoted, and the string ``on`` is quoted too,
except for the top-level key ``on``, which is written plain as GitHub's documentation writes it.
So for JSON data with string keys (the top level a ``dict``):

* ``load_workflow(dump_workflow(doc)) == doc``, and
* ``yaml.safe_load(dump_workflow(doc))`` (a YAML 1.1 reader) gives ``doc`` back too, except that
  its top-level key ``"on"`` comes back as ``True``.

Pure functions on strings; no file system access.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from typing import Any

import yaml

__all__ = ["WorkflowDumper", "WorkflowLoader", "WorkflowYAMLError", "dump_workflow", "load_workflow"]

_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_VALUE_TAG = "tag:yaml.org,2002:value"

#: YAML 1.2 core schema booleans: the only plain scalars the loader reads as ``bool``.
_YAML12_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
#: YAML 1.1 booleans other than ``on`` and YAML 1.2's own (``y``/``n`` included, which PyYAML
#: does not type but other YAML 1.1 readers do). The dumper quotes strings that match.
_YAML11_ONLY_BOOL_RE = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|off|Off|OFF|On|ON)$")
#: YAML 1.2 core integers and floats (spec §10.3.2), which PyYAML's YAML 1.1 resolver partly
#: misses (``1e3``, ``+1E-3``, ``089``, ``0o17``). The dumper quotes strings that match.
_YAML12_NUMBER_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+)$"
)
#: The one string written plain although a YAML 1.1 reader takes it for ``True``: the
#: top-level key that holds a workflow's triggers.
_ON = "on"
#: Line breaks other than ``\n`` and ``\r`` (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR): only
#: double quotes (which escape them) keep them intact.
_UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")
#: Widest line the dumper writes before folding: in effect, never fold.
_NO_WRAP = 1 << 30


class WorkflowYAMLError(ValueError):
    """Text that is not a YAML mapping of JSON data, or a document that cannot be written.

    Attributes:
        line: 1-based line of the YAML error, ``None`` when the error has no position.
        column: 1-based column of the YAML error, ``None`` when the error has no position.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def _resolvers_without(resolvers: dict, tags: set[str]) -> dict:
    """A copy of a ``yaml_implicit_resolvers`` table without the resolvers for ``tags`` (copied,
    so that PyYAML's own classes keep their tables)."""
    return {first: [(tag, rx) for tag, rx in entries if tag not in tags] for first, entries in resolvers.items()}


_LoaderBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class WorkflowLoader(_LoaderBase):
    """PyYAML's safe loader (libyaml-backed when available) with YAML 1.2 booleans: only
    ``true``/``false``/``True``/``False``/``TRUE``/``FALSE`` are ``bool``, so ``on``, ``off``,
    ``yes``, ``no``, ``y`` and ``n`` stay strings; a plain ``=`` is the string ``"="``."""

    yaml_implicit_resolvers = _resolvers_without(_LoaderBase.yaml_implicit_resolvers, {_BOOL_TAG, _VALUE_TAG})


WorkflowLoader.add_implicit_resolver(_BOOL_TAG, _YAML12_BOOL_RE, list("tTfF"))


class _PurePythonWorkflowLoader(yaml.SafeLoader):
    """:class:`WorkflowLoader` built on the pure-Python ``SafeLoader`` (the fallback when PyYAML
    has no libyaml; tests check that both read the same)."""

    yaml_implicit_resolvers = _resolvers_without(yaml.SafeLoader.yaml_implicit_resolvers, {_BOOL_TAG, _VALUE_TAG})


_PurePythonWorkflowLoader.add_implicit_resolver(_BOOL_TAG, _YAML12_BOOL_RE, list("tTfF"))


class WorkflowDumper(yaml.SafeDumper):
    """PyYAML's pure-Python safe dumper, set up for workflows (see the module docstring):
    plain scalars only where every common YAML reader agrees they are strings, the top-level
    key ``on`` plain, ``None`` written empty, sequences indented under their key, no
    anchors/aliases. JSON data only: a NaN or infinite float, a set, bytes or a date raises
    ``yaml.representer.RepresenterError`` (tuples are written as lists)."""

    # Resolving decides quoting: a string is written plain only if the dumper's resolver
    # reads it back as a string. Start from PyYAML's YAML 1.1 resolvers (a superset of the
    # loader's non-string forms), with booleans split so that ``on`` alone resolves to str.
    yaml_implicit_resolvers = _resolvers_without(yaml.SafeDumper.yaml_implicit_resolvers, {_BOOL_TAG})

    def ignore_aliases(self, data: Any) -> bool:
        """Never write ``&anchor``/``*alias``: a repeated object is written out each time."""
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Indent block sequences under their mapping key (``steps:\\n  - run: x``) instead of
        PyYAML's default, which writes them at the key's own indentation."""
        return super().increase_indent(flow, False)


WorkflowDumper.add_implicit_resolver(_BOOL_TAG, _YAML12_BOOL_RE, list("tTfF"))
WorkflowDumper.add_implicit_resolver(_BOOL_TAG, _YAML11_ONLY_BOOL_RE, list("yYnNoO"))
WorkflowDumper.add_implicit_resolver(_FLOAT_TAG, _YAML12_NUMBER_RE, list("-+0123456789."))


class _TopLevelOn(str):
    """Marks the top-level key ``on`` while dumping, so that it alone is written plain."""


def _represent_str(dumper: WorkflowDumper, data: str) -> yaml.ScalarNode:
    if any(ch in data for ch in _UNICODE_BREAKS):
        style = '"'  # PyYAML writes these raw in other styles and reads NEL back as "\n" or " "
    elif data == _ON:
        style = "'"  # a YAML 1.1 reader would take a plain ``on`` for True
    elif "\n" in data:
        style = "|"  # literal block when YAML allows it; the emitter falls back to quotes
    else:
        style = None
    return dumper.represent_scalar(_STR_TAG, data, style=style)


def _represent_top_level_on(dumper: WorkflowDumper, data: _TopLevelOn) -> yaml.ScalarNode:
    return dumper.represent_scalar(_STR_TAG, str(data))


def _represent_float(dumper: WorkflowDumper, data: float) -> yaml.ScalarNode:
    if not math.isfinite(data):
        raise yaml.representer.RepresenterError(f"JSON has no {data!r}: only finite floats can be written")
    return yaml.SafeDumper.represent_float(dumper, data)


def _represent_none(dumper: WorkflowDumper, data: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")  # ``workflow_dispatch:``


def _represent_not_json(dumper: WorkflowDumper, data: Any) -> yaml.Node:
    raise yaml.representer.RepresenterError(f"not JSON data: {data!r} ({type(data).__name__})")


WorkflowDumper.add_representer(str, _represent_str)
WorkflowDumper.add_representer(type(None), _represent_none)
WorkflowDumper.add_representer(_TopLevelOn, _represent_top_level_on)
WorkflowDumper.add_representer(float, _represent_float)
for _type in (set, bytes, datetime.date, datetime.datetime):  # SafeDumper writes these as YAML types
    WorkflowDumper.add_representer(_type, _represent_not_json)
del _type


def _error_position(error: yaml.YAMLError, text: str) -> tuple[int | None, int | None]:
    """1-based ``(line, column)`` of a PyYAML error in ``text``, ``(None, None)`` if unknown."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is not None:
        return mark.line + 1, mark.column + 1
    position = getattr(error, "position", None)  # ReaderError: a character offset
    if isinstance(position, int) and 0 <= position <= len(text):
        line_start = text.rfind("\n", 0, position) + 1
        return text.count("\n", 0, position) + 1, position - line_start + 1
    return None, None


def _error_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        parts = [part for part in (error.context, error.problem) if part]
        if parts:
            return "; ".join(parts)
    reason = getattr(error, "reason", None)  # ReaderError
    return reason if reason else str(error).splitlines()[0]


class _Cycle(Exception):
    pass


def _json_keys(node: Any, active: set[int]) -> Any:
    """``node`` with mapping keys json.dumps would refuse (dates, bytes...) replaced by their
    ``str()``; ``active`` holds the ids of the containers on the current path (a recursive
    alias such as ``&a [*a]`` raises :class:`_Cycle`)."""
    if isinstance(node, (dict, list)):
        if id(node) in active:
            raise _Cycle
        active.add(id(node))
        if isinstance(node, dict):
            out: Any = {
                (key if key is None or isinstance(key, (str, int, float)) else str(key)): _json_keys(value, active)
                for key, value in node.items()
            }
        else:
            out = [_json_keys(item, active) for item in node]
        active.discard(id(node))
        return out
    return node


def load_workflow(text: str) -> dict:
    """Parse a workflow file into JSON data (see the module docstring for the typing rules).

    Args:
        text: the YAML text of one document.

    Returns:
        A ``dict`` with ``str`` keys whose values are JSON data (``dict``/``list``/``str``/
        ``int``/finite ``float``/``bool``/``None``); the top-level ``on:`` key is ``"on"``.

    Raises:
        WorkflowYAMLError: malformed YAML (with the ``line`` and ``column`` of the problem),
            more than one document, a document that is not a mapping (empty text included),
            or values JSON cannot hold (NaN, infinities, recursive aliases).
    """
    try:
        value = yaml.load(text, Loader=WorkflowLoader)
    except yaml.YAMLError as error:
        line, column = _error_position(error, text)
        where = f" at line {line}, column {column}" if line is not None else ""
        raise WorkflowYAMLError(f"malformed YAML{where}: {_error_problem(error)}", line, column) from error
    if not isinstance(value, dict):
        kind = "an empty document" if value is None else f"a {type(value).__name__}"
        raise WorkflowYAMLError(f"a workflow must be a YAML mapping, got {kind}")
    try:
        return json.loads(json.dumps(_json_keys(value, set()), default=str, allow_nan=False, ensure_ascii=False))
    except _Cycle:
        raise WorkflowYAMLError("a workflow must be JSON data, got a recursive alias") from None
    except ValueError as error:  # NaN / infinity
        raise WorkflowYAMLError(f"a workflow must be JSON data: {error}") from error


def dump_workflow(doc: dict) -> str:
    """Write a workflow (JSON data, as :func:`load_workflow` returns it) as YAML text.

    Block style in ``doc``'s key order, ``on:`` plain at the top level, strings quoted wherever
    a YAML 1.1 or 1.2 reader could misread them (see the module docstring); ends with a newline.

    Args:
        doc: a ``dict`` of JSON data; keys should be strings (others are written as YAML keys
            of their own type and come back from :func:`load_workflow` as strings).

    Returns:
        The YAML text; ``load_workflow(dump_workflow(doc)) == doc`` for JSON data with string keys.

    Raises:
        WorkflowYAMLError: ``doc`` is not a ``dict``, or holds a value that is not JSON data
            (a NaN or infinite float, a set, an arbitrary object...).
    """
    if not isinstance(doc, dict):
        raise WorkflowYAMLError(f"a workflow must be a mapping, got a {type(doc).__name__}")
    root = {(_TopLevelOn(key) if type(key) is str and key == _ON else key): value for key, value in doc.items()}
    try:
        return yaml.dump(
            root,
            Dumper=WorkflowDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=_NO_WRAP,
            indent=2,
        )
    except yaml.YAMLError as error:
        raise WorkflowYAMLError(f"cannot write the workflow as YAML: {error}") from error
