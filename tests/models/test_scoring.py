"""Teacher-forced edit scoring with a shared prompt cache equals scoring each full sequence."""

import pytest
import torch

from kelp.models.edit_format import build_prompt, render_program
from kelp.models.scoring import edit_log_probs
from kelp.models.tokenizer import special_id

PROGRAM = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x * 2\n    return total\n"
EDITS = ["<n4><replace>total - x<end>", "<n1><delete><end>", "<n2><replace>1<end>",
         "<n3><after>print(total, [x for x in xs if x > 0])<end>", "<n7><replace>x<end>"]


def _full_sequence(model, tokenizer, prompt_ids, text):
    ids = tokenizer.encode(text).ids + [special_id(tokenizer, "<eos>")]
    with torch.no_grad():
        logp = model(torch.tensor([prompt_ids + ids])).logits[0].log_softmax(-1)
    return sum(logp[len(prompt_ids) - 1 + i, t].item() for i, t in enumerate(ids))


@pytest.mark.parametrize("chunk", [1, 2, 32])
def test_cached_scores_equal_full_sequence_scores(tiny_checkpoint, chunk):
    _, model, tokenizer = tiny_checkpoint
    prompt_ids = tokenizer.encode(build_prompt(render_program(PROGRAM), "double and add")).ids
    fast = edit_log_probs(model, tokenizer, prompt_ids, EDITS, chunk=chunk)
    slow = [_full_sequence(model, tokenizer, prompt_ids, text) for text in EDITS]
    assert fast == pytest.approx(slow, abs=1e-4)
    assert edit_log_probs(model, tokenizer, prompt_ids, []) == []


def test_an_edit_past_the_context_is_unscored_and_a_full_prompt_is_a_clear_error(tiny_checkpoint):
    _, model, tokenizer = tiny_checkpoint
    prompt_ids = tokenizer.encode(build_prompt(render_program(PROGRAM))).ids
    too_long = "<n4><replace>" + " + ".join(["x"] * 2000) + "<end>"
    scores = edit_log_probs(model, tokenizer, prompt_ids, [EDITS[0], too_long])
    assert scores[0] == pytest.approx(_full_sequence(model, tokenizer, prompt_ids, EDITS[0]), abs=1e-4)
    assert scores[1] is None
    with pytest.raises(ValueError, match="fills the context"):
        edit_log_probs(model, tokenizer, [5] * model.config.max_position_embeddings, EDITS)
