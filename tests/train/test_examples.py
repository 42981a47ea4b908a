"""Training examples: real corruptions, real reverse paths, real sandbox feedback."""

import random

import pytest

from kelp.datasets.loaders import load_mbpp
from kelp.execute.sandbox import Sandbox
from kelp.models.edit_format import decode_edit, render_program
from kelp.train.examples import ExampleConfig, sample_example, sandbox_feedback


def _program_of(prompt: str) -> str:
    import re
    return re.sub(r"<[ns]\d+>", "", prompt.split("<program>")[1].split("<edit>")[0])


def test_the_target_is_a_step_of_the_reverse_path_and_applies():
    rng = random.Random(0)
    made = 0
    for problem in load_mbpp("train")[:40]:
        example = sample_example(problem.code, rng, ExampleConfig(drop=0.0), intent=problem.text,
                                 tests=list(problem.tests))
        if example is None:
            continue
        made += 1
        rendered = render_program(_program_of(example.prompt))
        decode_edit(example.target, rendered)  # raises if it is not an edit of the program
        assert problem.text.strip() in example.prompt and problem.tests[0][:40] in example.prompt
    assert made >= 30


def test_examples_are_reproducible_from_the_seed():
    code = load_mbpp("train")[0].code
    a = [sample_example(code, random.Random(7)) for _ in range(3)]
    b = [sample_example(code, random.Random(7)) for _ in range(3)]
    assert a == b


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def test_feedback_comes_from_running_the_tests(sandbox):
    rng = random.Random(1)
    examples = []
    for problem in load_mbpp("train")[:6]:
        feedback = sandbox_feedback(sandbox, problem.suite())
        for _ in range(2):
            example = sample_example(problem.code, rng, ExampleConfig(drop=0.0), tests=list(problem.tests),
                                     feedback=feedback)
            examples += [example] if example is not None else []
    assert len(examples) >= 6
    # a corrupted state usually fails a test: its message and a suspicious line appear
    assert sum("fail:" in e.prompt or "error:" in e.prompt for e in examples) >= len(examples) // 2
    assert any("<s3>" in e.prompt for e in examples)
