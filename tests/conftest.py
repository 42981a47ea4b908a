"""Shared fixtures: real, tiny edit-model checkpoints (a BPE tokenizer trained on MBPP train code
and a one- or two-layer Llama), one untrained and one trained for 60 steps on one program."""

import pytest
import torch

from kelp.datasets.loaders import load_mbpp
from kelp.models.edit_model import ModelSize, build_model, save_checkpoint
from kelp.models.tokenizer import train_tokenizer


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """``(checkpoint directory, model, tokenizer)``."""
    tokenizer = train_tokenizer([p.code for p in load_mbpp("train")], vocab_size=700)
    model = build_model(tokenizer.get_vocab_size(), ModelSize(hidden=32, layers=1, heads=2, intermediate=64), seed=3)
    model.eval()
    path = tmp_path_factory.mktemp("ckpt") / "model"
    save_checkpoint(path, model, tokenizer, {"step": 0})
    return path, model, tokenizer


#: The program the trained tiny model has learned to repair.
PROGRAM = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x * 2\n    return total\n"


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory):
    """A tiny model trained for 60 real steps on reverse-path examples of ``PROGRAM`` (without
    intent, tests or feedback); its checkpoint directory."""
    import random

    from kelp.train.edit_trainer import collate, encode_example
    from kelp.train.examples import ExampleConfig, sample_example

    tokenizer = train_tokenizer([p.code for p in load_mbpp("train")] + [PROGRAM], vocab_size=700)
    model = build_model(tokenizer.get_vocab_size(), ModelSize(hidden=64, layers=2, heads=2, intermediate=128), seed=3)
    rng = random.Random(0)
    examples = [e for e in (sample_example(PROGRAM, rng, ExampleConfig(drop=1.0)) for _ in range(200)) if e]
    pairs = [encode_example(e, tokenizer, 512) for e in examples]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for _ in range(60):
        loss = model(**collate(rng.sample(pairs, 16))).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("trained") / "model"
    save_checkpoint(path, model, tokenizer, {"step": 60})
    return path
