"""The report ``kelp repair`` prints on stderr: what failed, where the search looked, what it found.

For a repair: the tests that failed before (their ids) and that they pass now, the lines it
localized, and the size of the search. For a failed search: the same, plus the best partial
state it reached (the most tests passing, with its diff) when one passed more tests than the
program, why the search stopped, and a hint about what to try next. The report is plain text,
one fact per line, never wrapped: people read it and scripts grep it.
"""

from __future__ import annotations

from kelp.program.unified_diff import unified_diff
from kelp.repair.search import PartialState

#: Test ids listed in full before the report says "... and N more".
MAX_LISTED = 10


def _listed(ids: list[str]) -> list[str]:
    shown = [f"  {test_id}" for test_id in ids[:MAX_LISTED]]
    if len(ids) > MAX_LISTED:
        shown.append(f"  ... and {len(ids) - MAX_LISTED} more")
    return shown


def _lines(ranking: list[int], limit: int = 8) -> str:
    return ", ".join(str(line) for line in ranking[:limit]) + (" ..." if len(ranking) > limit else "")


def hint(result, budget: int | None = None) -> str:
    """One sentence on what to try after a failed search, from why it stopped (``result`` is a
    :class:`~kelp.repair.search.RepairResult`)."""
    if not result.localization:
        return ("no failing test executed a line of this file: check that the tests import this module "
                "(the same file, under the name they import), or give the tests that exercise it")
    if result.reason == "budget exhausted":
        return f"raise --budget (it was {budget})" if budget else "raise --budget"
    if result.reason == "time limit":
        return "raise --seconds, or select fewer tests (a test file or node id)"
    if result.reason == "no more candidates":
        return ("every edit near the localized lines was tried: the bug may need a new statement or an "
                "edit outside the localized lines")
    if result.rejected:
        return "candidates passed only inside their own interpreter and were rejected by the judged run"
    return "see the localized lines above; a smaller set of failing tests localizes better"


def format_report(result, path: str, *, budget: int | None = None, best: PartialState | None = None) -> str:
    """The stderr report of one ``kelp repair`` run on the file at ``path`` (as the user named
    it): several lines, ending in a newline. ``result`` is a
    :class:`~kelp.repair.search.RepairResult`; ``best``: the best partial state of a failed
    search (default ``result.best``), shown with its diff when it passes more tests than the
    program did."""
    best = result.best if best is None else best
    failing = result.initial_run.failing_ids
    (b_pass, b_total), (a_pass, a_total) = result.tests_before, result.tests_after
    out = [f"failing before: {len(failing)} of {b_total} tests"] + _listed(failing)
    if result.denied:
        kinds = ", ".join(sorted(set(result.denied.values())))
        out.append(f"left out: {len(result.denied)} tests that do what the sandbox does not allow ({kinds}):")
        out += _listed(sorted(result.denied))
    if result.localization:
        out.append(f"localized lines (most suspicious first): {_lines(result.localization)}")
    else:
        out.append("localized lines: none (no failing test executed this file)")
    out.append(f"searched: {result.executions} candidates run in {result.seconds:.1f} s")
    if result.degenerate:
        out.append(f"refused: {result.degenerate} candidates passed the tests with degenerate code (an "
                   f"expression such as x - x, or a function made to ignore its parameters), not repairs")
    if result.regression_tests:
        out.append(f"regression check: {result.regression_tests} other tests of the project that passed before must "
                   f"still pass; {result.regressions} candidates that passed the selected tests broke some of them")
    if result.solved:
        out.append(f"repaired: tests {b_pass}/{b_total} -> {a_pass}/{a_total} passing"
                   + (" (confirmed by a judged run)" if result.judged else ""))
        fixed, others = result.others
        if others:
            out.append(f"other failing tests: {others} tests of the project outside the selection failed before; "
                       f"the repair passes {fixed} of them"
                       + ("" if fixed == others else " (no candidate in the search passed more)"))
        return "\n".join(out) + "\n"
    out.append(f"not repaired: {result.reason}; tests {b_pass}/{b_total} passing, program unchanged")
    if best is not None and (best.tests[0] > b_pass or not best.exact):
        count = f"{best.tests[0]}/{best.tests[1]} tests passing" if best.exact else \
            f"at least {best.tests[0]} of the failing tests passing (no time was left to run the rest)"
        out.append(f"best partial state: {count} with this change:")
        out.append(unified_diff(result.original, best.source, path).rstrip("\n"))
    out.append(f"hint: {hint(result, budget)}")
    return "\n".join(out) + "\n"
