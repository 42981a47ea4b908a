"""A real (tiny) edit model trained for a few steps on real examples, checkpointed and resumed."""

import json
from dataclasses import asdict

import pytest

from kelp.models.edit_model import ModelSize, load_checkpoint
from kelp.train.edit_trainer import TrainConfig, TrainError, train_edit_model

TINY = asdict(ModelSize(hidden=32, layers=1, heads=2, intermediate=64, context=768))


@pytest.fixture(scope="module")
def corpus(mbpp_corpus):
    return mbpp_corpus(60)


def test_training_runs_checkpoints_and_resumes(corpus, tmp_path):
    config = TrainConfig(corpus=str(corpus), steps=4, batch=2, eval_every=2, eval_tasks=2, vocab=700, size=TINY,
                         warmup=2)
    first = train_edit_model(config, tmp_path, progress=False, log_every=1)
    assert first["step"] == 4 and first["n"] == 2 and 0 <= first["repaired"] <= 1
    model, tokenizer, training = load_checkpoint(tmp_path / "checkpoint")
    assert training["step"] == 4 and (tmp_path / "checkpoint" / "optimizer.safetensors").exists()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert (tmp_path / "curves.png").stat().st_size > 0
    # other settings are refused; more steps resume from the checkpoint and go on
    with pytest.raises(TrainError, match="other settings \\(lr\\)"):
        train_edit_model(TrainConfig(**{**asdict(config), "lr": 0.5}), tmp_path, progress=False)
    again = train_edit_model(TrainConfig(**{**asdict(config), "steps": 5}), tmp_path, progress=False, log_every=1)
    assert again["step"] == 5
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5]


def test_an_interrupted_run_resumes_on_the_same_batches(corpus, tmp_path, monkeypatch):
    """Killed after step 4 (checkpoint at 3, mid batch group), the rerun ends with the weights of
    an uninterrupted run: it redraws the group and skips the batch already trained on."""
    import torch

    from kelp.train.edit_trainer import EditTask

    config = TrainConfig(corpus=str(corpus), steps=6, batch=2, eval_every=3, eval_tasks=1, vocab=700, size=TINY,
                         warmup=2)
    train_edit_model(config, tmp_path / "straight", progress=False, log_every=1)
    real_loss, calls = EditTask.loss, []

    def interrupted(self, model, batch):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_loss(self, model, batch)

    monkeypatch.setattr(EditTask, "loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_edit_model(config, tmp_path / "resumed", progress=False, log_every=1)
    monkeypatch.setattr(EditTask, "loss", real_loss)
    train_edit_model(config, tmp_path / "resumed", progress=False, log_every=1)
    straight = load_checkpoint(tmp_path / "straight" / "checkpoint")[0].state_dict()
    resumed = load_checkpoint(tmp_path / "resumed" / "checkpoint")[0].state_dict()
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)
    logged = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert logged == [json.loads(line)["step"] for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]


def test_until_stops_early_on_the_full_schedule_and_a_rerun_finishes(corpus, tmp_path):
    import torch

    config = TrainConfig(corpus=str(corpus), steps=4, batch=2, eval_every=10, eval_tasks=1, vocab=700, size=TINY,
                         warmup=2)
    assert train_edit_model(config, tmp_path / "split", progress=False, until=3)["step"] == 3
    assert load_checkpoint(tmp_path / "split" / "checkpoint")[2]["step"] == 3
    train_edit_model(config, tmp_path / "split", progress=False)
    train_edit_model(config, tmp_path / "straight", progress=False)
    split = load_checkpoint(tmp_path / "split" / "checkpoint")[0].state_dict()
    straight = load_checkpoint(tmp_path / "straight" / "checkpoint")[0].state_dict()
    assert all(torch.equal(split[name], straight[name]) for name in split)
