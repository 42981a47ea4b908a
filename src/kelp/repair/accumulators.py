"""Forgotten updates: a result started empty and never added to, a ``while`` loop that never
moves its own variable.

``ans = 0`` before a loop and ``return ans`` after it, with nothing in between that changes
``ans``: the line that adds each pass's value (``ans += incr``) was forgotten. It is one of the
commonest missing statements in people's code (the "missing assignment" repairs of
introductory-programming benchmarks; Hu et al. 2019, "Re-factoring based program repair applied
to programming assignments") and of a deleted statement. The enumerator already proposes the
counter ``v += 1``; here the value added is one the loop computes: a name assigned in the loop, a
loop variable, or an item ``xs[i]`` the loop reads. The update follows the start value: ``+=``
after ``0`` or ``''``, ``*=`` after ``1``, ``.append`` after ``[]``.

A ``while`` loop whose condition reads a variable that nothing in the loop changes, with no
``break`` or ``return`` to leave it, never ends: its step (``i += 1``, ``i -= 1``, ``n //= 10``)
was forgotten, and is proposed at the end of its body (:func:`loop_step_alternatives`). Where the
loop moves that variable in some branches of an ``if`` but one branch moves nothing and does not
leave the loop, the loop stalls once it takes that branch: a sibling branch's step is proposed at
the end of the stalled branch (``right = mid - 1`` beside ``left = mid + 1`` in a binary search),
or, when the stalled branch is the missing ``else``, the step is moved out of the ``if`` to the
end of the loop's body (:func:`branch_step_alternatives`).

Each alternative is ``(family, site key, path, op, new node, weight)`` like the enumerator's.
"""

from __future__ import annotations

import ast
import copy
from typing import Iterator

from kelp.program.tree import iter_nodes
from kelp.repair.transplant import own_nodes

#: Values tried per loop block and accumulator, the likeliest first.
MAX_VALUES = 6


def _start(value: ast.expr) -> str | None:
    """How a start value is added to: ``"+="``, ``"*="`` or ``"append"`` (None: not a start)."""
    if isinstance(value, ast.Constant):
        if type(value.value) in (int, float) and value.value == 0 or value.value == "":
            return "+="
        if type(value.value) is int and value.value == 1:
            return "*="
    if isinstance(value, ast.List) and not value.elts or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "list"
            and not value.args):
        return "append"
    return None


def accumulators(func: ast.FunctionDef) -> dict[str, tuple[str, int]]:
    """``{name: (update, line)}``: the names ``func`` binds once, to a start value (see
    :func:`_start`), at ``line``, never changes after (no augmented assignment, no other binding,
    no method call or item assignment on it) and reads: a result nothing adds to."""
    binds: dict[str, int] = {}
    starts: dict[str, tuple[str, int]] = {}
    changed: set[str] = set()
    read: set[str] = set()
    for node in own_nodes(func):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                read.add(node.id)
            else:
                binds[node.id] = binds.get(node.id, 0) + 1
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            changed.add(node.target.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            changed.add(node.value.id)  # xs.append(v), xs.sort(): not a start left alone
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and not isinstance(node.ctx, ast.Load):
            changed.add(node.value.id)
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            update = _start(node.value)
            if update is not None:
                starts[node.targets[0].id] = (update, node.lineno)
    params = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
    return {name: start for name, start in starts.items()
            if binds.get(name) == 1 and name not in changed and name in read and name not in params}


def _loops(func: ast.FunctionDef, func_path: tuple) -> Iterator[tuple[ast.AST, tuple, list, tuple[str, ...]]]:
    """``(loop, path of its body, body, loop variables)`` for every ``for``/``while`` of ``func``
    outside nested functions and classes, in pre-order."""
    nested = [path for path, node in iter_nodes(func, func_path) if path != func_path and isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
    for path, node in iter_nodes(func, func_path):
        if isinstance(node, (ast.For, ast.While)) and not any(path[:len(n)] == n for n in nested):
            names = () if isinstance(node, ast.While) else tuple(
                n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
            yield node, path + ("body",), node.body, names


def _values(loop: ast.AST, names: tuple[str, ...], skip: str) -> list[tuple[str, float]]:
    """Values a pass of ``loop`` computes, with a weight: names assigned in its body (1.0), its
    variables (0.8) and items ``xs[i]`` it reads at a plain name (0.5); never ``skip``."""
    found: dict[str, float] = {}
    for stmt in loop.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id != skip:
                        found.setdefault(target.id, 1.0)
    for name in names:
        if name != skip:
            found.setdefault(name, 0.8)
    for stmt in loop.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name) \
                    and isinstance(node.slice, ast.Name) and skip not in (node.value.id, node.slice.id):
                found.setdefault(ast.unparse(node), 0.5)
    return sorted(found.items(), key=lambda kv: -kv[1])[:MAX_VALUES]


def accumulation_alternatives(func_path: tuple, func: ast.FunctionDef) -> Iterator[tuple]:
    """The forgotten update of each :func:`accumulators` name, at the end of every loop that
    follows its start: ``acc += v`` (or ``acc *= v``, ``acc.append(v)``) for the values of
    :func:`_values`. Site: ``("accumulate", loop body path, name)``; family
    ``insert_statement``."""
    found = accumulators(func)
    if not found:
        return
    for loop, body_path, body, names in _loops(func, func_path):
        for name, (update, line) in found.items():
            if loop.lineno <= line:
                continue
            for value, weight in _values(loop, names, name):
                text = f"{name}.append({value})" if update == "append" else f"{name} {update} {value}"
                yield ("insert_statement", ("accumulate", body_path, name), body_path, f"insert:{len(body)}",
                       ast.parse(text).body[0], weight)


def _changed_in(block: list[ast.stmt]) -> set[str]:
    """Names the statements of ``block`` bind, update, or call a method of (``stack.pop()``)."""
    found = set()
    for stmt in block:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                found.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                found.add(node.value.id)
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and not isinstance(node.ctx, ast.Load):
                found.add(node.value.id)
    return found


def _steps(test: ast.expr, name: str, divisors: tuple[int, ...] = ()) -> list[tuple[str, float]]:
    """Steps of ``name`` toward ending a loop on ``test``: ``+= 1`` when ``name`` must grow past a
    bound (``i < n``), ``-= 1`` when it must fall (``i >= 0``), and ``//= 10`` or ``//= 2`` when it
    runs down to zero (``while n > 0``, ``while n``), first ``//= k`` for the ``divisors`` ``k``
    the loop's body divides ``name`` by (``n % 10``); likeliest first."""
    grow = fall = digits = 0.0
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right, op = node.left, node.comparators[0], node.ops[0]
            if isinstance(right, ast.Name) and right.id == name:  # 0 < n reads as n > 0
                left, right = right, left
                op = {ast.Lt: ast.Gt(), ast.Gt: ast.Lt(), ast.LtE: ast.GtE(), ast.GtE: ast.LtE()}.get(type(op), op)
            if not (isinstance(left, ast.Name) and left.id == name):
                continue
            zero = isinstance(right, ast.Constant) and right.value == 0
            if isinstance(op, (ast.Lt, ast.LtE)):
                grow = 2.0
            elif isinstance(op, (ast.Gt, ast.GtE)):
                fall, digits = 2.0, (1.0 if zero and isinstance(op, ast.Gt) else 0.0)
            elif isinstance(op, ast.NotEq):
                grow, fall, digits = 1.0, 1.0, (1.0 if zero else 0.0)
        elif isinstance(node, ast.Name) and node.id == name and node is test:
            fall, digits = 1.0, 1.0  # while n:
    steps = {f"{name} += 1": grow, f"{name} -= 1": fall, f"{name} //= 10": digits, f"{name} //= 2": digits / 2}
    if digits:  # the body takes name % k or name // k: it walks the digits of name in base k
        for k in divisors:
            steps[f"{name} //= {k}"] = 3.0
    return [(text, weight) for text, weight in sorted(steps.items(), key=lambda kv: -kv[1]) if weight > 0]


def loop_step_alternatives(func_path: tuple, func: ast.FunctionDef) -> Iterator[tuple]:
    """The forgotten step of every ``while`` loop of ``func`` that cannot end: its condition reads
    a name its body never changes and the body has no ``break``, ``return`` or ``raise``; the
    steps of :func:`_steps`, at the end of the body. Site: ``("step", loop body path, name)``;
    family ``insert_statement``."""
    for loop, body_path, body, _names in _loops(func, func_path):
        if not isinstance(loop, ast.While) or any(
                isinstance(n, (ast.Break, ast.Return, ast.Raise)) for stmt in body for n in ast.walk(stmt)):
            continue
        changed = _changed_in(loop.body)
        tested = dict.fromkeys(n.id for n in ast.walk(loop.test) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
        if changed & set(tested):
            continue  # the loop moves a variable of its condition
        for name in tested:
            divisors = tuple(dict.fromkeys(
                n.right.value for stmt in body for n in ast.walk(stmt)
                if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mod, ast.FloorDiv)) and isinstance(n.left, ast.Name)
                and n.left.id == name and isinstance(n.right, ast.Constant) and type(n.right.value) is int
                and n.right.value > 1))
            for text, weight in _steps(loop.test, name, divisors):
                yield ("insert_statement", ("step", body_path, name), body_path, f"insert:{len(body)}",
                       ast.parse(text).body[0], weight)


def _branches(stmt: ast.If, path: tuple) -> Iterator[tuple[tuple, list]]:
    """``(path of the block, block)`` of every branch of the ``if``/``elif``/``else`` chain
    ``stmt`` at ``path``, the last ``else`` included (an empty list where it is missing)."""
    while True:
        yield path + ("body",), stmt.body
        if len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If):
            stmt, path = stmt.orelse[0], path + ("orelse", 0)
            continue
        yield path + ("orelse",), stmt.orelse
        return


def _moves(block: list, tested: set[str]) -> bool:
    """Whether ``block`` changes a name of ``tested`` (a binding, an augmented assignment, a
    method call or an item assignment on it)."""
    return bool(_changed_in(block) & tested)


def _leaves(block: list) -> bool:
    """Whether ``block`` holds a ``break``, ``return`` or ``raise`` (at any depth)."""
    return any(isinstance(n, (ast.Break, ast.Return, ast.Raise)) for stmt in block for n in ast.walk(stmt))


def _step_statements(block: list, tested: set[str]) -> list[ast.stmt]:
    """The statements of ``block`` (its own, not nested ones) that assign or update a name of
    ``tested``."""
    found = []
    for stmt in block:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AugAssign) else []
        if len(targets) == 1 and isinstance(targets[0], ast.Name) and targets[0].id in tested:
            found.append(stmt)
    return found


#: Weight of a step added to a branch that stalls its loop (moving a step out of the ``if``: the same).
BRANCH_STEP_WEIGHT = 2.0


def branch_step_alternatives(func_path: tuple, func: ast.FunctionDef) -> Iterator[tuple]:
    """The forgotten step of a branch that stalls its ``while`` loop: for an ``if`` chain in the
    loop's body where some branch changes a name the loop's condition reads, nothing else in
    the body does, and another branch changes none of them and has no ``break``, ``return`` or
    ``raise``: each sibling branch's step (``right = mid - 1``) at the end of the stalled branch
    (``insert``), or, when the stalled branch is a missing ``else`` and a branch ends in the
    step, the loop with that step moved out of the ``if`` to the end of its body (``replace``
    of the loop). Site: ``("branch_step", block path)``; family ``insert_statement``."""
    for loop, body_path, body, _names in _loops(func, func_path):
        if not isinstance(loop, ast.While):
            continue
        tested = {n.id for n in ast.walk(loop.test) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        for k, stmt in enumerate(body):
            if not isinstance(stmt, ast.If) or _moves(body[:k] + body[k + 1:], tested):
                continue
            branches = list(_branches(stmt, body_path + (k,)))
            movers = [(path, block) for path, block in branches if _moves(block, tested)]
            if not movers:
                continue
            steps = list({ast.dump(s): s for _p, block in movers for s in _step_statements(block, tested)}.values())
            for block_path, block in branches:
                if _moves(block, tested) or _leaves(block):
                    continue
                mover_path, mover = movers[0]
                if not block and len(movers) == 1 and len(mover) > 1 and _step_statements(mover[-1:], tested):
                    moved = copy.deepcopy(loop)  # the step out of the ``if``: the loop moves on every pass
                    holder = moved
                    for step in mover_path[len(body_path) - 1:]:
                        holder = holder[step] if isinstance(step, int) else getattr(holder, step)
                    moved.body.append(holder.pop())
                    yield ("insert_statement", ("branch_step", block_path), body_path[:-1], "replace", moved,
                           BRANCH_STEP_WEIGHT)
                    continue
                for step in steps:
                    yield ("insert_statement", ("branch_step", block_path), block_path, f"insert:{len(block)}",
                           copy.deepcopy(step), BRANCH_STEP_WEIGHT)
