"""Expert iteration of the edit model: real searches in the real sandbox with the bundled model,
a real (short) fine-tune, real evaluations; resumable, never on the test split."""

import json
import random
import subprocess
import sys

import pytest

from kelp.bench.evaluate import validation_judge
from kelp.datasets.jsonl import read_records
from kelp.models.edit_format import decode_edit, render_program
from kelp.program.tree import unparse
from kelp.train.examples import EditExample
from kelp.train.expert_iteration import (ExpertIterationConfig, ExpertIterationError, ReplayStream,
                                         path_examples, run_expert_iteration)

BUGGY = "def clip(x, lo, hi):\n    if x < lo:\n        return hi\n    if x > lo:\n        return hi\n    return x\n"
FIXED = "def clip(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n"


def test_the_examples_walk_the_path_from_the_bug_to_the_repair():
    seen = []

    def feedback(program):
        seen.append(program)
        return [f"fail: state {len(seen)}"], None

    examples = path_examples(BUGGY, FIXED, "Clip x to [lo, hi].", ["assert clip(5, 0, 3) == 3"], feedback)
    assert len(examples) == 2 == len(seen)
    state = BUGGY
    for example, program in zip(examples, seen):
        assert unparse(render_program(state).tree).strip() == program.strip()  # the prompt shows the state the edit applies to
        assert example.prompt.startswith("<intent>Clip x") and "fail: state" in example.prompt
        rendered = render_program(program)
        state = unparse(decode_edit(example.target, rendered).apply(rendered.tree))
    assert state == unparse(render_program(FIXED).tree)
    assert path_examples(BUGGY, "def clip(:", "", [], feedback) == []


def test_the_replay_stream_mixes_and_resumes_exactly():
    class Base:
        def __init__(self):
            self.rng = random.Random(1)

        def __next__(self):
            return EditExample("base", str(self.rng.random()))

        def state(self):
            version, internal, gauss = self.rng.getstate()
            return [version, list(internal), gauss]

        def restore(self, state):
            self.rng.setstate((state[0], tuple(state[1]), state[2]))

    proved = [EditExample("proved", str(i)) for i in range(5)]
    stream = ReplayStream(proved, Base(), replay=0.5, seed=3)
    [next(stream) for _ in range(7)]
    saved = json.loads(json.dumps(stream.state()))
    after = [next(stream) for _ in range(20)]
    assert {e.prompt for e in after} == {"base", "proved"}
    again = ReplayStream(proved, Base(), replay=0.5, seed=99)
    again.restore(saved)
    assert [next(again) for _ in range(20)] == after


def test_a_round_searches_fine_tunes_evaluates_and_resumes(tmp_path):
    config = ExpertIterationConfig(rounds=1, n=3, steps=(1,), budget=8, finetune_steps=2, batch=2, warmup=1,
                                   eval_n=2, eval_budget=2)
    judge = validation_judge(n=config.eval_n, budget=config.eval_budget, workers=1, quiet=True)
    rows = run_expert_iteration(config, tmp_path, judge, workers=1, quiet=True)
    assert [r["round"] for r in rows] == [0, 1]
    round_1 = rows[1]
    repairs = read_records(tmp_path / "round-1" / "repairs.jsonl")
    assert round_1["tasks"] == len(repairs) >= 2 and round_1["proved"] <= round_1["solved"]
    assert all(r["repaired"] for r in repairs if r["solved"]) and all(r["solved"] for r in repairs if r["proved"])
    assert round_1["examples"] == len(read_records(tmp_path / "round-1" / "examples.jsonl"))
    assert (round_1["examples"] > 0) == (round_1["proved"] > 0)
    assert (tmp_path / "round-1" / "train" / "checkpoint" / "model.safetensors").exists()
    for key in ("enum", "both", "model"):
        assert set(round_1[key]) == {"1", "4", "16", "64"} and round_1["eval_tasks"] == 2
    before = (tmp_path / "rounds.jsonl").read_text()
    assert run_expert_iteration(config, tmp_path, judge, workers=1, quiet=True) == rows  # nothing runs again
    assert (tmp_path / "rounds.jsonl").read_text() == before
    with pytest.raises(ExpertIterationError, match="other settings \\(budget\\)"):
        run_expert_iteration(ExpertIterationConfig(**{**config.__dict__, "budget": 4}), tmp_path, judge, quiet=True)


def test_the_test_split_is_refused_in_one_line(tmp_path):
    with pytest.raises(ExpertIterationError, match="not a training split"):
        run_expert_iteration(ExpertIterationConfig(split="test"), tmp_path / "a", validation_judge(), quiet=True)
    done = subprocess.run([sys.executable, "-m", "kelp.cli", "train", "expert-iteration", "--split", "test",
                           "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert "not a training split" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "b").exists()
    done = subprocess.run([sys.executable, "-m", "kelp.cli", "train", "expert-iteration", "--initial",
                           str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")], capture_output=True, text=True)
    assert done.returncode == 2 and "not an edit-model checkpoint" in done.stderr and not (tmp_path / "c").exists()


def test_a_run_may_go_on_for_more_rounds_but_not_change_other_settings(tmp_path):
    from kelp.train.expert_iteration import _claim

    _claim(ExpertIterationConfig(rounds=2), tmp_path / "config.json")
    _claim(ExpertIterationConfig(rounds=5), tmp_path / "config.json")
    assert json.loads((tmp_path / "config.json").read_text())["rounds"] == 5
    with pytest.raises(ExpertIterationError, match="other settings \\(lr, replay\\)"):
        _claim(ExpertIterationConfig(rounds=5, lr=1e-3, replay=0.2), tmp_path / "config.json")


def test_a_rounds_search_as_ray_tasks_writes_the_serial_lines(tmp_path):
    pytest.importorskip("ray")
    from kelp.models.edit_model import DEFAULT_CHECKPOINT
    from kelp.scale import connect
    from kelp.train.expert_iteration import search_round

    # the budget, not the clock, ends each search, so a loaded machine gives both runs the same lines
    config = ExpertIterationConfig(rounds=1, n=3, steps=(1,), budget=8, seconds=600.0)
    serial = search_round(config, 1, DEFAULT_CHECKPOINT, tmp_path / "serial", workers=1, quiet=True)
    with connect("local", cpus=2):
        remote = search_round(config, 1, DEFAULT_CHECKPOINT, tmp_path / "ray", quiet=True, ray=True)
    assert serial == remote and serial["tasks"] >= 2

    def lines(folder):
        return sorted(json.dumps(r, sort_keys=True) for r in read_records(folder / "repairs.jsonl"))

    assert lines(tmp_path / "serial") == lines(tmp_path / "ray")
