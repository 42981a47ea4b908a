"""Beam search with the prompt encoded once finds what ``generate``'s beam search finds."""

import pytest
import torch

from kelp.models.constraints import EditConstraint
from kelp.models.decoding import beam_search
from kelp.models.edit_format import build_prompt, render_program
from kelp.models.edit_model import load_checkpoint
from kelp.models.tokenizer import special_id
from conftest import PROGRAM


def _generate(model, tokenizer, rendered, ids, beams, end_ids):
    inputs = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=24, do_sample=False,
                             num_beams=beams, num_return_sequences=beams, length_penalty=0.0, early_stopping=True,
                             logits_processor=[EditConstraint(tokenizer, rendered, len(ids))], eos_token_id=end_ids,
                             pad_token_id=0, output_scores=True, return_dict_in_generate=True)
    found = {}
    for sequence, score in zip(out.sequences, out.sequences_scores):
        tokens = sequence[len(ids):].tolist()
        end = next(i for i, t in enumerate(tokens) if t in end_ids)  # finished rows are padded with <end>
        tokens = tokens[:end + 1]
        found[tuple(tokens)] = float(score)
    return found


@pytest.mark.parametrize("beams", [2, 4, 8])
def test_beam_search_matches_generate(trained_checkpoint, beams):
    model, tokenizer, _ = load_checkpoint(trained_checkpoint)
    rendered = render_program(PROGRAM.replace("x * 2", "x * 3"))
    ids = tokenizer.encode(build_prompt(rendered)).ids
    end_ids = [special_id(tokenizer, "<end>"), special_id(tokenizer, "<eos>")]
    ours = beam_search(model, ids, beams, 24, end_ids, EditConstraint(tokenizer, rendered, len(ids)))
    theirs = _generate(model, tokenizer, rendered, ids, beams, end_ids)
    assert len(ours) == beams
    assert [score for _, score in ours] == sorted((score for _, score in ours), reverse=True)
    assert {tuple(tokens) for tokens, _ in ours} == set(theirs)
    for tokens, score in ours:
        assert score == pytest.approx(theirs[tuple(tokens)], abs=1e-3)
        assert tokens[-1] in end_ids


def test_beam_search_rejects_bad_arguments(tiny_checkpoint):
    _, model, _ = tiny_checkpoint
    with pytest.raises(ValueError, match="beams >= 1"):
        beam_search(model, [5, 6], 0, 4, [2])
    with pytest.raises(ValueError, match="prompt"):
        beam_search(model, [], 2, 4, [2])


def test_the_cache_is_handed_over_without_deprecation_warnings(trained_checkpoint):
    """transformers >= 5.23 renamed ``past_key_values`` to ``cache`` and warns at every call
    with the old name: a search would print that warning on stderr thousands of times."""
    import warnings

    model, tokenizer, _ = load_checkpoint(trained_checkpoint)
    rendered = render_program(PROGRAM.replace("x * 2", "x * 3"))
    ids = tokenizer.encode(build_prompt(rendered)).ids
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert beam_search(model, ids, 2, 8, [special_id(tokenizer, "<end>")])
