"""``kelp eval refine``: iterative refinement of token-noised MBPP programs, measured.

Each MBPP test-split program (Austin et al. 2021) gets a fraction ``rate`` of its token slots
noised (:func:`kelp.corrupt.token_noise.noise`, seeded per task) and is refined by the graph
denoiser for up to ``iterations`` steps with its asserts in the sandbox
(:func:`kelp.repair.refine.refine_noised_task`). Per task, one JSON line; the summary reports:

- one-shot and final accuracy over *corrupted* slots (a no-op scores 0) and their difference,
  and both over all slots (the seed experiments' measure, for comparison);
- mean slots changed at each iteration (over all tasks: a task that stopped counts 0);
- exact-restore rate (every slot back to the original token) and all-tests-pass rate.

Accuracies are pooled over slots (micro-averages); their 95% intervals come from a percentile
bootstrap over tasks (Efron 1979). Results are written as they come and a rerun resumes.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from kelp.errors import KelpError
from kelp.repair.refine import SIGNALS


class RefineEvalError(KelpError, ValueError):
    """Bad arguments, or an output directory that holds another run."""


@dataclass(frozen=True)
class RefineEvalConfig:
    """Everything that determines a refinement evaluation (saved as ``config.json``)."""

    rate: float = 0.2
    iterations: int = 5
    signal: str = "ochiai"
    n: int | None = None
    seed: int = 0
    split: str = "test"
    checkpoint: str | None = None
    test_timeout: float = 2.0

    def check(self) -> None:
        """Raise :class:`RefineEvalError` for settings that cannot run."""
        if not 0.0 < self.rate <= 1.0:
            raise RefineEvalError(f"--rate must be in (0, 1], got {self.rate}")
        if self.iterations < 1:
            raise RefineEvalError(f"--iterations must be >= 1, got {self.iterations}")
        if self.signal not in SIGNALS:
            raise RefineEvalError(f"unknown --signal {self.signal!r}; choose one of {', '.join(SIGNALS)}")
        if self.n is not None and self.n < 1:
            raise RefineEvalError("--n must be >= 1")


def _ratio_ci(records: list[dict], num: str, den: str, seed: int, resamples: int = 2000) -> list[float]:
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        sample = [records[rng.randrange(len(records))] for _ in records]
        values.append(sum(r[num] for r in sample) / max(1, sum(r[den] for r in sample)))
    values.sort()
    return [round(values[int(0.025 * resamples)], 4), round(values[int(0.975 * resamples) - 1], 4)]


def summarize_refinement(records: list[dict], iterations: int, seed: int = 0) -> dict:
    """The summary of :mod:`this module <kelp.bench.refine_eval>` from per-task records."""
    from kelp.bench.metrics import bootstrap_ci
    from kelp.repair.refine import pooled_accuracy

    if not records:
        return {"n": 0}
    corrupted = sum(r["corrupted"] for r in records)
    slots = sum(r["slots"] for r in records)
    one_shot, final, passed = pooled_accuracy(records)
    changed = [round(sum(r["changed"][i] if i < len(r["changed"]) else 0 for r in records) / len(records), 3)
               for i in range(iterations)]
    return {
        "n": len(records),
        "corrupted_slots": corrupted,
        "one_shot_accuracy": round(one_shot, 4),
        "one_shot_ci95": _ratio_ci(records, "one_shot_correct", "corrupted", seed),
        "final_accuracy": round(final, 4),
        "final_ci95": _ratio_ci(records, "final_correct", "corrupted", seed),
        "gain": round(final - one_shot, 4),
        "one_shot_accuracy_all_slots": round(sum(r["one_shot_all"] for r in records) / max(1, slots), 4),
        "final_accuracy_all_slots": round(sum(r["final_all"] for r in records) / max(1, slots), 4),
        "changed_per_iteration": changed,
        "changed_after_first": round(sum(changed[1:]), 3),
        "restored_rate": round(sum(r["restored"] for r in records) / len(records), 4),
        "passed_rate": round(passed, 4),
        "passed_ci95": [round(x, 4) for x in bootstrap_ci([float(r["passed"]) for r in records], seed=seed)],
        "noisy_passed_rate": round(sum(r["noisy_passed"] for r in records) / len(records), 4),
    }


def run_refine_eval(config: RefineEvalConfig, out: Path, *, quiet: bool = False, ray: str | None = None,
                    workers: int | None = None) -> dict:
    """Run (or resume) a refinement evaluation into ``out`` (``config.json``, ``results.jsonl``
    written as it goes, ``summary.json``); returns the summary. ``ray``: ``"local"`` or a Ray
    cluster address: the tasks run as Ray tasks (:mod:`kelp.scale`, each with a sandbox of
    ``workers`` processes, default 1) and this process alone writes. Raises
    :class:`RefineEvalError` for bad settings or an ``out`` holding another run,
    :class:`~kelp.models.edit_model.CheckpointError` for a missing checkpoint and
    :class:`kelp.scale.ScaleError` (before ``out`` is made) when Ray is missing or unreachable."""
    from kelp.scale import connect

    config.check()
    with connect(ray):
        return _run_refine_eval(config, Path(out), quiet=quiet, ray=bool(ray), workers=workers)


def _run_refine_eval(config: RefineEvalConfig, out: Path, *, quiet: bool, ray: bool, workers: int | None) -> dict:
    import os
    from functools import partial

    from kelp.bench.evaluate import read_results
    from kelp.datasets.jsonl import append_record
    from kelp.datasets.loaders import load_mbpp
    from kelp.progress import progress_bar
    from kelp.scale import Failed, Work, map_units

    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "config.json"
    if config_path.exists() and json.loads(config_path.read_text()) != asdict(config):
        raise RefineEvalError(f"{out} holds a run with other settings; use another --out")
    config_path.write_text(json.dumps(asdict(config), indent=2) + "\n")
    results_path = out / "results.jsonl"
    done = read_results(results_path)
    problems = load_mbpp(config.split)[: config.n]
    todo = [(str(p.task_id), index) for index, p in enumerate(problems) if p.task_id not in done]
    cpus = workers or (1 if ray else os.cpu_count() or 1)
    with progress_bar(enabled=not quiet) as progress:
        bar = progress.add_task(f"refine @{config.rate:.0%}", total=len(problems), completed=len(problems) - len(todo))
        for _key, record in map_units(Work(partial(_Refiner, config), _Refiner.refine), todo, ray=ray, cpus=cpus):
            if isinstance(record, Failed):
                raise RefineEvalError(f"a task failed: {record.reason}")
            if record is not None:
                append_record(results_path, record)
                done[record["task_id"]] = record
            progress.advance(bar)
    order = {p.task_id: i for i, p in enumerate(problems)}
    records = sorted(done.values(), key=lambda r: order.get(r["task_id"], len(order)))
    summary = summarize_refinement(records, config.iterations, config.seed)
    summary["config"] = asdict(config)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _Refiner:
    """One worker's part: the graph denoiser (loaded once), a sandbox of ``cpus`` processes and
    the split's problems; refines one token-noised problem."""

    def __init__(self, config: RefineEvalConfig, cpus: int) -> None:
        from kelp.datasets.loaders import load_mbpp
        from kelp.execute.sandbox import Limits, Sandbox
        from kelp.models.graph_model import DEFAULT_GRAPH_CHECKPOINT, load_graph_checkpoint

        self.config = config
        self.model, self.vocab, _ = load_graph_checkpoint(Path(config.checkpoint) if config.checkpoint
                                                          else DEFAULT_GRAPH_CHECKPOINT)
        self.sandbox = Sandbox(workers=cpus, limits=Limits(test_timeout=config.test_timeout))
        self.problems = load_mbpp(config.split)[: config.n]

    def refine(self, index: int) -> dict | None:
        """The result line of problem ``index`` (None when noise leaves nothing to refine)."""
        from kelp.repair.refine import refine_noised_task

        c = self.config
        return refine_noised_task(self.model, self.vocab, self.problems[index], self.sandbox, rate=c.rate,
                                  iterations=c.iterations, signal=c.signal, seed=c.seed)

    def close(self) -> None:
        self.sandbox.close()


__all__ = ["RefineEvalConfig", "RefineEvalError", "run_refine_eval", "summarize_refinement"]
