"""The edit model as a proposer in the repair search.

For a program state it renders the edit format (with the tests' feedback and the suspiciousness
of each line), decodes the ``beams`` most likely edits with beam search under
:class:`~kelp.models.constraints.EditConstraint` (KV-cached ``generate``), drops edits that do not
parse or apply, and scores each by its probability under the model.
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from pathlib import Path

import torch

from kelp.models.constraints import EditConstraint
from kelp.models.decoding import beam_search
from kelp.models.edit_format import (
    EditFormatError,
    build_prompt,
    decode_edit,
    render_program,
)
from kelp.models.edit_model import bf16_autocast, load_checkpoint
from kelp.models.tokenizer import special_id
from kelp.program.diff import EditError
from kelp.program.tree import unparse
from kelp.repair.proposer import Candidate, Feedback

#: Longest replacement decoded, in tokens.
MAX_EDIT_TOKENS = 64


class ModelProposer:
    """Proposes the edit model's best edits (see module doc). ``use_feedback=False`` leaves
    the tests, their messages and the suspiciousness out of the prompt (Kelp's blind setting);
    ``use_intent=False`` leaves out the task text; ``constrained=False`` decodes without
    :class:`EditConstraint` (for the ablation). ``stats`` counts decoded sequences
    (``generated``) and those that are edits of the program whose result parses (``valid``);
    only valid ones are proposed."""

    name = "model"

    def __init__(self, checkpoint: Path, beams: int = 16, use_feedback: bool = True, use_intent: bool = True,
                 constrained: bool = True):
        self.model, self.tokenizer, _ = load_checkpoint(Path(checkpoint))
        self.beams, self.use_feedback, self.use_intent = beams, use_feedback, use_intent
        self.constrained = constrained
        self.context = self.model.config.max_position_embeddings
        self.stats: Counter = Counter()

    def prompt_for(self, tree: ast.Module, feedback: Feedback):
        """``(rendered program, prompt text)`` for a state."""
        source = unparse(tree)
        susp = _normalised_lines(tree, source, feedback.lines) if self.use_feedback and feedback.lines else None
        rendered = render_program(source, susp)
        tests, messages = [], []
        if self.use_feedback:
            tests = list(feedback.test_sources)
            if feedback.run is not None:
                messages = [f"{o.status}: {o.message or o.error_type or ''}"[:160]
                            for o in feedback.run.outcomes if o.status not in ("pass", "not_run")]
        prompt = build_prompt(rendered, feedback.intent if self.use_intent else "", [t[:160] for t in tests], messages)
        return rendered, prompt

    def prompt_ids(self, rendered, prompt: str, feedback: Feedback) -> list[int] | None:
        """Token ids of ``prompt``; when it leaves no room for an edit, the prompt without tests
        and messages; ``None`` when even the program alone is too long."""
        ids = self.tokenizer.encode(prompt).ids
        if len(ids) + MAX_EDIT_TOKENS > self.context:  # keep the program: drop tests and messages
            ids = self.tokenizer.encode(build_prompt(rendered, feedback.intent if self.use_intent else "")).ids
            if len(ids) + MAX_EDIT_TOKENS > self.context:
                return None
        return ids

    @torch.no_grad()
    def decode_beams(self, rendered, ids: list[int], beams: int | None = None) -> list[Candidate]:
        """The model's ``beams`` most likely constrained edits for the prompt ``ids`` that parse
        and apply, one per resulting program, best first; scores are their probabilities
        renormalised over the ones kept."""
        beams = beams or self.beams
        constraint = EditConstraint(self.tokenizer, rendered, len(ids)) if self.constrained else None
        ends = [special_id(self.tokenizer, "<end>"), special_id(self.tokenizer, "<eos>")]
        with bf16_autocast():
            decoded = beam_search(self.model, ids, beams, MAX_EDIT_TOKENS, ends, constraint)
        found: dict[str, tuple[float, object]] = {}
        for tokens, score in decoded:
            text = self.tokenizer.decode(tokens, skip_special_tokens=False).split("<eos>")[0]
            self.stats["generated"] += 1
            try:
                edit = decode_edit(text, rendered)
            except (EditFormatError, EditError, ValueError):
                continue
            self.stats["valid"] += 1
            key = unparse(edit.apply(rendered.tree))
            if key not in found:
                found[key] = (math.exp(score), edit)
        total = sum(p for p, _ in found.values()) or 1.0
        cands = [Candidate(edit, p / total, "model") for p, edit in found.values()]
        cands.sort(key=lambda c: -c.score)
        return cands

    def propose(self, tree: ast.Module, feedback: Feedback, k: int | None = None) -> list[Candidate]:
        """Up to ``min(k, beams)`` candidates, best first (:meth:`decode_beams`)."""
        try:
            rendered, prompt = self.prompt_for(tree, feedback)
        except (EditFormatError, SyntaxError):
            return []
        ids = self.prompt_ids(rendered, prompt, feedback)
        if ids is None:
            return []
        return self.decode_beams(rendered, ids, min(self.beams, k or self.beams))


def _normalised_lines(tree: ast.Module, source: str, lines: dict[int, float]) -> dict[int, float]:
    """Map line suspiciousness of ``tree`` (the lines of the program as first parsed, kept by
    the search on edited nodes) onto the lines of ``source`` (its normalised unparse): the two
    trees have the same shape, so statements correspond in walk order."""
    out: dict[int, float] = {}
    new_tree = ast.parse(source)
    for old, new in zip(ast.walk(tree), ast.walk(new_tree)):
        if isinstance(old, ast.stmt) and isinstance(new, ast.stmt):
            score = lines.get(getattr(old, "lineno", -1), 0.0)
            if score > out.get(new.lineno, 0.0):
                out[new.lineno] = score
    return out
