"""The patch cross-encoder: its patch text, its ListNet loss, and a real (tiny) fine-tuning run of
the bundled edit model on search data from real searches."""

import subprocess
import sys

import pytest
import torch

from kelp.models.cross_encoder import feature_header, load_cross_encoder, patch_text
from kelp.train.cross_encoder_trainer import (CrossEncoderConfig, CrossEncoderTrainError, listnet_loss,
                                              patch_groups, train_cross_encoder)


def test_patch_text_shows_the_changed_lines_with_context():
    before = "def f(x):\n    y = 1\n    if x > 0:\n        return y\n    return 0\n"
    after = before.replace("x > 0", "x >= 0")
    assert patch_text(before, after, context=1) == "      y = 1\n-     if x > 0:\n+     if x >= 0:\n          return y"
    assert patch_text(before, before) == ""
    deleted = before.replace("    y = 1\n", "")
    assert "-     y = 1" in patch_text(before, deleted) and "+" not in patch_text(before, deleted)
    assert feature_header({"family": "compare_flip", "op": "replace", "suspiciousness": 1.0, "rank": 20}) == \
        "compare_flip replace s3 r15"


def test_listnet_loss_prefers_scores_that_put_the_correct_candidate_first():
    gains = torch.tensor([7.0, 0.0, 0.0, 0.0, 7.0])
    group = torch.tensor([0, 0, 0, 1, 1])
    good = listnet_loss(torch.tensor([3.0, 0.0, 0.0, 0.0, 3.0]), gains, group, 2)
    bad = listnet_loss(torch.tensor([0.0, 3.0, 0.0, 3.0, 0.0]), gains, group, 2)
    assert good < bad


def test_every_group_gets_one_patch_text_per_candidate(search_data):
    groups = patch_groups([search_data])
    assert groups
    for g in groups:
        assert len(g["texts"]) == len(g["labels"]) == len(g["rows"])
    assert any(line.startswith("+ ") for g in groups for text in g["texts"] for line in text.splitlines())


def test_a_tiny_fine_tuning_run_writes_a_cross_encoder_that_scores(search_data, tmp_path):
    config = CrossEncoderConfig(data=[str(search_data)], steps=2, groups=2, group_size=4, warmup=1, holdout=0.5,
                                eval_every=2, eval_groups=3, header=True)
    report = train_cross_encoder(config, tmp_path / "run", progress=False)
    assert report["step"] == 2 and report["groups"] == report["proposers"]["groups"] > 0
    assert 0.0 <= report["top1"] <= report["top4"] <= report["top16"] <= 1.0
    model = load_cross_encoder(tmp_path / "run" / "checkpoint")
    assert model.header  # read back from the run's settings
    scores = model.score(["- return a\n+ return b", "- x = 1\n+ x = 2", ""])
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    with pytest.raises(CrossEncoderTrainError, match="another run|settings"):
        train_cross_encoder(CrossEncoderConfig(data=[str(search_data)], steps=3, groups=2, group_size=4, holdout=0.5),
                            tmp_path / "run", progress=False)


def test_the_command_names_a_missing_data_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "train", "cross-encoder", "--data", str(tmp_path / "nope"),
                           "--out", str(tmp_path / "ce")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"kelp: error: not search-data folders (no tasks.jsonl): {tmp_path / 'nope'}"
