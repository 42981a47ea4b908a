"""``--proposer both``: the enumerator's candidates reranked by a real (tiny) edit model."""

import ast
import math

import pytest
from conftest import PROGRAM

from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.guided import GuidedProposer
from kelp.repair.model_proposer import ModelProposer
from kelp.repair.proposer import Feedback
from kelp.repair.search import RepairConfig, repair

BUGGY = PROGRAM.replace("x * 2", "x - 2")
FIXED = ast.unparse(ast.parse(PROGRAM))


def _results(cands, source=BUGGY):
    return [ast.unparse(c.edit.apply(ast.parse(ast.unparse(ast.parse(source))))) for c in cands]


@pytest.fixture(scope="module")
def model(trained_checkpoint):
    return ModelProposer(trained_checkpoint, beams=4, use_feedback=False)


@pytest.mark.parametrize("mixture", [True, False])
def test_weight_zero_keeps_the_enumerators_order_and_adds_the_models_edits(model, mixture):
    tree = ast.parse(BUGGY)
    enum = EnumerativeProposer().propose(tree, Feedback())
    guided = GuidedProposer(EnumerativeProposer(), model, weight=0.0, mixture=mixture).propose(tree, Feedback())
    assert math.isclose(sum(c.score for c in guided), 1.0)
    from_enum = [c for c in guided if c.family != "model"]
    assert _results(from_enum)[:20] == _results(enum)[:20]
    assert len(guided) >= len(enum)


def test_the_model_moves_the_fix_it_learned_to_the_front(model):
    """The tiny model was trained on this program's corruptions: with weight 1 its fix ranks
    higher than in the enumerator's order."""
    tree = ast.parse(BUGGY)
    enum_rank = _results(EnumerativeProposer().propose(tree, Feedback())).index(FIXED)
    guided = GuidedProposer(EnumerativeProposer(), model, weight=1.0, mixture=False).propose(tree, Feedback())
    assert enum_rank > 8 and _results(guided).index(FIXED) < enum_rank // 2


def test_a_weight_outside_zero_to_one_is_refused():
    from kelp.repair.proposers import ProposerError, make_proposers

    with pytest.raises(ProposerError, match="model-weight"):
        make_proposers("both", "unused", weight=1.5)
    with pytest.raises(ValueError, match="weight"):
        GuidedProposer(EnumerativeProposer(), None, weight=-0.1)


def test_guided_search_repairs_a_real_program(model):
    suite = TestSuite.from_asserts(["assert f([1, 2]) == 6", "assert f([]) == 0"])
    with Sandbox(workers=1) as sandbox:
        result = repair(BUGGY, suite, sandbox, RepairConfig(budget=32),
                        proposers=[GuidedProposer(EnumerativeProposer(), model)])
    assert result.solved and ast.unparse(ast.parse(result.repaired)) == FIXED
