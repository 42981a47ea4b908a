"""Missing guards synthesised from the locals a probe observed (angelic values).

Where a probe (:mod:`kelp.repair.probe`, :mod:`kelp.repair.loop_probe`) observed the locals at a
``return`` whose guard is gone, or at an unconditional ``append`` in a loop, the condition of the
missing ``if`` is synthesised over those locals with :func:`kelp.repair.synthesis.synthesise`:
true exactly where the guarded statement gives the tests' expected results (Nopol's angelic
values, Xuan et al. 2016, found by enumeration instead of a solver).
"""

from __future__ import annotations

import ast

from kelp.repair.synthesis import MIN_EXAMPLES, exactly, probe_of, remembered, solutions, synthesise


#: Subscripts ``xs[i]``, ``xs[i - 1]``, ``xs[i + 1]`` added as atoms, at most.
MAX_NEIGHBOURS = 6


def with_neighbours(names: tuple[str, ...], examples, indices=None) -> tuple[tuple[str, ...], list]:
    """``names`` and ``examples`` with atoms ``xs[i]``, ``xs[i - 1]`` and ``xs[i + 1]`` added for
    each list or string ``xs`` and integer ``i`` among ``names`` (only the names of ``indices``
    when given: the loop variables) where the index is in range on
    every example (at most :data:`MAX_NEIGHBOURS`): a loop's condition compares neighbours,
    ``arr[i] < arr[i - 1]``, which is too large to build from ``arr`` and ``i`` within
    :data:`MAX_SIZE`."""
    examples = [(tuple(args), exp) for args, exp in examples]
    seqs = [k for k, n in enumerate(names) if all(isinstance(a[k], (list, tuple, str)) for a, _ in examples)]
    ints = [k for k, n in enumerate(names) if (indices is None or n in indices)
            and all(isinstance(a[k], int) and not isinstance(a[k], bool) for a, _ in examples)]
    added = []
    for s in seqs:
        for i in ints:
            for shift, text in ((0, ""), (-1, " - 1"), (1, " + 1")):
                if len(added) < MAX_NEIGHBOURS and all(0 <= a[i] + shift < len(a[s]) for a, _ in examples):
                    added.append((f"{names[s]}[{names[i]}{text}]", s, i, shift))
    if not added:
        return names, examples
    return (tuple(names) + tuple(t for t, *_ in added),
            [(args + tuple(args[s][args[i] + shift] for _, s, i, shift in added), exp) for args, exp in examples])


#: Weight of the first synthesised guard (the next ones weigh less, in turn).
GUARD_WEIGHT = 4.0


def angelic_guards(func: ast.FunctionDef, probes) -> list[tuple[tuple, str, float]]:
    """``(path, condition, weight)``: conditions for an ``if`` around the ``return`` at ``path``
    (from ``func``) that a guard probe observed, synthesised over the locals seen there: true
    exactly where that ``return`` gives the test's expected result (Nopol's angelic values, Xuan
    et al. 2016, found here by enumeration instead of a solver). Three kinds of places: a
    ``return`` in the function's body with code after it that can never run
    (:func:`kelp.repair.probe.guard_site`), a ``return`` in a loop body, observed on every pass
    (:func:`kelp.repair.loop_probe.loop_guard_site`), and an unconditional ``total += x`` or
    ``found.append(x)`` in a loop whose total the function returns, where the condition must
    let through the passes that make up the expected result
    (:func:`kelp.repair.loop_probe.accumulate_site`). Needs examples of both labels;
    empty otherwise, or when the statement there is no longer such a ``return``."""
    found = []
    for kind in ("guard", "loop_guard", "accumulate"):
        probe = probe_of(func, probes, kind)
        if probe is None:
            continue
        site, names, examples = probe
        if kind == "guard" and {e for _, e in examples} != {True, False}:
            continue
        if kind != "guard" and len({tag[0] for _, tag in examples}) < MIN_EXAMPLES:
            continue  # the passes of one test: too few to tell a condition from a coincidence
        path = ("body", site.index) if kind == "guard" else site.path
        try:
            block = func
            for step in path[:-1]:
                block = getattr(block, step) if isinstance(step, str) else block[step]
            stmt = block[path[-1]]
        except (AttributeError, IndexError, TypeError):
            continue
        if (not isinstance(stmt, ast.Return if kind != "accumulate" else (ast.AugAssign, ast.Expr))
                or (kind == "guard" and path[-1] >= len(block) - 1)):
            continue
        names, examples = with_neighbours(names, examples, _loop_variables(func, path))
        texts = solutions(names, examples, None, "") if kind == "guard" else _loop_solutions(names, examples, kind)
        found.extend((path, text, GUARD_WEIGHT / (rank + 1)) for rank, text in enumerate(texts))
    return found


def _loop_variables(func: ast.FunctionDef, path: tuple) -> set[str]:
    """Names the ``for`` loops around ``path`` (from ``func``) bind."""
    found, node = set(), func
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
        if isinstance(node, ast.For):
            found |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return found


def _loop_solutions(names: tuple[str, ...], examples: list, kind: str) -> tuple[str, ...]:
    """Conditions over ``names`` that :func:`kelp.repair.loop_probe.accepts` (or, for an
    ``"accumulate"`` site, :func:`~kelp.repair.loop_probe.accepts_additions`) takes on the
    tagged passes ``examples``, :func:`~kelp.repair.synthesis.remembered`."""
    from kelp.repair.loop_probe import accepts, accepts_additions

    tags = tuple(tag for _, tag in examples)
    check = accepts_additions if kind == "accumulate" else accepts
    return remembered((names, repr(examples), kind),
                      lambda: synthesise(list(names), examples, exactly, accept=lambda values: check(values, tags)))
