"""Teacher-forced log-probabilities of given edits under the edit model.

Used to rank edits that another proposer wrote (the enumerator's candidates): the prompt is run
once and its KV cache is shared by every candidate, so scoring N edits of T tokens costs about
N*T tokens of compute, not N*(prompt + T). This is the learned-naturalness reranking of
candidate patches (Prophet, Long & Rinard 2016, ranked patches with a learned model of
correct code; here the model also reads the tests and their feedback).
"""

from __future__ import annotations

import copy

import torch

from kelp.models.decoding import cache_keyword, cache_of
from kelp.models.tokenizer import special_id

#: Candidates scored per forward pass.
CHUNK = 32  # larger chunks spend more on copying the prompt's cache than they save


@torch.no_grad()
def edit_log_probs(model, tokenizer, prompt_ids: list[int], edits: list[str],
                   chunk: int = CHUNK) -> list[float | None]:
    """``log P(edit text + <eos> | prompt)`` in nats for each of ``edits`` (edit-format text such
    as ``"<n7><replace>x - 1<end>"``), in input order.

    ``prompt_ids``: the tokenized prompt (ending with ``<edit>``). An edit that does not fit the
    model's context after the prompt gets ``None``; a prompt that leaves no room at all raises
    :class:`ValueError`."""
    room = model.config.max_position_embeddings - len(prompt_ids)
    if room < 2:
        raise ValueError(f"the prompt ({len(prompt_ids)} tokens) fills the context of {model.config.max_position_embeddings}")
    eos = special_id(tokenizer, "<eos>")
    encoded = [tokenizer.encode(text).ids + [eos] for text in edits]
    fits = [i for i, ids in enumerate(encoded) if len(ids) <= room]
    result: list[float | None] = [None] * len(edits)
    if not fits:
        return result
    encoded = [encoded[i] for i in fits]
    prompt = torch.tensor([prompt_ids])
    out = model(prompt, use_cache=True)
    first = out.logits[0, -1].float().log_softmax(-1)
    cache, keyword = cache_of(out), cache_keyword(model)
    scores: list[float] = []
    for start in range(0, len(encoded), chunk):
        rows = encoded[start:start + chunk]
        width = max(len(ids) for ids in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, :len(row)] = torch.tensor(row)
            mask[r, :len(row)] = 1
        shared = copy.deepcopy(cache)
        shared.batch_repeat_interleave(len(rows))
        positions = torch.arange(len(prompt_ids), len(prompt_ids) + width).expand(len(rows), -1)
        logits = model(ids, attention_mask=torch.cat([torch.ones(len(rows), len(prompt_ids), dtype=torch.long), mask], 1),
                       **{keyword: shared}, position_ids=positions, use_cache=False).logits.float()
        logp = logits.log_softmax(-1)
        token = torch.zeros(len(rows), width)
        token[:, 0] = first[ids[:, 0]]
        if width > 1:
            token[:, 1:] = logp[:, :-1].gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        scores.extend((token * mask).sum(1).tolist())
    for i, score in zip(fits, scores):
        result[i] = score
    return result


__all__ = ["edit_log_probs"]
