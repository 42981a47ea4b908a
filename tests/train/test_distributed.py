"""Data-parallel training under torchrun: the batch shards, and a real 2-process run of
`kelp train edit` (gloo on CPU) that agrees with the 1-process run at the same global batch,
writes one checkpoint, and resumes under another world size."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kelp.models.edit_model import load_checkpoint
from kelp.train.distributed import rows, shard

KELP = str(Path(sys.executable).with_name("kelp"))


def test_shards_cut_every_part_of_a_batch_and_put_together_give_it_back():
    batch = {"input_ids": torch.arange(10).reshape(5, 2), "labels": torch.arange(5)}
    parts = [shard(batch, rank, 2) for rank in range(2)]
    assert [rows(p) for p in parts] == [3, 2]
    assert torch.equal(torch.cat([p["input_ids"] for p in parts]), batch["input_ids"])
    pair = (torch.zeros(4, 3), torch.ones(4))
    assert [tuple(t.shape[0] for t in shard(pair, r, 3)) for r in range(3)] == [(2, 2), (1, 1), (1, 1)]
    assert [shard(list("abcde"), r, 2) for r in range(2)] == [list("abc"), list("de")]
    assert shard(batch, 0, 1) is batch


def test_a_graph_batch_is_cut_by_graphs():
    from torch_geometric.data import Batch, Data

    graphs = [Data(x=torch.full((n, 1), float(n)), edge_index=torch.zeros(2, 0, dtype=torch.long)) for n in (1, 2, 3)]
    batch = Batch.from_data_list(graphs)
    first, second = shard(batch, 0, 2), shard(batch, 1, 2)
    assert (first.num_graphs, second.num_graphs) == (2, 1)
    assert second.x.flatten().tolist() == [3.0, 3.0, 3.0]


#: A script that trains a linear regression with the harness: a batch of 8 seeded by the step,
#: mean squared error (so the mean of the ranks' gradients is exactly the whole batch's).
HARNESS_SCRIPT = """
import json, sys
from pathlib import Path
import torch
from safetensors.torch import load_file, save_file
from kelp.train.loop import LoopConfig, Task, fit

class Linear(Task):
    def build(self):
        return torch.nn.Linear(4, 1)
    def load(self, checkpoint, training):
        model = self.build()
        model.load_state_dict(load_file(str(checkpoint / "model.safetensors")))
        return model
    def batch(self, model, step):
        g = torch.Generator().manual_seed(step)
        x = torch.randn(8, 4, generator=g)
        return x, x @ torch.arange(1.0, 5.0).unsqueeze(1)
    def loss(self, model, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(model(x), y), {"examples": len(x)}
    def evaluate(self, model):
        return {}
    def save(self, model, directory, training):
        directory.mkdir(parents=True, exist_ok=True)
        save_file(model.state_dict(), str(directory / "model.safetensors"))
        (directory / "training.json").write_text(json.dumps(training))

until = int(sys.argv[3]) if len(sys.argv) > 3 else None
fit(LoopConfig(steps=int(sys.argv[2]), until=until, lr=0.05, warmup=1, log_every=1, eval_every=0, progress=False),
    Linear(), Path(sys.argv[1]))
# No module of the run is left to the cycle collector: one found while Python finalises takes
# DistributedDataParallel's process group with it, and gloo's threads can then abort the process.
import gc
gc.set_debug(gc.DEBUG_SAVEALL)
gc.collect()
assert not any(isinstance(o, torch.nn.Module) for o in gc.garbage), "a module of the run waits for the cycle collector"
"""


def _harness(tmp_path, name: str, processes: int, steps: int = 5, until: int | None = None):
    """Train the linear task with ``processes`` ranks into ``tmp_path/name``; its weights and
    metrics rows."""
    script = tmp_path / "linear.py"
    script.write_text(HARNESS_SCRIPT)
    launch = [] if processes == 1 else ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    args = [str(script), str(tmp_path / name), str(steps)] + ([] if until is None else [str(until)])
    proc = subprocess.run([sys.executable, *launch, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    from safetensors.torch import load_file

    rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss" in r]  # the training rows
    return load_file(str(tmp_path / name / "checkpoint" / "model.safetensors")), rows


def test_the_harness_on_two_ranks_takes_the_steps_of_one_process_on_the_whole_batch(tmp_path):
    one, one_rows = _harness(tmp_path, "one", 1)
    two, two_rows = _harness(tmp_path, "two", 2)
    torch.manual_seed(0)
    start = torch.nn.Linear(4, 1)  # the weights every run starts from (seed 0)
    assert (one["weight"] - start.weight.detach()).norm() > 0.1  # the runs really trained
    for key in one:
        assert torch.allclose(one[key], two[key], atol=1e-5), (key, one[key], two[key])
    assert [r["step"] for r in two_rows] == [1, 2, 3, 4, 5]  # rank 0 alone logs
    assert [r["examples"] for r in two_rows] == [8] * 5  # the ranks' counts are summed
    for a, b in zip(one_rows, two_rows):
        assert abs(a["loss"] - b["loss"]) <= 1e-4 * max(1.0, a["loss"])


def test_resuming_the_harness_under_another_world_size_ends_with_the_same_weights(tmp_path):
    straight, _ = _harness(tmp_path, "straight", 1, steps=6)
    _harness(tmp_path, "resumed", 2, steps=6, until=3)
    resumed, rows = _harness(tmp_path, "resumed", 1, steps=6)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    for key in straight:
        assert torch.allclose(straight[key], resumed[key], atol=1e-5)


@pytest.fixture(scope="module")
def corpus(mbpp_corpus):
    return mbpp_corpus(60)


def _train(corpus, out, processes: int, *extra: str) -> subprocess.CompletedProcess:
    args = ["train", "edit", "--corpus", str(corpus), "--out", str(out), "--steps", "4", "--batch", "4",
            "--eval-every", "4", "--eval-tasks", "1", "--hidden", "32", "--layers", "1", "--context", "768", "--log-every", "1", *extra]
    if processes == 1:
        command = [KELP, *args]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
                   "--no-python", KELP, *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def _losses(out):
    return {r["step"]: r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r}


def test_two_processes_train_like_one_at_the_same_global_batch(corpus, tmp_path):
    two = _train(corpus, tmp_path / "two", 2)
    assert two.returncode == 0, two.stderr[-3000:]
    result = [line for line in two.stdout.splitlines() if line.strip()]
    assert len(result) == 1 and json.loads(result[0])["step"] == 4  # rank 0 alone prints
    assert sorted(p.name for p in (tmp_path / "two").iterdir() if p.name.startswith("checkpoint")) == ["checkpoint"]
    model, _, training = load_checkpoint(tmp_path / "two" / "checkpoint")
    assert training["step"] == 4
    steps = [r["step"] for r in map(json.loads, (tmp_path / "two" / "metrics.jsonl").read_text().splitlines())]
    assert steps == [1, 2, 3, 4, 4]  # one row per step, one evaluation, written once
    one = _train(corpus, tmp_path / "one", 1)
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert a.keys() == b.keys() == {1, 2, 3, 4}
    for step in a:
        assert abs(a[step] - b[step]) <= 0.01 * a[step], (step, a, b)


def test_a_run_of_two_processes_resumes_under_one(corpus, tmp_path):
    first = _train(corpus, tmp_path / "run", 2, "--until", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "checkpoint" / "training.json").read_text())["step"] == 2
    rest = _train(corpus, tmp_path / "run", 1)
    assert rest.returncode == 0, rest.stderr[-3000:]
    steps = [r["step"] for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
             if "loss" in r]
    assert steps == [1, 2, 3, 4]
