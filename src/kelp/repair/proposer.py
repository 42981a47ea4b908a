"""The proposer interface shared by every way of suggesting edits.

A proposer looks at a program tree and the execution feedback on it and returns scored candidate
edits; the search does not know which model produced an edit (see ARCHITECTURE.md, "one proposer
interface").
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from kelp.program.diff import Edit
from kelp.repair.closeness import compared_values

if TYPE_CHECKING:
    from kelp.execute.sandbox import RunResult


_QUOTED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)'")
_AT_LINE = re.compile(r"\(line (\d+)\)$")


@dataclass(frozen=True)
class Candidate:
    """One proposed edit. ``score`` is a probability-like weight in (0, 1]; higher is tried first."""

    edit: Edit
    score: float
    family: str


@dataclass
class Feedback:
    """What the tests said about a program.

    ``lines`` maps 1-based line numbers of the program as first parsed to suspiciousness in
    [0, 1] (empty = no localization: every line is equally suspicious). ``run`` is the test run.
    ``intent``: what the code should do (task text or docstring; may be empty).
    """

    run: "RunResult | None" = None
    lines: dict[int, float] = field(default_factory=dict)
    test_constants: tuple = ()
    unbound: tuple[str, ...] = ()
    test_calls: tuple[str, ...] = ()
    returned_none: bool = False
    test_sources: tuple[str, ...] = ()
    intent: str = ""

    @classmethod
    def from_run(cls, run: "RunResult", lines: dict[int, float], test_sources: list[str],
                 entry_point: str | None = None) -> "Feedback":
        """Feedback from a test run: line suspiciousness, literals that appear in the tests
        (expected outputs are often the missing constant), names of the functions the tests
        call, names that failing tests reported unbound (NameError / UnboundLocalError: a
        missing initialisation, or a read of the wrong name), and whether a failing assertion
        got ``None`` where it expected a value (a forgotten ``return``)."""
        consts: dict = {}
        calls: dict = {entry_point: None} if entry_point else {}  # check(candidate) calls it
        for text in test_sources:
            try:
                tree = ast.parse(text)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    calls.setdefault(node.func.id, None)
                if isinstance(node, ast.Constant) and type(node.value) in (int, str, bool) and \
                        not (isinstance(node.value, str) and len(node.value) > 80):
                    consts.setdefault((type(node.value).__name__, node.value), node.value)
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
                   returned_none=returned_none, test_sources=tuple(test_sources))

    def error_lines(self, error_type: str, saying: tuple[str, ...] = ()) -> set[int]:
        """Program lines where a test raised ``error_type`` (from the ``(line N)`` suffix the
        sandbox adds to error messages), optionally only errors whose message contains one of
        ``saying``."""
        if self.run is None:
            return set()
        return {int(m.group(1)) for o in self.run.outcomes if o.error_type == error_type
                and (not saying or any(word in (o.message or "") for word in saying))
                for m in [_AT_LINE.search(o.message or "")] if m}

    def node_score(self, node: ast.AST, parent_line: int | None = None) -> float:
        """Suspiciousness of a node: the score of its first line (its parent's for nodes without one)."""
        if not self.lines:
            return 1.0
        line = getattr(node, "lineno", None) or parent_line
        return self.lines.get(line, 0.0) if line is not None else 0.0


class Proposer(Protocol):
    """``propose(tree, feedback, k) -> candidates``, best first, at most ``k`` (all if ``None``)."""

    name: str

    def propose(self, tree: ast.Module, feedback: Feedback, k: int | None = None) -> list[Candidate]:
        ...
