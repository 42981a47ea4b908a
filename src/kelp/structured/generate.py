"""Valid-by-construction sampling: a transformers ``LogitsProcessor`` over the schema automaton.

At every step each row's scores are masked to the tokens the automaton allows, so a sample can
only be a prefix of a schema-valid document. Near the row's length limit the allowed set is cut
further to tokens after which a shortest completion still fits
(:meth:`~kelp.structured.automaton.SchemaAutomaton.min_completion`); the token that starts a
shortest completion is always kept, so every row ends with ``<eos>`` as a complete valid
document within its limit. Sampling from a prefix starts the rows' automaton states from that
prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from kelp.structured.automaton import SchemaAutomaton
from kelp.structured.codec import CodecError, SchemaCodec
from kelp.structured.vocab import BOS, EOS, PAD

__all__ = ["SchemaLogitsProcessor", "Sample", "sample_documents"]


class SchemaLogitsProcessor(LogitsProcessor):
    """Mask each row's scores ``(batch, vocab)`` to the automaton's allowed tokens.

    Args:
        automaton: the schema automaton of the codec the model was trained on.
        states: each row's automaton state after its prompt (the prompt's own tokens).
        limits: each row's maximum number of new tokens (``<eos>`` included).
        margin: steering starts when a row's remaining budget is within ``margin`` tokens of its
            shortest completion.
        top_k: while steering, the highest-scoring allowed tokens checked for a completion that
            fits (plus the shortest completion's own first token).
    """

    def __init__(self, automaton: SchemaAutomaton, states: list[tuple], limits: list[int],
                 margin: int = 48, top_k: int = 48) -> None:
        self.automaton = automaton
        self.states = list(states)
        self.limits = list(limits)
        self.generated = [0] * len(states)
        self.margin = margin
        self.top_k = top_k
        self.started = False
        self._pad_only = np.zeros(automaton.vocab.size, dtype=bool)
        self._pad_only[PAD] = True

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        aut = self.automaton
        masks = []
        for row in range(scores.shape[0]):
            if self.started and self.states[row] is not None:
                token = int(input_ids[row, -1])
                self.generated[row] += 1
                if aut.is_done(self.states[row]) or token == PAD:
                    self.states[row] = None
                else:
                    nxt = aut.advance(self.states[row], token)
                    self.states[row] = nxt if nxt else None
            state = self.states[row]
            if state is None or aut.is_done(state):
                masks.append(self._pad_only)
                continue
            mask = aut.allowed(state)
            remaining = self.limits[row] - self.generated[row]
            cost, first = aut.min_completion(state)
            if remaining <= cost + self.margin:
                mask = self._steer(state, mask, scores[row], remaining, first)
            masks.append(mask)
        self.started = True
        allowed = torch.from_numpy(np.stack(masks))
        return scores.masked_fill(~allowed, float("-inf"))

    def _steer(self, state: tuple, mask: np.ndarray, scores: torch.Tensor, remaining: int, first: int) -> np.ndarray:
        aut = self.automaton
        candidates = np.flatnonzero(mask)
        if len(candidates) > self.top_k:
            top = torch.topk(scores[torch.from_numpy(candidates)], self.top_k).indices.numpy()
            candidates = candidates[top]
        keep = np.zeros_like(mask)
        if first >= 0:
            keep[first] = True
        for t in candidates:
            nxt = aut.advance(state, int(t))
            if nxt and aut.min_completion(nxt)[0] <= remaining - 1:
                keep[t] = True
        return keep


@dataclass
class Sample:
    """One generated document.

    ``ids``: prompt + new tokens up to ``<eos>``; ``doc``: the decoded document, or None if it
    did not complete; ``complete``: ``<eos>`` was generated after a complete document;
    ``new_tokens``: tokens generated; ``prompt_tokens``: tokens of the prompt (``<bos>`` included).
    """

    ids: list[int]
    doc: object
    complete: bool
    new_tokens: int
    prompt_tokens: int


def sample_documents(model, codec: SchemaCodec, n: int, *, prompts: list[list[int]] | None = None,
                     temperature: float = 1.0, seed: int = 0, batch_size: int = 32, max_len: int = 2048,
                     progress: bool = True) -> list[Sample]:
    """Sample ``n`` documents (from scratch, or continuing ``prompts[i % len(prompts)]``).

    Each row may use up to ``max_len`` positions in all (prompt included). Seeded: the same
    arguments give the same samples. Raises :class:`CodecError` for a prompt the automaton
    rejects or one with no room left.
    """
    from kelp.progress import progress_bar

    aut = codec.automaton
    torch.manual_seed(seed)
    out: list[Sample] = []
    with progress_bar(enabled=progress) as bar:
        task = bar.add_task("sampling", total=n)
        for start in range(0, n, batch_size):
            out += _sample_batch(model, codec, aut, list(range(start, min(n, start + batch_size))), prompts,
                                 temperature, max_len)
            bar.advance(task, min(n, start + batch_size) - start)
    return out


def _sample_batch(model, codec: SchemaCodec, aut, rows: list[int], prompts: list[list[int]] | None,
                  temperature: float, max_len: int) -> list[Sample]:
    """Sample one batch: row ``i`` continues ``prompts[i % len(prompts)]`` (``[BOS]`` without
    prompts) within ``max_len`` positions; raises CodecError for a rejected or too long prompt."""
    out: list[Sample] = []
    batch_prompts = [list(prompts[i % len(prompts)]) if prompts else [BOS] for i in rows]
    states, limits = [], []
    for p in batch_prompts:
        try:
            states.append(aut.walk(p[1:]))
        except ValueError as error:
            raise CodecError(f"the schema rejects the prompt: {error}") from None
        room = max_len - len(p)
        if room < aut.min_completion(states[-1])[0]:
            raise CodecError(f"a prompt of {len(p)} tokens leaves no room to finish within {max_len}")
        limits.append(room)
    width = max(map(len, batch_prompts))
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, p in enumerate(batch_prompts):  # left padding
        ids[i, width - len(p):] = torch.tensor(p)
        attention[i, width - len(p):] = 1
    processor = SchemaLogitsProcessor(aut, states, limits)
    with torch.no_grad():
        generated = model.generate(
            input_ids=ids, attention_mask=attention, do_sample=True, temperature=temperature, top_k=0,
            top_p=1.0, max_new_tokens=max(limits), logits_processor=LogitsProcessorList([processor]),
            eos_token_id=EOS, pad_token_id=PAD, cache_implementation="static",
        )
    for i, p in enumerate(batch_prompts):
        new = [int(t) for t in generated[i, width:]]
        if EOS in new:
            new = new[:new.index(EOS) + 1]
        else:
            new = [t for t in new if t != PAD]
        full = p + new
        complete = bool(new) and new[-1] == EOS
        doc = None
        if complete:
            try:
                doc = codec.decode(full)
            except CodecError:
                complete = False
        out.append(Sample(ids=full, doc=doc, complete=complete, new_tokens=len(new), prompt_tokens=len(p)))
    return out
