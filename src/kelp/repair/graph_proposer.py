"""``--proposer graph``: the graph denoiser as a proposer in the repair search.

For a program state the denoiser gives, for every token slot, a distribution over the tokens the
slot could originally have held (:class:`~kelp.models.graph_model.GraphDenoiser`, one forward
pass). Each alternative token becomes a single-node edit scored by its probability; when the
denoiser would change several slots at once, the combined edit (the smallest statement holding
them all, rewritten) is proposed too, scored by the product of its slots' probabilities. The
search runs and ranks these with the other proposers' candidates.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from kelp.corrupt.token_noise import apply_tokens, is_mask, token_nodes
from kelp.models.graph_features import program_graph
from kelp.models.graph_model import load_graph_checkpoint
from kelp.program.diff import Edit
from kelp.program.tree import node_at, node_source
from kelp.repair.proposer import Candidate, Feedback


class GraphProposer:
    """Proposes the graph denoiser's token replacements (see module doc); ``per_slot``
    alternatives at most for each slot, ``limit`` candidates at most in all."""

    name = "graph"

    def __init__(self, checkpoint: Path, per_slot: int = 3, limit: int = 64):
        self.model, self.vocab, _ = load_graph_checkpoint(Path(checkpoint))
        self.per_slot, self.limit = per_slot, limit

    @torch.no_grad()
    def propose(self, tree: ast.Module, feedback: Feedback, k: int | None = None) -> list[Candidate]:
        """Candidates best first; scores are the denoiser's probabilities (in (0, 1])."""
        slots = token_nodes(tree)
        if not slots:
            return []
        graph = program_graph(tree, self.vocab)
        scores = self.model(graph)
        probs = scores.probs().tolist()
        texts = graph.cand_text
        options: list[tuple[float, int, str]] = []
        best: dict[int, tuple[float, str]] = {}
        for p, s, c in zip(probs, scores.slot.tolist(), scores.cand.tolist()):
            text = texts[c]
            if c == 0 or text == slots[s].token or is_mask(slots[s].kind, text):
                continue
            options.append((p, s, text))
            if p > best.get(s, (0.5, ""))[0]:  # the denoiser's choice over keeping the token
                best[s] = (p, text)
        options.sort(key=lambda o: -o[0])
        taken: dict[int, int] = {}
        cands: list[Candidate] = []
        for p, s, text in options:
            if taken.get(s, 0) >= self.per_slot:
                continue
            edit = _edit(tree, slots, {s: text})
            if edit is not None:
                taken[s] = taken.get(s, 0) + 1
                cands.append(Candidate(edit, p, "graph"))
        if len(best) > 1:
            edit = _edit(tree, slots, {s: text for s, (_, text) in best.items()})
            if edit is not None:
                score = 1.0
                for p, _ in best.values():
                    score *= p
                cands.append(Candidate(edit, score, "graph"))
        cands.sort(key=lambda c: -c.score)
        return cands[: min(self.limit, k or self.limit)]


def _edit(tree: ast.Module, slots: list, changes: dict[int, str]) -> Edit | None:
    """The edit writing ``changes`` (slot index -> token) into ``tree``: the changed node itself
    for one expression or operator slot, else the smallest statement holding every change;
    None when the tokens cannot be written."""
    tokens = [changes.get(i, s.token) for i, s in enumerate(slots)]
    try:
        new_tree = apply_tokens(tree, slots, tokens)
    except ValueError:
        return None
    paths = [slots[i].path for i in changes]
    if len(paths) == 1 and slots[next(iter(changes))].kind != "arg":
        path = paths[0]
    else:
        path = _common_statement(tree, paths)
        if path is None:  # changes in several top-level statements: not one node edit
            return None
    try:
        return Edit("replace", path, new=node_source(node_at(new_tree, path)))
    except ValueError:
        return None


def _common_statement(tree: ast.Module, paths: list[tuple]) -> tuple | None:
    """Path of the smallest statement containing every path, or None (only the module does)."""
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    while prefix:
        if isinstance(prefix[-1], int) and isinstance(node_at(tree, prefix), ast.stmt):
            return prefix
        prefix = prefix[:-1]
    return None


__all__ = ["GraphProposer"]
