"""``--proposer both``: the enumerator's candidates reranked by the edit model, plus the model's own.

The enumerator covers single-node inverse edits with localization-based weights ``p_enum``; the
edit model reads the task, the tests and their feedback and gives every candidate a
teacher-forced probability ``p_model`` (:func:`~kelp.models.scoring.edit_log_probs`), normalised
over the candidate set, including edits it wrote itself with beam search that the enumerator
cannot express. The default combination is a mixture,

    score(c) = (1 - weight) * p_enum(c) + weight * p_model(c),

which lets a weak model add its confident edits without reordering the enumerator's list; the
alternative is a product of experts (Hinton 2002), ``p_enum'(c) ** (1 - weight) *
p_model(c) ** weight`` with ``p_enum' = (1 - floor) * p_enum + floor / N`` so that model-only
edits (``p_enum = 0``) stay in the ranking. The model scores the enumerator's best ``RERANK``
candidates; the rest get the lowest model score it gave.
"""

from __future__ import annotations

import ast
import math

from kelp.models.edit_format import EditFormatError, encode_edit
from kelp.models.edit_model import bf16_autocast
from kelp.models.scoring import edit_log_probs
from kelp.program.diff import EditError
from kelp.repair.proposer import Candidate, Feedback

#: Default ``weight``, chosen on MBPP validation tasks (see the README): the model is weak yet,
#: so it adds its confident edits to the enumerator's list rather than reordering it.
DEFAULT_WEIGHT = 0.1
#: Share of the enumerator's probability spread evenly over all candidates.
ENUM_FLOOR = 0.1
#: The enumerator's candidates the model scores (the rest are ranked as if the model gave them
#: its lowest score among those it scored).
RERANK = 128


class GuidedProposer:
    """Enumerator + edit model (see module doc). ``weight`` in [0, 1]: 0 is the enumerator's
    order, 1 the model's; ``mixture=False`` combines as the product of experts. At the root
    (``k is None``) the model also proposes its ``model.beams`` best edits; below it, the
    enumerator's best ``k`` are reranked. Raises :class:`ValueError` for a weight outside [0, 1]."""

    name = "both"

    def __init__(self, enumerator, model, weight: float = DEFAULT_WEIGHT, mixture: bool = True):
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self.enumerator, self.model, self.weight = enumerator, model, weight
        self.mixture = mixture

    def propose(self, tree: ast.Module, feedback: Feedback, k: int | None = None) -> list[Candidate]:
        """Candidates best first, scores summing to 1."""
        cands = self.enumerator.propose(tree, feedback, k)
        try:
            rendered, prompt = self.model.prompt_for(tree, feedback)
        except (EditFormatError, SyntaxError):
            return cands
        ids = self.model.prompt_ids(rendered, prompt, feedback)
        if ids is None:
            return cands
        own = self.model.decode_beams(rendered, ids) if k is None else []
        texts: dict[str, int] = {}  # edit text -> index in pool, for the candidates the model scores
        pool: list[tuple[Candidate, float]] = []  # (candidate, p_enum)
        for cand in cands:
            text = _encoded(cand.edit, rendered) if len(texts) < RERANK else None
            if text in texts:  # the same edit written another way
                continue
            if text is not None:
                texts[text] = len(pool)
            pool.append((cand, cand.score))
        for cand in own:
            text = encode_edit(cand.edit, rendered)
            if text not in texts:
                texts[text] = len(pool)
                pool.append((cand, 0.0))
        if not texts:
            return cands
        with bf16_autocast():  # prompt_ids leaves room for an edit, so this does not raise
            logps = edit_log_probs(self.model.model, self.model.tokenizer, ids, list(texts))
        scored = [logp for logp in logps if logp is not None]
        if not scored:
            return cands
        model_logp = [min(scored)] * len(pool)  # unscored candidates: the model's lowest score
        for index, logp in zip(texts.values(), logps):
            if logp is not None:
                model_logp[index] = logp
        top = max(model_logp)
        norm = math.log(sum(math.exp(v - top) for v in model_logp)) + top
        n = len(pool)
        out = []
        for (cand, p_enum), logp in zip(pool, model_logp):
            if self.mixture:
                out.append((cand, math.log((1 - self.weight) * p_enum + self.weight * math.exp(logp - norm) + 1e-300)))
            else:
                enum_part = math.log((1 - ENUM_FLOOR) * p_enum + ENUM_FLOOR / n)
                out.append((cand, (1 - self.weight) * enum_part + self.weight * (logp - norm)))
        top = max(score for _, score in out)
        total = sum(math.exp(score - top) for _, score in out)
        result = [Candidate(cand.edit, math.exp(score - top) / total, cand.family if p_enum else "model",
                            doomed=cand.doomed)
                  for (cand, score), (_, p_enum) in zip(out, pool)]
        result.sort(key=lambda c: -c.score)
        return result[:k] if k is not None else result


def _encoded(edit, rendered) -> str | None:
    """The edit-format text of ``edit``, or ``None`` when the format cannot express it."""
    try:
        return encode_edit(edit, rendered)
    except (EditFormatError, EditError, KeyError):
        return None
