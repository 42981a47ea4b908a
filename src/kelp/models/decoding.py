"""Constrained beam search over a causal LM with the prompt encoded once.

``transformers``' ``generate`` copies the prompt to every beam before its first forward pass, so
beam search with B beams spends B times the prompt's compute; for the edit model's prompts
(hundreds of tokens of tests, feedback and program) against replacements of a few tokens that
copy is most of the cost. Here the prompt is run once and its KV cache is expanded to the beams
afterwards (``DynamicCache.reorder_cache``), which is the same search for a fraction of the work.
"""

from __future__ import annotations

import inspect

import torch


def cache_of(output):
    """The KV cache a forward pass with ``use_cache=True`` returned (``output.cache`` in
    ``transformers`` >= 5.23, ``output.past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def cache_keyword(model) -> str:
    """The name under which ``model``'s forward takes a KV cache: ``cache`` where the forward
    takes it (``transformers`` >= 5.23, which warns on the old name at every call), else
    ``past_key_values``. Look it up once per decoding, not per step."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@torch.no_grad()
def beam_search(model, prompt_ids: list[int], beams: int, max_new_tokens: int, end_ids: list[int],
                logits_processor=None) -> list[tuple[list[int], float]]:
    """The ``beams`` most likely continuations of ``prompt_ids`` that end in one of ``end_ids``.

    Returns ``(tokens, log_prob)`` pairs, best first: ``tokens`` are the generated ids including
    the end token, ``log_prob`` their summed log-probability in nats (no length penalty).
    Continuations still open after ``max_new_tokens`` are dropped. ``logits_processor``: called as
    ``processor(input_ids, scores)`` with ``input_ids`` of shape (live beams, prompt + generated)
    and log-probabilities ``scores`` of shape (live beams, vocab); it returns them with disallowed
    tokens at ``-inf`` (a ``transformers`` ``LogitsProcessor`` fits). Stops as soon as ``beams``
    continuations have ended (``early_stopping=True`` in ``generate``).
    Raises ``ValueError`` when ``beams`` < 1 or the prompt is empty."""
    if beams < 1 or not prompt_ids:
        raise ValueError(f"beam_search needs beams >= 1 and a prompt (got beams={beams}, {len(prompt_ids)} prompt tokens)")
    prompt = torch.tensor([prompt_ids])
    out = model(prompt, use_cache=True)
    cache, keyword = cache_of(out), cache_keyword(model)
    logits = out.logits[:, -1].float()
    generated = torch.zeros(1, 0, dtype=torch.long)
    scores = torch.zeros(1)
    ends = set(end_ids)
    finished: list[tuple[list[int], float]] = []
    for _ in range(max_new_tokens):
        logp = logits.log_softmax(-1)
        if logits_processor is not None:
            logp = logits_processor(torch.cat([prompt.expand(len(scores), -1), generated], 1), logp)
        total = (scores[:, None] + logp).flatten()
        vocab = logp.shape[1]
        top = total.topk(min(2 * beams, total.numel()))
        rows, tokens, kept = [], [], []
        for value, index in zip(top.values.tolist(), top.indices.tolist()):
            if value == float("-inf") or len(rows) == beams:
                break
            row, token = divmod(index, vocab)
            if token in ends:
                if len(finished) < beams:
                    finished.append((generated[row].tolist() + [token], value))
            else:
                rows.append(row)
                tokens.append(token)
                kept.append(value)
        if len(finished) >= beams or not rows:
            break
        index = torch.tensor(rows)
        cache.reorder_cache(index)
        generated = torch.cat([generated[index], torch.tensor(tokens)[:, None]], 1)
        scores = torch.tensor(kept)
        logits = model(torch.tensor(tokens)[:, None], **{keyword: cache}, use_cache=True).logits[:, -1].float()
    finished.sort(key=lambda pair: -pair[1])
    return finished


__all__ = ["beam_search", "cache_keyword", "cache_of"]
