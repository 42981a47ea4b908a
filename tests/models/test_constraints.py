"""Constrained edit decoding with a real (tiny, untrained) model: positions are real nodes,
operations fit the node, and every proposal the proposer returns applies."""

import ast

import pytest
import torch
from conftest import PROGRAM

from kelp.models.constraints import EditConstraint, _depth
from kelp.models.edit_format import OPS, build_prompt, render_program
from kelp.repair.model_proposer import ModelProposer
from kelp.repair.proposer import Feedback


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    return tiny_checkpoint


def test_the_first_tokens_are_a_marker_and_an_operation_the_node_allows(checkpoint):
    _, model, tokenizer = checkpoint
    rendered = render_program(PROGRAM)
    ids = tokenizer.encode(build_prompt(rendered)).ids
    inputs = torch.tensor([ids])
    out = model.generate(inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=6, do_sample=True,
                         num_return_sequences=24, logits_processor=[EditConstraint(tokenizer, rendered, len(ids))],
                         pad_token_id=0, top_k=0)
    vocab = tokenizer.get_vocab()
    for row in out[:, len(ids):].tolist():
        marker = tokenizer.id_to_token(row[0])
        assert marker.startswith("<n") and int(marker[2:-1]) < len(rendered.paths)
        op = tokenizer.id_to_token(row[1])
        assert op in OPS
        node = ast.parse(PROGRAM)
        if op != "<replace>":  # only statements get delete / before / after
            from kelp.program.tree import node_at
            assert isinstance(node_at(rendered.tree, rendered.paths[int(marker[2:-1])]), ast.stmt)
        assert all(t not in (vocab["<program>"], vocab["<tests>"]) for t in row[2:])


@pytest.fixture(scope="module")
def trained(trained_checkpoint):
    return trained_checkpoint


BUGGY = PROGRAM.replace("x * 2", "x - 2")


def test_a_trained_model_proposes_the_fix_and_every_proposal_applies(trained):
    buggy = ast.parse(BUGGY)
    cands = ModelProposer(trained, beams=8).propose(buggy, Feedback())
    assert cands and abs(sum(c.score for c in cands) - 1) < 1e-6
    fixed = ast.unparse(ast.parse(PROGRAM))
    results = [ast.unparse(c.edit.apply(ast.parse(ast.unparse(buggy)))) for c in cands]  # all apply
    assert fixed in results


def test_the_search_repairs_with_the_model_as_its_only_proposer(trained):
    """The tiny model was trained without feedback sections, so it is asked without them."""
    from kelp.execute.sandbox import Sandbox
    from kelp.execute.suites import TestSuite
    from kelp.repair.search import RepairConfig, repair

    suite = TestSuite.from_asserts(["assert f([1, 2]) == 6", "assert f([]) == 0"])
    with Sandbox(workers=1) as sandbox:
        result = repair(BUGGY, suite, sandbox, RepairConfig(budget=16), proposers=[ModelProposer(trained, beams=8, use_feedback=False)])
    # Within the budget of 16, not necessarily among the root's 8 beams first: ``total += 2``
    # brings f([1, 2]) closer to 6, so the search tries some of its children before the rest.
    assert result.solved and "total += x * 2" in result.repaired


def test_bracket_depth_ignores_strings_and_catches_stray_closers():
    assert _depth("f(x, [1, 2]") == 1 and _depth("')' + g(1)") == 0 and _depth("x)") is None
