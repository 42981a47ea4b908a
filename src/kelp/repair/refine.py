"""Iterative refinement from test feedback with the graph denoiser.

A noisy program is refined for up to ``iterations`` steps: the denoiser predicts the original
token of every token slot (:mod:`kelp.corrupt.token_noise`), the predictions are written back,
the program's tests run in the sandbox, and their per-line suspiciousness becomes the next
step's node feature. Iteration 0 sees no test signal (the seed experiments found it useless
before the first prediction); later iterations do. The loop stops when every test passes, when an
iteration changes nothing, or after ``iterations`` steps.

Test signals (``signal``): ``none``; ``binary`` (1 for lines that some failing test executed);
``tarantula`` (Jones & Harrold 2005) and ``ochiai`` (Abreu et al. 2007) spectrum scores
(:mod:`kelp.execute.localize`).

:func:`refine_noised_task` is the measurement shared by ``kelp eval refine``
(:mod:`kelp.bench.refine_eval`) and the graph trainer's held-out evaluation: noise one program,
refine it, score the result per slot; :func:`pooled_accuracy` pools such records.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass, field

from kelp.corrupt.errors import CorruptionError
from kelp.corrupt.token_noise import apply_tokens, noise, token_nodes
from kelp.execute.localize import FAILING, line_suspiciousness, spectrum
from kelp.execute.results import RunResult
from kelp.models.graph_features import program_graph
from kelp.program.tree import ProgramError, parse, unparse

#: Test signals the denoiser can be given.
SIGNALS = ("none", "binary", "tarantula", "ochiai")


class RefineError(ValueError):
    """Bad arguments to :func:`refine` (unknown signal, iterations < 1, a program without slots)."""


@dataclass
class Refinement:
    """What :func:`refine` did.

    ``tokens``: the slot tokens before refinement (index 0) and after each iteration run;
    ``changed``: slots changed by each iteration (0 for the iteration that stopped the loop);
    ``source``: the final program; ``passed``: whether its tests all pass (None without tests);
    ``stopped``: ``"passed"``, ``"unchanged"`` or ``"limit"``; ``runs``: test runs made."""

    tokens: list[list[str]]
    changed: list[int] = field(default_factory=list)
    source: str = ""
    passed: bool | None = None
    stopped: str = "limit"
    runs: int = 0


def signal_lines(run: RunResult, signal: str) -> dict[int, float]:
    """Line -> value in [0, 1] for ``signal`` (one of :data:`SIGNALS`) from a coverage run;
    empty for ``none``, for a run without coverage and when no test fails. Tarantula and Ochiai
    are already in [0, 1]. Raises :class:`RefineError` for an unknown signal."""
    if signal not in SIGNALS:
        raise RefineError(f"unknown signal {signal!r}; choose one of {', '.join(SIGNALS)}")
    if signal == "none" or run.coverage is None or not any(o.status in FAILING for o in run.outcomes):
        return {}
    if signal == "binary":
        return {line: 1.0 for line, (ef, _, _, _) in spectrum(run).items() if ef > 0}
    return line_suspiciousness(run, signal)


def refine(model, vocab, program: str | ast.Module, suite=None, sandbox=None, *, iterations: int = 5,
           signal: str = "ochiai") -> Refinement:
    """Refine ``program`` with the graph denoiser ``model`` (a
    :class:`~kelp.models.graph_model.GraphDenoiser` with its ``vocab``).

    With a ``suite`` and a ``sandbox`` the tests run after every iteration (with per-test
    coverage unless ``signal`` is ``none``); without them the loop runs until nothing changes or
    ``iterations`` is reached, and ``passed`` is None. Raises :class:`RefineError` for an
    unknown signal, ``iterations`` < 1 or a program without token slots, and
    :class:`~kelp.program.tree.ProgramSyntaxError` for source that does not parse."""
    if signal not in SIGNALS:
        raise RefineError(f"unknown signal {signal!r}; choose one of {', '.join(SIGNALS)}")
    if iterations < 1:
        raise RefineError(f"iterations must be >= 1, got {iterations}")
    tree = parse(program) if isinstance(program, str) else program
    slots = token_nodes(tree)
    if not slots:
        raise RefineError("the program has no token slots (names, attributes, constants, parameters, operators)")
    tokens = [s.token for s in slots]
    result = Refinement(tokens=[tokens])
    previous: list[str] | None = None
    lines: dict[int, float] = {}
    for step in range(iterations):
        graph = program_graph(tree, vocab, previous_tokens=previous, iteration=step, signal=lines)
        predicted, _ = model.predict(graph)
        new = predicted[0]
        changed = sum(a != b for a, b in zip(new, tokens))
        result.changed.append(changed)
        if not changed:
            result.stopped = "unchanged"
            break
        previous, tokens = tokens, new
        tree = apply_tokens(tree, slots, tokens)
        result.tokens.append(tokens)
        if suite is not None and sandbox is not None:
            run = sandbox.run(unparse(tree), suite, coverage=signal != "none", continue_after_timeout=True)
            result.runs += 1
            result.passed = run.all_passed
            if run.all_passed:
                result.stopped = "passed"
                break
            lines = signal_lines(run, signal)
    result.source = unparse(tree)
    return result


def refine_noised_task(model, vocab, problem, sandbox, *, rate: float, iterations: int, signal: str,
                       seed: int) -> dict | None:
    """Noise and refine one MBPP problem (a fraction ``rate`` of its token slots, seeded by
    ``seed`` and the task id); its result record, or None when the program has no token slots."""
    try:
        noised = noise(problem.code, rate, random.Random(f"{seed}:{problem.task_id}"))
    except (ProgramError, CorruptionError):
        return None
    suite = problem.suite()
    noisy_run = sandbox.run(noised.source, suite)
    result = refine(model, vocab, noised.tree, suite, sandbox, iterations=iterations, signal=signal)
    first = result.tokens[1] if len(result.tokens) > 1 else result.tokens[0]
    last = result.tokens[-1]
    original, corrupted = noised.original, noised.corrupted
    return {
        "task_id": problem.task_id,
        "slots": len(original),
        "corrupted": len(corrupted),
        "one_shot_correct": sum(first[i] == original[i] for i in corrupted),
        "final_correct": sum(last[i] == original[i] for i in corrupted),
        "one_shot_all": sum(a == b for a, b in zip(first, original)),
        "final_all": sum(a == b for a, b in zip(last, original)),
        "changed": result.changed,
        "restored": last == original,
        "passed": bool(result.passed),
        "noisy_passed": noisy_run.all_passed,
        "stopped": result.stopped,
    }


def pooled_accuracy(records: list[dict]) -> tuple[float, float, float]:
    """``(one-shot accuracy, final accuracy, all-tests-pass rate)`` of
    :func:`refine_noised_task` records: accuracies over corrupted slots, pooled over tasks
    (micro-averages); unrounded."""
    corrupted = sum(r["corrupted"] for r in records)
    one_shot = sum(r["one_shot_correct"] for r in records) / max(1, corrupted)
    final = sum(r["final_correct"] for r in records) / max(1, corrupted)
    passed = sum(r["passed"] for r in records) / max(1, len(records))
    return one_shot, final, passed


__all__ = ["SIGNALS", "RefineError", "Refinement", "pooled_accuracy", "refine", "refine_noised_task",
           "signal_lines"]
