"""Iterative refinement with a real (tiny, trained) graph denoiser and real tests in the sandbox."""

import ast
import random

import pytest
import torch
from torch_geometric.data import Batch

from kelp.corrupt.token_noise import noise
from kelp.execute.localize import line_suspiciousness
from kelp.execute.sandbox import Sandbox
from kelp.execute.suites import TestSuite
from kelp.models.graph_features import GraphVocab, program_graph
from kelp.models.graph_model import GraphDenoiser, GraphModelConfig
from kelp.program.tree import normalise
from kelp.repair.refine import RefineError, refine, signal_lines

PROGRAM = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x * 2\n    return total\n"
TESTS = ["assert f([1, 2, 3]) == 12", "assert f([]) == 0", "assert f([5]) == 10"]


@pytest.fixture(scope="module")
def denoiser():
    """A tiny denoiser trained to restore ``PROGRAM`` from its noised versions."""
    vocab = GraphVocab.build([PROGRAM] * 3)
    torch.manual_seed(0)
    model = GraphDenoiser(GraphModelConfig.from_vocab(vocab, hidden=32, layers=2, heads=2, dropout=0.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = random.Random(0)
    for _ in range(150):
        graphs = []
        for _ in range(8):
            noised = noise(PROGRAM, rng.uniform(0.1, 0.4), rng)
            graphs.append(program_graph(noised.tree, vocab, target_tokens=noised.original))
        loss = model.loss(Batch.from_data_list(graphs), 2.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model, vocab


def test_refine_restores_a_noised_program_and_stops_when_the_tests_pass(denoiser):
    model, vocab = denoiser
    noised = noise(PROGRAM, 0.2, random.Random(3))
    with Sandbox(workers=1) as sandbox:
        suite = TestSuite.from_asserts(TESTS)
        assert not sandbox.run(noised.source, suite).all_passed
        result = refine(model, vocab, noised.source, suite, sandbox, iterations=5, signal="ochiai")
    assert result.passed and result.stopped == "passed"
    assert normalise(result.source) == normalise(PROGRAM)
    assert result.tokens[0] == noised.noisy and result.tokens[-1] == noised.original
    assert result.runs == len(result.changed) and all(c > 0 for c in result.changed)


def test_refine_without_tests_stops_when_nothing_changes(denoiser):
    model, vocab = denoiser
    result = refine(model, vocab, PROGRAM, iterations=5, signal="none")
    assert result.stopped == "unchanged" and result.changed == [0] and result.passed is None
    assert result.tokens == [result.tokens[0]] and normalise(result.source) == normalise(PROGRAM)


def test_signals_from_a_real_coverage_run():
    buggy = PROGRAM.replace("x * 2", "x * 3")
    with Sandbox(workers=1) as sandbox:
        run = sandbox.run(buggy, TestSuite.from_asserts(TESTS), coverage=True)
        passing = sandbox.run(PROGRAM, TestSuite.from_asserts(TESTS), coverage=True)
    assert signal_lines(run, "none") == {}
    binary = signal_lines(run, "binary")
    assert binary and set(binary.values()) == {1.0} and 4 in binary
    assert signal_lines(run, "ochiai") == line_suspiciousness(run, "ochiai")
    assert all(0.0 <= v <= 1.0 for v in signal_lines(run, "tarantula").values())
    assert signal_lines(passing, "ochiai") == {}  # nothing fails: no signal


def test_bad_arguments_are_clear_errors(denoiser):
    model, vocab = denoiser
    with pytest.raises(RefineError, match="unknown signal"):
        refine(model, vocab, PROGRAM, signal="dstar2")
    with pytest.raises(RefineError, match="iterations"):
        refine(model, vocab, PROGRAM, iterations=0)
    with pytest.raises(RefineError, match="no token slots"):
        refine(model, vocab, "pass\n")



def test_graph_proposer_repairs_a_token_bug_in_the_search(denoiser, tmp_path):
    from kelp.models.graph_model import save_graph_checkpoint
    from kelp.repair.graph_proposer import GraphProposer
    from kelp.repair.proposer import Feedback
    from kelp.repair.search import RepairConfig, repair

    model, vocab = denoiser
    save_graph_checkpoint(tmp_path / "graph", model, vocab, {"step": 150})
    proposer = GraphProposer(tmp_path / "graph")
    buggy = PROGRAM.replace("total += x", "total -= x")
    cands = proposer.propose(ast.parse(buggy), Feedback())
    assert cands and all(0 < c.score <= 1 for c in cands)
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)
    assert normalise(ast.unparse(cands[0].edit.apply(ast.parse(buggy)))) == normalise(PROGRAM)
    with Sandbox(workers=1) as sandbox:
        result = repair(buggy, TestSuite.from_asserts(TESTS), sandbox, RepairConfig(budget=8), proposers=[proposer])
    assert result.solved and normalise(result.repaired) == normalise(PROGRAM)


def test_proposer_lists_combine_and_mistakes_are_clear(denoiser, tmp_path):
    from kelp.repair.proposers import ProposerError, make_proposers
    from kelp.models.graph_model import save_graph_checkpoint

    model, vocab = denoiser
    save_graph_checkpoint(tmp_path / "graph", model, vocab, {"step": 150})
    names = [p.name for p in make_proposers("enum,graph", None, graph_checkpoint=str(tmp_path / "graph"))]
    assert names == ["enum", "graph"]
    with pytest.raises(ProposerError, match="several joined by commas"):
        make_proposers("enum,psychic", None)
    with pytest.raises(ProposerError, match="several joined by commas"):
        make_proposers("enum,enum", None)
    with pytest.raises(ProposerError, match="--proposer graph"):
        make_proposers("graph", None, graph_checkpoint=str(tmp_path / "nowhere"))
