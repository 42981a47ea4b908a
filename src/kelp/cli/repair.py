"""``kelp repair``: the smallest edit that makes a program's tests pass, as a unified diff."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from kelp.cli import _signals
from kelp.cli._console import UserError, err
from kelp.cli._paths import RANKER_HELP, ranker_setting

PROPOSER_HELP = "enum, model (the edit model), both, graph (the graph denoiser), or several joined by commas (both,graph)."


def repair_cmd(
    file: Path = typer.Argument(..., help="Python file with the buggy function."),
    pytest_extra: Optional[list[str]] = typer.Argument(
        None, metavar="[-- PYTEST_ARGS...]",
        help="After --: the project's tests as pytest takes them, e.g. -- tests/test_mod.py -k clamp."),
    tests: Optional[Path] = typer.Option(None, "--tests", help="File of assert statements, a check(candidate) function, or test_* functions."),
    pytest_args: Optional[str] = typer.Option(None, "--pytest", help='pytest arguments as one quoted string, e.g. "tests/test_mod.py -k clamp".'),
    budget: int = typer.Option(256, "--budget", help="Candidate executions at most."),
    timeout: float = typer.Option(2.0, "--timeout", help="Seconds per test before it counts as hung."),
    seconds: float = typer.Option(120.0, "--seconds", help="Wall-clock limit for the whole search."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the diff and report."),
    proposer: str = typer.Option("enum", "--proposer", help=PROPOSER_HELP),
    graph_checkpoint: Optional[Path] = typer.Option(None, "--graph-checkpoint", help="Graph-denoiser checkpoint for --proposer graph (default: the bundled one)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Edit-model checkpoint for --proposer model/both (default: the bundled one)."),
    no_feedback: bool = typer.Option(False, "--no-feedback", help="Hide the tests and their results from the edit model."),
    model_weight: float = typer.Option(0.1, "--model-weight", help="--proposer both: share of the model in the mixture (0 = enumerator's order)."),
    write: bool = typer.Option(False, "--write", help="Write the repair into FILE (the diff is printed too)."),
    force: bool = typer.Option(False, "--force", help="--write even when git reports uncommitted changes to FILE."),
    regression: bool = typer.Option(True, "--regression/--no-regression", help="With pytest tests that select part of the project: a repair must also keep passing the tests of the project's default pytest run that passed before."),
    ranker: str = typer.Option("bundled", "--ranker", help=RANKER_HELP),
) -> None:
    """Find the smallest edit that makes every test pass; print it as a unified diff.

    --seconds bounds the whole run (parsing, the sandbox, localization, proposing and running candidates). Nothing is written to any file unless --write is given; --write refuses a file with uncommitted changes (before the search; --force overrides) and a file changed while kelp ran (always).

    stderr gets a report: the failing tests, the localized lines, the search's size, and for a failed search its best partial state, why it stopped and a hint.

    The tests may be the project's own pytest run: kelp repair src/pkg/mod.py -- tests/ -k clamp (the file is served under its import name, the project's pytest configuration and conftest.py apply).

    Exit status: 0 repaired; 1 not repaired (search exhausted or out of time); 2 bad input (missing, binary, non-UTF-8, too large, too deeply nested or unparsable files, unusable tests: tests pytest cannot collect or that never import the file, a file outside the tests' project); 3 nothing to repair (every test already passes); 4 repaired but not written (--write found FILE changed while kelp ran, or could not replace it; the diff is on stdout); 130 interrupted (SIGINT); 143 terminated (SIGTERM).
    """
    started = time.monotonic()
    from kelp.execute.sandbox import Limits
    from kelp.program.unified_diff import unified_diff
    from kelp.repair.apply import WriteRefused, uncommitted, write_repair
    from kelp.repair.inputs import collect_tests, load_repair_inputs, regression_suite
    from kelp.repair.proposers import make_proposers
    from kelp.repair.report import format_report
    from kelp.repair.search import RepairConfig, repair

    _signals.set_interrupt_note("nothing written")
    if budget < 1 or timeout <= 0 or seconds <= 0:
        raise UserError("--budget must be >= 1, --timeout and --seconds > 0")
    if pytest_extra and pytest_args is not None:
        raise UserError("give the pytest arguments once: --pytest \"ARGS\" or -- ARGS...")
    if pytest_extra or (tests is None and pytest_args is None and "--" in sys.argv[1:]):
        pytest_args = list(pytest_extra or [])  # a bare "--": pytest's own default (testpaths, or .)
    if force and not write:
        raise UserError("--force only applies with --write")
    try:
        ranking = ranker_setting(ranker)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    inputs = load_repair_inputs(file, tests=tests, pytest_args=pytest_args)
    if write and not force and uncommitted(file):
        raise UserError(f"{file} has uncommitted changes: commit or stash them, or pass --force to --write over them")
    proposers = make_proposers(proposer, str(checkpoint) if checkpoint else None, feedback=not no_feedback,
                               weight=model_weight, graph_checkpoint=str(graph_checkpoint) if graph_checkpoint else None)
    with _signals.sandbox(limits=Limits(test_timeout=timeout, job_timeout=min(30.0, seconds))) as sandbox:
        inputs = collect_tests(inputs, sandbox)
        with err.status("repairing..."):
            left = max(0.0, seconds - (time.monotonic() - started))
            wider = regression_suite(inputs.suite) if regression and tests is None else None
            result = repair(inputs.source, inputs.suite, sandbox, RepairConfig(budget=budget, seconds=left, ranker=ranking),
                            proposers=proposers, intent=inputs.intent, regression=wider)
    already = result.solved and not result.edits  # repair() made no edit: nothing failed
    status = "already_passing" if already else "repaired" if result.solved else "not_repaired"
    diff = "" if already else unified_diff(inputs.source, result.repaired, str(file))
    if as_json:
        print(json.dumps({"status": status} | result.to_json() | {"file": str(file), "diff": diff}))
    if already:
        err.print(f"nothing to repair: all {result.tests_before[1]} tests already pass")
        raise typer.Exit(3)
    if not as_json and result.solved and diff:
        sys.stdout.write(diff)  # byte for byte: rich would wrap long lines and expand tabs
        sys.stdout.flush()
    sys.stderr.write(format_report(result, str(file), budget=budget))  # plain: test ids hold [brackets]
    if write and result.solved:
        try:
            write_repair(file, inputs.source, result.repaired, force=force)
        except WriteRefused as refused:
            err.print(f"not written: {refused}", markup=False)
            raise typer.Exit(4) from None
        err.print(f"wrote the repair to {file}", markup=False)
    raise typer.Exit(0 if result.solved else 1)
