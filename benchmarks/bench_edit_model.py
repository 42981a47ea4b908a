"""Edit-model speed: proposals per second, batched vs Kelp-style sequential decoding, and repair
time per MBPP task with a given proposer.

Prompts come from the MBPP test split (Austin et al. 2021) corrupted with one seeded realistic
mutation (the ``kelp eval repair mbpp --steps 1`` tasks), rendered with the tests' feedback.

- ``beam``: constrained beam search with a KV cache, ``--beams`` edits per prompt in one
  ``generate`` call (what ``--proposer model`` runs).
- ``scored``: teacher-forced log-probabilities of the enumerator's best ``--rerank`` candidates
  with the prompt's cache shared (what ``--proposer both`` runs).
- ``sequential``: the baseline, Kelp's decoding: ``--beams`` samples one after another, each
  re-reading the whole prompt at every token (no KV cache).

A *proposal* is one decoded or scored edit. Rates are measured in this process on the same
prompts, so the ratios do not depend on the machine. ``--repair N`` also repairs the first N
tasks with ``--proposer`` (budget 64) and reports the median and 90th-percentile seconds.

    python benchmarks/bench_edit_model.py --checkpoint src/kelp/models/checkpoints/edit --n 20 --repair 40
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))


def _feedback(problem, prepared):
    from kelp.execute.localize import line_suspiciousness, with_crash_lines
    from kelp.repair.proposer import Feedback

    run = prepared.initial_run
    lines = with_crash_lines(line_suspiciousness(run), run)
    feedback = Feedback.from_run(run, lines, [t.source for t in prepared.task.suite.tests],
                                 prepared.task.suite.entry_point)
    feedback.intent = problem.text
    return feedback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--n", type=int, default=20, help="prompts timed")
    parser.add_argument("--beams", type=int, default=16)
    parser.add_argument("--rerank", type=int, default=128)
    parser.add_argument("--repair", type=int, default=0, help="also repair this many tasks and time them")
    parser.add_argument("--proposer", default="both")
    args = parser.parse_args()

    import torch

    from kelp.repair.proposers import make_proposers
    from kelp.datasets.tasks import first_broken_mbpp
    from kelp.execute.sandbox import Sandbox
    from kelp.models.edit_format import EditFormatError, encode_edit
    from kelp.models.edit_model import BF16, bf16_autocast
    from kelp.models.scoring import edit_log_probs
    from kelp.program.tree import parse
    from kelp.repair.enumerate import EnumerativeProposer
    from kelp.repair.model_proposer import MAX_EDIT_TOKENS, ModelProposer
    from kelp.repair.search import RepairConfig, repair

    torch.manual_seed(0)
    model = ModelProposer(Path(args.checkpoint), beams=args.beams)
    enumerator = EnumerativeProposer()
    with Sandbox(workers=2) as sandbox:
        tasks = first_broken_mbpp("test", sandbox, max(args.n, args.repair))
        prompts = []
        for problem, prepared in tasks[: args.n]:
            feedback = _feedback(problem, prepared)
            tree = parse(prepared.task.source)
            rendered, prompt = model.prompt_for(tree, feedback)
            ids = model.prompt_ids(rendered, prompt, feedback)
            if ids is not None:
                prompts.append((tree, feedback, rendered, ids))

        timings = {"beam": 0.0, "scored": 0.0, "sequential": 0.0}
        counts = {"beam": 0, "scored": 0, "sequential": 0}
        for tree, feedback, rendered, ids in prompts:
            start = time.perf_counter()
            model.decode_beams(rendered, ids)
            timings["beam"] += time.perf_counter() - start
            counts["beam"] += args.beams

            texts = []
            for cand in enumerator.propose(tree, feedback)[: args.rerank]:
                try:
                    texts.append(encode_edit(cand.edit, rendered))
                except (EditFormatError, KeyError, ValueError):
                    continue
            start = time.perf_counter()
            with bf16_autocast():
                scores = edit_log_probs(model.model, model.tokenizer, ids, texts)
            timings["scored"] += time.perf_counter() - start
            counts["scored"] += sum(score is not None for score in scores)

            inputs = torch.tensor([ids])
            start = time.perf_counter()
            with torch.no_grad():
                for _ in range(args.beams):
                    model.model.generate(inputs, attention_mask=torch.ones_like(inputs), do_sample=True, top_k=0,
                                         max_new_tokens=min(MAX_EDIT_TOKENS, 24), use_cache=False, pad_token_id=0)
            timings["sequential"] += time.perf_counter() - start
            counts["sequential"] += args.beams
        rates = {k: round(counts[k] / timings[k], 1) for k in timings}
        report = {"prompts": len(prompts), "beams": args.beams, "bf16": BF16, "torch_threads": torch.get_num_threads(),
                  "proposals_per_second": rates,
                  "beam_vs_sequential": round(rates["beam"] / rates["sequential"], 2),
                  "scored_vs_sequential": round(rates["scored"] / rates["sequential"], 2)}
        if args.repair:
            proposers = make_proposers(args.proposer, args.checkpoint)
            seconds = []
            solved = 0
            for problem, prepared in tasks[: args.repair]:
                result = repair(prepared.task.source, prepared.task.suite, sandbox, RepairConfig(budget=64),
                                proposers=proposers, initial_run=prepared.initial_run, intent=problem.text)
                seconds.append(result.seconds)
                solved += result.solved
            seconds.sort()
            report["repair"] = {"proposer": args.proposer, "tasks": len(seconds), "solved": solved, "budget": 64,
                                "median_seconds": round(statistics.median(seconds), 2),
                                "p90_seconds": round(seconds[math.ceil(0.9 * len(seconds)) - 1], 2)}  # nearest rank
    print(json.dumps(report))


if __name__ == "__main__":
    main()
