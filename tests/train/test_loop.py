"""The training harness on a tiny regression model with dropout: logging, evaluation,
checkpoints, and resume ending with the weights of an uninterrupted run."""

import json
from pathlib import Path

import pytest
import torch

from kelp.train.loop import LoopConfig, ResumeError, Task, fit, read_checkpoint, to_device, warmup_cosine


class Regression(Task):
    """y = x @ w + noise; batches drawn from a generator seeded by the step; dropout draws from
    torch's global RNG, so an exact resume needs the RNG state restored."""

    headline = "mse"

    def __init__(self, fail_at: int | None = None):
        self.fail_at, self.calls = fail_at, 0
        self.w = torch.arange(1.0, 5.0).unsqueeze(1)

    def build(self):
        return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 1))

    def load(self, checkpoint, training):
        from safetensors.torch import load_file

        model = self.build()
        model.load_state_dict(load_file(str(checkpoint / "model.safetensors")))
        return model

    def _data(self, seed: int, n: int):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 4, generator=g)
        return x, x @ self.w + 0.1 * torch.randn(n, 1, generator=g)

    def batch(self, model, step):
        return self._data(step, 8)

    def loss(self, model, batch):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        x, y = batch
        return torch.nn.functional.mse_loss(model(x), y), {"examples": len(x)}

    def evaluate(self, model):
        device = next(model.parameters()).device
        x, y = (t.to(device) for t in self._data(10_000, 32))
        return {"mse": round(torch.nn.functional.mse_loss(model(x), y).item(), 6)}

    def save(self, model, directory, training):
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.cpu() for k, v in model.state_dict().items()}, str(directory / "model.safetensors"))
        (directory / "training.json").write_text(json.dumps(training))

    def row(self, step):
        return {"half": step // 2}


def _config(**kw) -> LoopConfig:
    base = dict(steps=8, lr=0.05, warmup=2, log_every=1, eval_every=4, seed=3, progress=False)
    return LoopConfig(**{**base, **kw})


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "checkpoint" / "model.safetensors"))


def _rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_a_run_logs_evaluates_and_checkpoints(tmp_path):
    outcome = fit(_config(), Regression(), tmp_path)
    assert outcome.step == 8 and set(outcome.evaluation) == {"mse"}
    rows = _rows(tmp_path)
    train = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train] == list(range(1, 9))
    assert set(train[0]) == {"step", "loss", "lr", "examples", "half"} and train[0]["examples"] == 8
    assert train[0]["lr"] == pytest.approx(warmup_cosine(1, 0.05, 2, 8))
    assert [r["step"] for r in rows if "mse" in r] == [4, 8]
    assert train[-1]["loss"] < train[0]["loss"]
    files = sorted(p.name for p in (tmp_path / "checkpoint").iterdir())
    assert files == ["model.safetensors", "optimizer.safetensors", "rng.safetensors", "training.json"]
    assert read_checkpoint(tmp_path / "checkpoint") == {"step": 8}
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert not (tmp_path / "checkpoint.tmp").exists() and not (tmp_path / "checkpoint.old").exists()


def test_until_then_resume_equals_an_uninterrupted_run(tmp_path):
    fit(_config(), Regression(), tmp_path / "straight")
    assert fit(_config(until=4), Regression(), tmp_path / "split").step == 4
    assert fit(_config(), Regression(), tmp_path / "split").step == 8
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _rows(tmp_path / "straight") == _rows(tmp_path / "split")


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    """Killed during step 7 with a checkpoint at 6: rows 7+ are dropped, steps 7-8 retrained."""
    fit(_config(), Regression(), tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        fit(_config(checkpoint_every=3), Regression(fail_at=7), tmp_path / "killed")
    assert read_checkpoint(tmp_path / "killed" / "checkpoint") == {"step": 6}
    fit(_config(checkpoint_every=3), Regression(), tmp_path / "killed")
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "killed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _rows(tmp_path / "straight") == _rows(tmp_path / "killed")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resume_on_cuda_equals_an_uninterrupted_run(tmp_path):
    """Dropout on CUDA draws from the CUDA generator, so this needs its state restored too."""
    from safetensors.torch import load_file

    fit(_config(device="cuda"), Regression(), tmp_path / "straight")
    fit(_config(device="cuda", until=4), Regression(), tmp_path / "split")
    assert "cuda" in load_file(str(tmp_path / "split" / "checkpoint" / "rng.safetensors"))
    fit(_config(device="cuda"), Regression(), tmp_path / "split")
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _rows(tmp_path / "straight") == _rows(tmp_path / "split")


def test_a_save_interrupted_mid_swap_is_recovered(tmp_path):
    fit(_config(until=4), Regression(), tmp_path)
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.old")
    assert fit(_config(), Regression(), tmp_path).step == 8
    assert [r["step"] for r in _rows(tmp_path) if "loss" in r] == list(range(1, 9))


def test_a_checkpoint_without_optimizer_state_is_refused(tmp_path):
    fit(_config(until=2, eval_every=2), Regression(), tmp_path)
    (tmp_path / "checkpoint" / "optimizer.safetensors").unlink()
    with pytest.raises(ResumeError, match="optimizer.safetensors is missing"):
        fit(_config(), Regression(), tmp_path)


def test_progress_goes_to_stderr(tmp_path, capsys):
    fit(_config(steps=2, progress=True), Regression(), tmp_path)
    assert capsys.readouterr().out == ""


def test_to_device_moves_nested_tensors_and_keeps_the_rest():
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), "text"), "n": 3}
    moved = to_device(batch, "cpu")
    assert torch.equal(moved["x"], batch["x"]) and moved["pair"][1] == "text" and moved["n"] == 3
    assert isinstance(moved["pair"], tuple)


def test_warmup_then_cosine_to_the_floor():
    assert warmup_cosine(0, 1.0, 4, 10) == pytest.approx(0.25)
    assert warmup_cosine(3, 1.0, 4, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 1.0, 4, 10, floor=0.1) == pytest.approx(0.1)
