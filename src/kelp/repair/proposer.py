"""The proposer interface shared by every way of suggesting edits.

A proposer looks at a program tree and the execution feedback on it and returns scored candidate
edits; the search does not know which model produced an edit (see ARCHITECTURE.md, "one proposer
interface").
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from kelp.program.diff import Edit
from kelp.program.tree import parsed_sources
from kelp.repair.closeness import compared_values

if TYPE_CHECKING:
    from kelp.execute.sandbox import RunResult


_QUOTED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)'")
_AT_LINE = re.compile(r"\(line (\d+)\)$")


@dataclass(frozen=True)
class Candidate:
    """One proposed edit. ``score`` is a probability-like weight in (0, 1]; higher is tried first.
    ``synthesised``: built to fit what the tests showed (the values a probe or the tests'
    examples gave), so the search tries it before the ranker's order. ``doomed``: it raises on
    every run (:class:`Doomed`); the search skips it."""

    edit: Edit
    score: float
    family: str
    synthesised: bool = False
    doomed: bool = False


@dataclass(frozen=True)
class Doomed:
    """An alternative (its new ``node``) that raises on every run: it reads a local before the
    function binds it (``UnboundLocalError``). A proposer keeps it among its candidates, marked
    ``Candidate.doomed``, so that the other candidates' scores, ranks and ranker features stay
    those of the whole list; the search never runs it."""

    node: object


#: Suspiciousness of code the search inserted, relative to the old lines around it.
NEW_CODE_WEIGHT = 0.5


@dataclass
class Feedback:
    """What the tests said about a program.

    ``lines`` maps 1-based line numbers of the program to suspiciousness in [0, 1] (empty =
    no localization: every line is equally suspicious). ``run`` is the test run.
    ``intent``: what the code should do (task text or docstring; may be empty).
    ``failing_constants``: literals of the failing tests and the values their failed
    assertions expected, the likeliest replacements of a wrong constant. ``expected``: what
    the failing asserts expect a call to return (:func:`expected_results`), without their inputs.
    ``line_map``: for feedback carried to an edited program (:meth:`at_lines`), the line of
    the program the tests ran that each line stands for (index 0 unused, None for new code);
    the lines of ``run``'s messages are read through it. ``probes``: ``(ProbeSite, names,
    examples)`` of :func:`kelp.repair.probe.probe_locals` for each place the search probed (the
    locals where a computation or a guard is missing).
    """

    run: "RunResult | None" = None
    lines: dict[int, float] = field(default_factory=dict)
    test_constants: tuple = ()
    unbound: tuple[str, ...] = ()
    test_calls: tuple[str, ...] = ()
    returned_none: bool = False
    test_sources: tuple[str, ...] = ()
    intent: str = ""
    failing_constants: tuple = ()
    expected: tuple = ()
    line_map: tuple | None = None
    probes: tuple = ()

    @classmethod
    def from_run(cls, run: "RunResult", lines: dict[int, float], test_sources: list[str],
                 entry_point: str | None = None, failing_sources: dict[str, str] | None = None) -> "Feedback":
        """Feedback from a test run: line suspiciousness, literals that appear in the tests
        (expected outputs are often the missing constant), names of the functions the tests
        call, names that failing tests reported unbound (NameError / UnboundLocalError: a
        missing initialisation, or a read of the wrong name), and whether a failing assertion
        got ``None`` where it expected a value (a forgotten ``return``). ``failing_sources``:
        source of each test by id where ``test_sources`` lacks it (pytest functions), for
        :func:`failing_constants`."""
        consts: dict = {}
        calls: dict = {entry_point: None} if entry_point else {}  # check(candidate) calls it
        for tree in parsed_sources(test_sources):
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    calls.setdefault(node.func.id, None)
            consts.update((k, v) for k, v in _literals(tree).items() if k not in consts)
        unbound = []
        for outcome in run.outcomes:
            if outcome.error_type in ("NameError", "UnboundLocalError") and outcome.message:
                match = _QUOTED.search(outcome.message)
                if match and match.group(1) not in unbound:
                    unbound.append(match.group(1))
        compared = [compared_values(o.message) for o in run.outcomes if o.status == "fail"]
        returned_none = any(v is not None and v[0] == "None" and v[1] != "None" for v in compared)
        return cls(run=run, lines=lines if any(lines.values()) else {},
                   test_constants=tuple(consts.values()), unbound=tuple(unbound), test_calls=tuple(calls),
                   returned_none=returned_none, test_sources=tuple(test_sources),
                   failing_constants=failing_constants(run, test_sources, failing_sources),
                   expected=expected_results(run, test_sources))

    def at_lines(self, line_map: tuple) -> "Feedback":
        """This feedback for an edited program whose line ``n`` stands for line
        ``line_map[n]`` of the program the tests ran (None: new code, not suspicious);
        ``line_map`` as :meth:`kelp.repair.splice.Spliced.line_map` keeps it. A new line is
        :data:`NEW_CODE_WEIGHT` times as suspicious as the likelier of the old lines around it:
        code the search inserted (a transplanted statement) may itself need an edit."""
        if self.line_map is not None:
            raise ValueError("feedback already carried to an edited program: carry the original")
        lines = {n: self.lines[old] for n, old in enumerate(line_map) if old in self.lines} if self.lines else {}
        for n, old in enumerate(line_map):
            if n and old is None and lines:
                before = next((lines.get(m, 0.0) for m in range(n - 1, 0, -1) if line_map[m] is not None), 0.0)
                after = next((lines.get(m, 0.0) for m in range(n + 1, len(line_map)) if line_map[m] is not None), 0.0)
                if max(before, after) > 0.0:
                    lines[n] = NEW_CODE_WEIGHT * max(before, after)
        if self.lines and not lines:
            lines = {0: 0.0}  # localized, and nothing of it is left: not "no localization"
        return replace(self, lines=lines, line_map=tuple(line_map))

    def error_lines(self, error_type: str | None, saying: tuple[str, ...] = ()) -> set[int]:
        """Program lines where a test raised ``error_type`` (from the ``(line N)`` suffix the
        sandbox adds to error messages), optionally only errors whose message contains one of
        ``saying``. ``error_type=None``: any error, and the line where loading the program
        raised."""
        if self.run is None:
            return set()
        messages = [o.message for o in self.run.outcomes if error_type is None or o.error_type == error_type]
        if error_type is None:
            messages.append(self.run.message)
        found = {int(m.group(1)) for message in messages
                 if message and (not saying or any(word in message for word in saying))
                 for m in [_AT_LINE.search(message)] if m}
        if self.line_map is None:
            return found
        return {n for n, old in enumerate(self.line_map) if old in found}

    def node_score(self, node: ast.AST, parent_line: int | None = None) -> float:
        """Suspiciousness of a node: the score of its first line (its parent's for nodes without one)."""
        if not self.lines:
            return 1.0
        line = getattr(node, "lineno", None) or parent_line
        return self.lines.get(line, 0.0) if line is not None else 0.0


def _literals(tree: ast.AST) -> dict:
    """Int, str and bool literals of ``tree`` (strings up to 80 characters) by (type, value),
    in walk order."""
    found: dict = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, str, bool) and \
                not (isinstance(node.value, str) and len(node.value) > 80):
            found.setdefault((type(node.value).__name__, node.value), node.value)
    return found


def failing_constants(run: "RunResult", test_sources: list[str], failing_sources: dict[str, str] | None = None
                      ) -> tuple:
    """Literals of the tests ``run`` saw fail (their sources: ``test_sources`` in the suite's
    order, which ``run.outcomes`` follows, or ``failing_sources`` by test id), then the values
    their failed assertions expected (``left = ..., right = ...`` messages): where a wrong
    constant's right value most often stands."""
    sources = dict(failing_sources or {})
    if len(run.outcomes) == len(test_sources):
        for outcome, text in zip(run.outcomes, test_sources):
            if text:
                sources.setdefault(outcome.test_id, text)
    found: dict = {}
    for outcome in run.outcomes:
        if outcome.status not in ("fail", "error"):
            continue
        try:
            found.update((k, v) for k, v in _literals(ast.parse(sources.get(outcome.test_id, ""))).items()
                         if k not in found)
        except (SyntaxError, ValueError):
            pass
    for outcome in run.outcomes:
        values = compared_values(outcome.message) if outcome.status == "fail" else None
        try:
            expected = ast.literal_eval(values[1]) if values else None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            expected = None
        if type(expected) in (int, str) and not (isinstance(expected, str) and len(expected) > 80):
            found.setdefault((type(expected).__name__, expected), expected)
    return tuple(found.values())


def expected_results(run: "RunResult", test_sources: list[str]) -> tuple:
    """Values the failing tests expect a call to return: the literal side of ``assert f(...) ==
    <literal>`` (either order) in the sources of the tests of ``run`` that failed (``test_sources``
    in the suite's order), in test order, each once. Unlike :func:`failing_constants`, the
    inputs the tests pass are not among them."""
    if len(run.outcomes) != len(test_sources):
        return ()
    found: dict = {}
    for outcome, text in zip(run.outcomes, test_sources):
        if outcome.status not in ("fail", "error") or not text:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)
                    and len(node.test.ops) == 1 and isinstance(node.test.ops[0], ast.Eq)):
                continue
            for call, other in ((node.test.left, node.test.comparators[0]), (node.test.comparators[0], node.test.left)):
                if isinstance(call, ast.Call):
                    try:
                        value = ast.literal_eval(other)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        continue
                    if value is None or type(value) in (bool, int, float, str):
                        found.setdefault((type(value).__name__, value), value)
                    break
    return tuple(found.values())


class Proposer(Protocol):
    """``propose(tree, feedback, k) -> candidates``, best first, at most ``k`` (all if ``None``)."""

    name: str

    def propose(self, tree: ast.Module, feedback: Feedback, k: int | None = None) -> list[Candidate]:
        ...
