"""Training examples for the edit model: clean function -> seeded corruption -> reverse path
(``tree_diff``) -> one state on that path -> the next edit as the target.

Training on every state of the reverse path, not only the fully corrupted program, shows the
model the half-repaired programs it meets when it iterates (Kelp's iterative repair saw only
fully corrupted inputs). Each example can carry the task text, the tests and the tests'
feedback on that state; each section is dropped with probability ``drop`` so the model works
with or without them.
"""

from __future__ import annotations

import ast
import random
from dataclasses import asdict, dataclass, field

from kelp.corrupt import CorruptionError, SubtreeBank, corrupt
from kelp.models.edit_format import (
    EditFormatError,
    build_prompt,
    encode_edit,
    render_program,
)
from kelp.program.diff import EditError, tree_diff
from kelp.program.tree import ProgramSyntaxError

#: How often a corruption has 1, 2 or 3 mutations.
STEP_WEIGHTS = {1: 0.5, 2: 0.3, 3: 0.2}
#: Longest test or feedback message kept, in characters.
MESSAGE_CHARS = 160


@dataclass(frozen=True)
class EditExample:
    """One (prompt, target) pair; ``meta`` says where it came from (JSON-ready)."""

    prompt: str
    target: str
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class ExampleConfig:
    """``policy``: "realistic", or "mixed" (half the steps are bank swaps; needs a bank).
    ``drop``: probability of leaving out each of intent, tests and feedback."""

    policy: str = "realistic"
    drop: float = 0.3
    step_weights: tuple[tuple[int, float], ...] = tuple(STEP_WEIGHTS.items())


def sample_example(code: str, rng: random.Random, config: ExampleConfig = ExampleConfig(), *,
                   bank: SubtreeBank | None = None, intent: str = "", tests: list[str] = (),
                   feedback=None) -> EditExample | None:
    """One example from the clean function ``code``, or ``None`` when the draw gives nothing
    usable (no mutation site, a corruption the diff undoes to nothing, too many nodes).

    ``feedback(program) -> (messages, line_susp)``, when given, runs the tests on the state
    (normalised source) and returns the failing tests' messages and line suspiciousness; it
    is only called when the feedback section is kept."""
    steps = rng.choices([s for s, _ in config.step_weights], [w for _, w in config.step_weights])[0]
    policy = config.policy if bank is not None else "realistic"
    try:
        corruption = corrupt(code, steps=steps, seed=rng.randrange(2**31), policy=policy, bank=bank, strict=False)
        clean = ast.parse(ast.unparse(ast.parse(code)))
        state = ast.parse(ast.unparse(ast.parse(corruption.source)))
        path = tree_diff(state, clean)
        if not path:
            return None
        at = rng.randrange(len(path))
        for edit in path[:at]:
            state = edit.apply(state, check=False)
        program = ast.unparse(state)
        keep = {name: rng.random() >= config.drop for name in ("intent", "tests", "feedback")}
        messages, susp = [], None
        if feedback is not None and keep["feedback"]:
            messages, susp = feedback(program)
        rendered = render_program(program, susp)
        target = encode_edit(path[at], rendered)
    except (CorruptionError, EditFormatError, EditError, ProgramSyntaxError, SyntaxError, KeyError,
            RecursionError, ValueError):
        return None
    prompt = build_prompt(rendered, intent if keep["intent"] else "",
                          [t[:MESSAGE_CHARS] for t in tests] if keep["tests"] else [],
                          [m[:MESSAGE_CHARS] for m in messages])
    return EditExample(prompt, target, {"steps": steps, "position": at, "path_length": len(path),
                                        "families": [m.family for m in corruption.mutations]})


def sandbox_feedback(sandbox, suite):
    """A ``feedback`` callable for :func:`sample_example`: runs ``suite`` on the program in
    ``sandbox`` with coverage and returns the messages of the tests that did not pass and the
    Ochiai line suspiciousness (sharpened by crash lines)."""
    from kelp.execute.localize import line_suspiciousness, with_crash_lines

    def feedback(program: str):
        run = sandbox.run(program, suite, coverage=True, continue_after_timeout=True)
        if run.status != "ok":
            return [f"{run.status}: {run.message or ''}"], None
        messages = [f"{o.status}: {o.message or o.error_type or ''}" for o in run.outcomes if o.status != "pass"]
        return messages, with_crash_lines(line_suspiciousness(run), run)

    return feedback
