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
import keyword
import math
import re
from collections import Counter

#: Feature names, in the model's column order.
FEATURES = (
    "family", "op", "node", "root_error",  # categorical
    "prior", "log_prior", "rank", "rank_frac", "depth", "suspiciousness", "line_rank",
    "parent_gain", "parent_close", "old_size", "new_size", "size_delta", "test_constant",
    "family_share", "statement", "removes", "tests", "lm_old", "lm_new", "lm_delta", "lm_total_delta",
    "cache_old", "cache_new", "cache_delta", "cache_total_delta", "reads_unread", "unreads",
)
#: Naturalness features (:func:`naturalness_features`): cross-entropy of the edited line before
#: and after the edit (bits per token), their difference, and the change of the line's total bits,
#: under the corpus n-gram model (``lm_*``) and under a cache model of the program itself (``cache_*``).
NATURALNESS = ("lm_old", "lm_new", "lm_delta", "lm_total_delta",
               "cache_old", "cache_new", "cache_delta", "cache_total_delta")
#: Features that are names (encoded by the model's vocabulary; an unknown name is code 0).
CATEGORICAL = ("family", "op", "node", "root_error")

_TOKEN = re.compile(r"\w+|[^\w\s]")
_NAME = re.compile(r"[A-Za-z_]\w*")


def name_reads(tree: ast.AST) -> tuple[Counter, set[str]]:
    """``(reads, unread)``: how often each name is read in ``tree``, and the names it binds (a
    parameter, an assignment or loop target) and never reads."""
    reads: Counter = Counter()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                reads[node.id] += 1
            else:
                bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return reads, {name for name in bound if name not in reads and name not in ("self", "cls", "_")}


def _names(text: str) -> Counter:
    return Counter(t for t in _NAME.findall(text) if not keyword.iskeyword(t))


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
                      tests: int = 0, source: str | None = None, lm=None) -> list[dict]:
    """Features of each proposal of one state, in order (``cands``: :class:`Candidate` s sorted
    by score, best first; ``tree``: the state's program; ``lines``: its line suspiciousness;
    ``failing_constants``: literals of the failing tests; ``depth``: the state's edits from the
    buggy program; ``parent_gain`` / ``parent_close``: its progress over the buggy program, in
    tests and in closeness; ``root_error``: the buggy program's first failure's error type;
    ``tests``: how many tests the search sees; ``source``: the state's text, which ``tree``'s
    positions refer to, and ``lm``: a :class:`~kelp.models.naturalness.NgramLM`, for the
    :data:`NATURALNESS` features, which are missing (NaN) without them).
    One dict per candidate, keyed by :data:`FEATURES`; names for :data:`CATEGORICAL`, numbers
    otherwise. Sizes are in tokens (:func:`token_count`). ``reads_unread``: the new code reads
    a name the program binds and never reads (a person rarely takes a parameter to ignore it);
    ``unreads``: the edit removes every read of a name (:func:`name_reads`)."""
    from kelp.program.spans import line_at

    order = sorted(set(lines.values()), reverse=True)
    dense = {score: i for i, score in enumerate(order)}
    program_constants = None
    wanted = {(type(v).__name__, v) for v in failing_constants if isinstance(v, (int, float, str))}
    families: dict[str, int] = {}
    for cand in cands:
        families[cand.family] = families.get(cand.family, 0) + 1
    out = []
    patched = []
    n = max(len(cands), 1)
    reads, unread = name_reads(tree)
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
        if lm is not None and source is not None:
            patched.append((line, edit, node, old_text, statement))
        new_names = _names(new) if edit.op != "delete" else Counter()
        old_names = _names(old_text) if old_text else Counter()
        out.append({
            "reads_unread": int(any(name in unread for name in new_names)),
            "unreads": int(any(reads.get(name, 0) == k and name not in new_names for name, k in old_names.items())),
            "family": cand.family, "op": edit.op, "node": kind, "root_error": root_error or "",
            "prior": cand.score, "log_prior": math.log(max(cand.score, 1e-12)), "rank": rank,
            "rank_frac": rank / n, "depth": depth, "suspiciousness": score,
            "line_rank": dense.get(score, len(order)) if line is not None else len(order),
            "parent_gain": parent_gain, "parent_close": parent_close, "old_size": old_size,
            "new_size": new_size, "size_delta": new_size - old_size, "test_constant": test_constant,
            "family_share": families[cand.family] / n, "statement": statement,
            "removes": int(edit.op == "delete" or (old_size > 0 and new_size < old_size)), "tests": tests,
        })
    if patched:
        for row, extra in zip(out, naturalness_features(lm, source, patched)):
            row.update(extra)
    return out


def _find(seq: list, part: list) -> int | None:
    k = len(part)
    for i in range(len(seq) - k + 1):
        if seq[i:i + k] == part:
            return i
    return None


def naturalness_features(lm, source: str, patched: list[tuple]) -> list[dict]:
    """The :data:`NATURALNESS` features of edits of one program (Ray et al. 2016, "On the
    'naturalness' of buggy code": a fix tends to make its line more natural). ``lm``: an
    :class:`~kelp.models.naturalness.NgramLM`; ``source``: the program's text; ``patched``: per
    edit ``(line, edit, node, old_text, statement)`` (its line in ``source`` or None, the
    :class:`~kelp.program.diff.Edit`, the node it replaces, that node's text, whether it is a
    statement). The edited line's tokens before and after are the line with the old node's tokens
    replaced by the new code's (a removed operand takes its ``and``/``or``/comma with it); when
    the node is not found on its line (it spans lines, or is new code), the old and new code
    alone. Both sides are scored by ``lm`` (``lm_*``) and by a cache model of the program's other
    lines (``cache_*``, :class:`~kelp.models.naturalness.CacheLM`; Tu et al. 2014, "On the
    localness of software"). Entropies are in bits per token; an empty side (inserted or deleted
    code) has NaN entropy (``None``) and 0 total bits. One dict per edit; the corpus model scores
    all of them in one vectorised pass."""
    from kelp.models.naturalness import STR, CacheLM, code_tokens, token_ids
    from kelp.program.tree import OPERATOR_SYMBOLS

    text_lines = source.split("\n")
    rows: dict[int, list[tuple[str, str]]] = {}
    joiners = {("name", "and"), ("name", "or"), ("op", ",")}
    seqs: list[list[tuple[str, str]]] = []  # (kind, text) tokens, old and new side of each edit

    def tokens(text: str) -> list[tuple[str, str]]:  # every string literal alike, however quoted
        return [(kind, STR if kind == "str" else tok) for kind, tok in code_tokens(text)]

    where: list[int | None] = []  # the line each pair is scored without, in the cache
    for line, edit, node, old_text, statement in patched:
        if not old_text and node is not None:
            old_text = OPERATOR_SYMBOLS.get(type(node), "")
        new = tokens(edit.new) if edit.op != "delete" and edit.new else []
        if edit.op == "insert":
            seqs += [[], new]
            where.append(None)
            continue
        old = tokens(old_text)
        row = None
        if line is not None and 1 <= line <= len(text_lines):
            if line not in rows:
                rows[line] = tokens(text_lines[line - 1])
            row = rows[line]
        at = _find(row, old) if row is not None and old else None
        if at is None:
            seqs += [old, new]
            where.append(line)
            continue
        before, after = row[:at], row[at + len(old):]
        if edit.op == "delete":
            if statement:
                before, after = [], []
            elif before and before[-1] in joiners:
                before = before[:-1]
            elif after and after[0] in joiners:
                after = after[1:]
        seqs += [row, before + new + after if (before or new or after) else []]
        where.append(line)
    logps = lm.log2probs([token_ids(seq, lm.ids) for seq in seqs])
    cache = CacheLM(text_lines)
    out = []
    for k, i in enumerate(range(0, len(seqs), 2)):
        feats = _entropies("lm", seqs[i], seqs[i + 1], logps[i], logps[i + 1])
        cached = [cache.log2probs([tok for _kind, tok in seq], exclude=where[k]) if seq else None
                  for seq in seqs[i:i + 2]]
        feats.update(_entropies("cache", seqs[i], seqs[i + 1], *cached))
        out.append(feats)
    return out


def _entropies(prefix: str, old_seq: list, new_seq: list, old_lp, new_lp) -> dict:
    """``{prefix}_old``, ``_new`` (bits per token, None for an empty side), ``_delta`` and
    ``_total_delta`` (bits) of one edit's two sides."""
    old_bits = float(-old_lp.sum()) if old_seq else 0.0
    new_bits = float(-new_lp.sum()) if new_seq else 0.0
    h_old = old_bits / len(old_lp) if old_seq else None
    h_new = new_bits / len(new_lp) if new_seq else None
    return {f"{prefix}_old": h_old, f"{prefix}_new": h_new,
            f"{prefix}_delta": h_new - h_old if h_old is not None and h_new is not None else None,
            f"{prefix}_total_delta": new_bits - old_bits}


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


def promoted_first(cands: list, rows: list, sites: list[tuple] = ()) -> tuple[list, list]:
    """``cands`` (best first) with the synthesised ones (fitted to what the tests showed) moved
    to the front, then those that edit at or inside one of ``sites`` (paths of the program's
    suspicious code, :func:`~kelp.repair.antipatterns.suspicious_paths`: code no person writes
    is the likeliest place of the bug; an edit of the operator alone does not count, as it keeps
    the operands equal), each group in its order; the k-th proposal takes the k-th score, as in
    :func:`reorder`. ``rows`` (the features of the first ``len(rows)``) are moved with their
    proposals (None where a proposal had none)."""
    from dataclasses import replace

    def group(c) -> int:
        if c.synthesised:
            return 0
        path = tuple(c.edit.path)
        for site in sites:
            rest = path[len(site):]
            if path[: len(site)] == site and not (rest and rest[0] in ("op", "ops")):
                return 1
        return 2

    order = sorted(range(len(cands)), key=lambda i: group(cands[i]))
    if order == list(range(len(cands))):
        return cands, rows
    moved = [replace(cands[i], score=cands[slot].score) for slot, i in enumerate(order)]
    return moved, [rows[i] if i < len(rows) else None for i in order] if rows else rows
