"""Ranking the search's proposals: the features of a proposed edit known before it runs, which
the learned ranker (:class:`kelp.models.ranker.Ranker`, trained with LightGBM's LambdaRank
objective by ``kelp train ranker``) scores, and the reordering of a state's proposals by score.

The idea is Prophet's (Long & Rinard 2016, "Automatic patch generation by learning correct
code"): learn from labelled patches which candidates of a generate-and-validate search are
correct, and try those first. Here the labels come from the search's own executions
(:mod:`kelp.train.search_data`), and the ranker orders the proposals of each state the search
expands. Anti-pattern features (deleting code, writing a test's expected constant into the
program) follow the analysis of plausible-but-wrong patches by Qi et al. 2015.
"""

from __future__ import annotations

import ast
import math
import re

#: Feature names, in the model's column order.
FEATURES = (
    "family", "op", "node", "root_error",  # categorical
    "prior", "log_prior", "rank", "rank_frac", "depth", "suspiciousness", "line_rank",
    "parent_gain", "parent_close", "old_size", "new_size", "size_delta", "test_constant",
    "family_share", "statement", "removes", "tests",
)
#: Features that are names (encoded by the model's vocabulary; an unknown name is code 0).
CATEGORICAL = ("family", "op", "node", "root_error")

_TOKEN = re.compile(r"\w+|[^\w\s]")


def token_count(text: str) -> int:
    """Number of lexical tokens (identifiers, numbers, single punctuation marks) in ``text``."""
    return len(_TOKEN.findall(text))


def _node_at(tree: ast.AST, path: tuple) -> object:
    node = tree
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node


def _constants(text: str) -> set:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return set()
    return {(type(n.value).__name__, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, (int, float, str)) and not isinstance(n.value, bool)}


def proposal_features(cands: list, tree: ast.Module, lines: dict[int, float], failing_constants: tuple,
                      depth: int, parent_gain: float, parent_close: float, root_error: str | None,
                      tests: int = 0) -> list[dict]:
    """Features of each proposal of one state, in order (``cands``: :class:`Candidate` s sorted
    by score, best first; ``tree``: the state's program; ``lines``: its line suspiciousness;
    ``failing_constants``: literals of the failing tests; ``depth``: the state's edits from the
    buggy program; ``parent_gain`` / ``parent_close``: its progress over the buggy program, in
    tests and in closeness; ``root_error``: the buggy program's first failure's error type;
    ``tests``: how many tests the search sees).
    One dict per candidate, keyed by :data:`FEATURES`; names for :data:`CATEGORICAL`, numbers
    otherwise. Sizes are in tokens (:func:`token_count`)."""
    from kelp.program.spans import line_at

    order = sorted(set(lines.values()), reverse=True)
    dense = {score: i for i, score in enumerate(order)}
    program_constants = None
    wanted = {(type(v).__name__, v) for v in failing_constants if isinstance(v, (int, float, str))}
    families: dict[str, int] = {}
    for cand in cands:
        families[cand.family] = families.get(cand.family, 0) + 1
    out = []
    n = max(len(cands), 1)
    for rank, cand in enumerate(cands):
        edit = cand.edit
        try:
            node = _node_at(tree, edit.path)
            line = line_at(tree, edit.path)
        except (IndexError, AttributeError, TypeError, KeyError):
            node, line = None, None
        old_text = ""
        if edit.op == "insert":
            kind, old_size, statement = "insert", 0, 1
        else:
            kind = type(node).__name__ if node is not None else "?"
            statement = int(isinstance(node, ast.stmt))
            try:
                old_text = ast.unparse(node) if isinstance(node, ast.AST) else ""
            except (AttributeError, ValueError, TypeError, RecursionError):
                old_text = ""
            old_size = token_count(old_text) if old_text else 1
        new = edit.new or ""
        new_size = token_count(new) if edit.op != "delete" else 0
        test_constant = 0
        if wanted and new and edit.op != "delete":
            if program_constants is None:
                program_constants = {(type(v).__name__, v) for v in _program_constants(tree)}
            test_constant = int(bool((_constants(new) & wanted) - program_constants))
        score = lines.get(line, 0.0) if line is not None else 0.0
        out.append({
            "family": cand.family, "op": edit.op, "node": kind, "root_error": root_error or "",
            "prior": cand.score, "log_prior": math.log(max(cand.score, 1e-12)), "rank": rank,
            "rank_frac": rank / n, "depth": depth, "suspiciousness": score,
            "line_rank": dense.get(score, len(order)) if line is not None else len(order),
            "parent_gain": parent_gain, "parent_close": parent_close, "old_size": old_size,
            "new_size": new_size, "size_delta": new_size - old_size, "test_constant": test_constant,
            "family_share": families[cand.family] / n, "statement": statement,
            "removes": int(edit.op == "delete" or (old_size > 0 and new_size < old_size)), "tests": tests,
        })
    return out


def _program_constants(tree: ast.Module) -> list:
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, (int, float, str)) and not isinstance(n.value, bool)]


def reorder(cands: list, scores: list[float]) -> tuple[list, list[int]]:
    """``cands`` (sorted by score, best first) with the first ``len(scores)`` put in the order of
    ``scores`` (higher first; ties keep their order) and given the scores of the original first
    ones in turn, so the ranker changes which proposal of a state goes first but not how the
    state's proposals compare with other states'. Beyond the scored ones nothing changes.
    Returns ``(new Candidates, order)``: ``order[k]`` is the index of the scored proposal that
    now stands at ``k``."""
    from dataclasses import replace

    head = cands[:len(scores)]
    order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
    return [replace(head[i], score=head[slot].score) for slot, i in enumerate(order)] + cands[len(scores):], order
