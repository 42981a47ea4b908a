"""A real (tiny) graph denoiser trained with scheduled sampling on real programs and tests."""

import json

import pytest

from kelp.models.graph_model import load_graph_checkpoint
from kelp.train.graph_trainer import GraphTrainConfig, GraphTrainError, sampling_probability, train_graph_model

TINY = {"hidden": 32, "layers": 2, "heads": 2, "conv": "gat"}


@pytest.fixture(scope="module")
def corpus(mbpp_corpus):
    return mbpp_corpus(40)


def _config(corpus, **kw):
    base = dict(corpus=str(corpus), steps=6, batch=4, eval_every=3, eval_tasks=2, iterations=3, warmup=2,
                ss_ramp=0.3, model=TINY, vocab_tokens=300)
    return GraphTrainConfig(**{**base, **kw})


def test_training_rolls_forward_evaluates_checkpoints_and_resumes(corpus, tmp_path):
    config = _config(corpus)
    result = train_graph_model(config, tmp_path, progress=False, log_every=1, until=3)
    assert result["step"] == 3 and result["n"] == 2 and 0 <= result["final"] <= 1
    model, vocab, training = load_graph_checkpoint(tmp_path / "checkpoint")
    assert training["step"] == 3
    result = train_graph_model(config, tmp_path, progress=False, log_every=1)  # resumes at 3
    assert result["step"] == 6
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows if "final" in r] == [3, 6]
    assert rows[-2]["sampling"] == pytest.approx(0.95)  # fully ramped after 30% of 6 steps
    assert (tmp_path / "curves.png").stat().st_size > 0
    with pytest.raises(GraphTrainError, match="other settings"):
        train_graph_model(_config(corpus, batch=8), tmp_path, progress=False)


def test_sampling_probability_ramps_to_its_maximum(corpus):
    config = _config(corpus, steps=100, ss_ramp=0.5, ss_max=0.9)
    assert sampling_probability(0, config) == 0
    assert sampling_probability(25, config) == pytest.approx(0.45)
    assert sampling_probability(50, config) == sampling_probability(99, config) == pytest.approx(0.9)


def test_bad_settings_are_clear_errors(corpus, tmp_path):
    with pytest.raises(GraphTrainError, match="unknown signal"):
        train_graph_model(_config(corpus, signal="nope"), tmp_path, progress=False)
    with pytest.raises(GraphTrainError, match="rate_low"):
        train_graph_model(_config(corpus, rate_low=0.9, rate_high=0.1), tmp_path, progress=False)


def test_an_interrupted_run_ends_with_the_weights_of_an_uninterrupted_one(corpus, tmp_path):
    """Bit for bit on one thread (with more, message passing sums in a varying order: ~1e-6)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _interrupt_and_compare(corpus, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _interrupt_and_compare(corpus, tmp_path):
    import torch

    config = _config(corpus, steps=4, eval_every=2, eval_tasks=1)
    train_graph_model(config, tmp_path / "straight", progress=False)
    train_graph_model(config, tmp_path / "resumed", progress=False, until=2)
    train_graph_model(config, tmp_path / "resumed", progress=False)
    a = load_graph_checkpoint(tmp_path / "straight" / "checkpoint")[0].state_dict()
    b = load_graph_checkpoint(tmp_path / "resumed" / "checkpoint")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_trains_then_evaluates_refinement(corpus, tmp_path):
    """`kelp train graph` then `kelp eval refine` with that checkpoint, as a user runs them."""
    import subprocess
    import sys

    run = tmp_path / "run"
    kelp = [sys.executable, "-m", "kelp.cli"]
    done = subprocess.run(kelp + ["train", "graph", "--out", str(run), "--corpus", str(corpus), "--steps", "2",
                                  "--batch", "2", "--eval-every", "2", "--eval-tasks", "1", "--hidden", "32",
                                  "--layers", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ev = tmp_path / "eval"
    done = subprocess.run(kelp + ["eval", "refine", "--rate", "0.5", "--iterations", "2", "--n", "3", "--out", str(ev),
                                  "--checkpoint", str(run / "checkpoint")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["n"] == 3 and 0 <= summary["final_accuracy"] <= 1 and len(summary["changed_per_iteration"]) == 2
    assert len((ev / "results.jsonl").read_text().splitlines()) == 3
    bad = subprocess.run(kelp + ["eval", "refine", "--signal", "psychic", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown --signal" in bad.stderr and "Traceback" not in bad.stderr
