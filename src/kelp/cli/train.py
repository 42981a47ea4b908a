"""``kelp train``: build the edit model's corpus and train the learned parts (each run resumes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kelp.cli import _torchrun
from kelp.cli._console import UserError, err
from kelp.cli._paths import CORPUS_DEFAULT_HELP, RAY_HELP, corpus_roots

train_app = typer.Typer(no_args_is_help=True, help="Build training data and train the learned proposers.")

train_app.callback()(_torchrun.join)


@train_app.command("corpus")
def train_corpus_cmd(
    out: Path = typer.Option(Path("runs/corpus"), "--out", help="Directory for functions.jsonl and report.json."),
    stdlib: bool = typer.Option(True, "--stdlib/--no-stdlib", help="Read the running interpreter's standard library."),
    packages: Optional[str] = typer.Option(None, "--packages", help="Comma-separated import names (default: kelp's list, those installed)."),
) -> None:
    """Build the edit model's corpus: functions from the standard library and installed
    packages, deduplicated and decontaminated against MBPP and QuixBugs."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kelp.train.corpus import DEFAULT_PACKAGES, CorpusConfig, build_corpus

    config = CorpusConfig(packages=tuple(p.strip() for p in packages.split(",") if p.strip()) if packages
                          else DEFAULT_PACKAGES, stdlib=stdlib)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def progress(label, done, total):
            bar.update(task, description=f"reading {label}", completed=done, total=total)

        report = build_corpus(out, config, progress=progress)
    out_data = report.to_json()
    summary = {k: out_data[k] for k in ("files", "unreadable_files", "functions_seen", "kept", "dropped")}
    print(json.dumps(summary, indent=2))


@train_app.command("edit")
def train_edit_cmd(
    out: Path = typer.Option(Path("runs/edit-model"), "--out", help="Run directory (checkpoint, metrics.jsonl, curves.png); a rerun resumes."),
    corpus: Path = typer.Option(Path("runs/corpus"), "--corpus", help="Corpus built by `kelp train corpus`."),
    steps: int = typer.Option(2000, "--steps", help="Optimizer steps."),
    batch: int = typer.Option(16, "--batch", help="Examples per step."),
    lr: float = typer.Option(1e-3, "--lr", help="Peak learning rate."),
    eval_every: int = typer.Option(200, "--eval-every", help="Steps between held-out repair evaluations and checkpoints."),
    eval_tasks: int = typer.Option(40, "--eval-tasks", help="Held-out MBPP validation tasks per evaluation."),
    mbpp_share: float = typer.Option(0.3, "--mbpp-share", help="Fraction of examples from MBPP train tasks (with test feedback)."),
    hidden: int = typer.Option(256, "--hidden", help="Model width."),
    layers: int = typer.Option(4, "--layers", help="Transformer layers."),
    context: int = typer.Option(512, "--context", help="Longest example in tokens (longer ones are skipped)."),
    seed: int = typer.Option(0, "--seed", help="Seed for weights and the example stream."),
    until: Optional[int] = typer.Option(None, "--until", help="Stop after this step (checkpointed); the schedule stays that of --steps."),
    log_every: int = typer.Option(20, "--log-every", help="Steps per training row of OUT/metrics.jsonl."),
) -> None:
    """Train the edit model on CPU (resumes from OUT/checkpoint when it exists); under torchrun, data-parallel (docs/scaling.md)."""
    from dataclasses import asdict

    from kelp.models.edit_model import ModelSize
    from kelp.train.edit_trainer import TrainConfig, train_edit_model

    if steps < 1 or batch < 1 or eval_every < 1 or not 0 <= mbpp_share <= 1 or hidden % 4:
        raise UserError("--steps, --batch and --eval-every must be positive, --mbpp-share in [0, 1], --hidden a multiple of 4")
    size = ModelSize(hidden=hidden, layers=layers, intermediate=hidden * 11 // 4, context=context)
    config = TrainConfig(corpus=str(corpus), steps=steps, batch=batch, lr=lr, eval_every=eval_every,
                         eval_tasks=eval_tasks, mbpp_share=mbpp_share, seed=seed, size=asdict(size))
    if (until is not None and until < 1) or log_every < 1:
        raise UserError("--until and --log-every must be positive")
    _torchrun.print_result(train_edit_model(config, out, until=until, log_every=log_every))


@train_app.command("expert-iteration")
def train_expert_iteration_cmd(
    out: Path = typer.Option(Path("runs/expert-iteration"), "--out", help="Run folder (rounds.jsonl, round-K/); a rerun resumes."),
    rounds: int = typer.Option(3, "--rounds", help="Search + fine-tune rounds."),
    split: str = typer.Option("train", "--split", help="MBPP training split searched: train or prompt (never test)."),
    n: Optional[int] = typer.Option(None, "--n", help="Search only the first N problems."),
    steps: str = typer.Option("1,2", "--steps", help="Forward-process steps, comma-separated (one task per problem and value)."),
    seed: int = typer.Option(0, "--seed", help="Round K corrupts with forward seed SEED + K."),
    budget: int = typer.Option(64, "--budget", help="Candidate executions per searched task."),
    model_weight: float = typer.Option(0.1, "--model-weight", help="The edit model's share of the `both` mixture."),
    finetune_steps: int = typer.Option(300, "--finetune-steps", help="Optimizer steps per round."),
    batch: int = typer.Option(16, "--batch", help="Examples per step."),
    lr: float = typer.Option(3e-4, "--lr", help="Peak learning rate of each round."),
    replay: float = typer.Option(0.5, "--replay", help="Share of fresh synthetic examples mixed into the proved repairs."),
    eval_n: Optional[int] = typer.Option(None, "--eval-n", help="MBPP validation tasks judged each round (default: all)."),
    eval_budget: int = typer.Option(64, "--eval-budget", help="Budget of each round's evaluation (the model alone gets at most 16)."),
    initial: Optional[Path] = typer.Option(None, "--initial", help="Starting edit-model checkpoint (default: the bundled one)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Sandbox worker processes."),
    ray: Optional[str] = typer.Option(None, "--ray", help=RAY_HELP + " The searches and the evaluations run on Ray; the fine-tune here."),
) -> None:
    """Expert iteration of the edit model: search MBPP training problems with the model guiding the enumerator, fine-tune it on the repairs proved correct (tests and differential tests), repeat; each round is judged on MBPP validation next to the enumerator. Prints the rounds as JSON.

    Exit status: 0 done; 2 bad settings, an unusable checkpoint, or OUT holds a run with other settings; 130 / 143 interrupted (finished stages are kept)."""
    from kelp.bench.evaluate import validation_judge
    from kelp.cli import _signals
    from kelp.models.edit_model import CheckpointError
    from kelp.train.expert_iteration import ExpertIterationConfig, ExpertIterationError, run_expert_iteration
    from kelp.scale import connect

    try:
        config = ExpertIterationConfig(
            rounds=rounds, split=split, n=n, steps=tuple(int(s) for s in steps.split(",") if s.strip()), seed=seed,
            budget=budget, model_weight=model_weight, finetune_steps=finetune_steps, batch=batch, lr=lr,
            replay=replay, eval_n=eval_n, eval_budget=eval_budget, initial=None if initial is None else str(initial))
        config.check()
    except ValueError as exc:
        raise UserError(f"bad settings: {exc}") from None
    _signals.set_interrupt_note(_signals.results_written(out / "rounds.jsonl"))
    try:
        judge = validation_judge(n=config.eval_n, budget=config.eval_budget, model_weight=config.model_weight,
                                 test_timeout=config.test_timeout, workers=workers, ray=ray)
        with connect(ray):
            rows = run_expert_iteration(config, out, judge, workers=workers, ray=bool(ray))
    except (ExpertIterationError, CheckpointError) as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(rows, indent=2))


@train_app.command("graph")
def train_graph_cmd(
    out: Path = typer.Option(Path("runs/graph-model"), "--out", help="Run directory (checkpoint, metrics.jsonl, curves.png); a rerun resumes."),
    corpus: Path = typer.Option(Path("runs/corpus"), "--corpus", help="Corpus built by `kelp train corpus`."),
    steps: int = typer.Option(4000, "--steps", help="Optimizer steps."),
    batch: int = typer.Option(32, "--batch", help="Programs per step."),
    lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate."),
    signal: str = typer.Option("ochiai", "--signal", help="Test signal: none, binary, tarantula or ochiai."),
    ss_max: float = typer.Option(0.95, "--ss-max", help="Scheduled sampling: final probability of training on the model's own rollout (0 = off)."),
    test_guided: bool = typer.Option(False, "--test-guided", help="Weigh slots on suspicious lines more in the loss."),
    conv: str = typer.Option("gat", "--conv", help="Message passing: gat (GATv2 with edge types), gps (GATv2 plus global self-attention, GraphGPS) or unet (GraphUNet)."),
    hidden: int = typer.Option(128, "--hidden", help="Model width."),
    layers: int = typer.Option(4, "--layers", help="Message-passing layers."),
    eval_every: int = typer.Option(250, "--eval-every", help="Steps between held-out evaluations and checkpoints."),
    eval_tasks: int = typer.Option(40, "--eval-tasks", help="Held-out MBPP validation programs per evaluation."),
    seed: int = typer.Option(0, "--seed", help="Seed for weights and examples."),
    until: Optional[int] = typer.Option(None, "--until", help="Stop after this step (checkpointed); the schedule stays that of --steps."),
) -> None:
    """Train the graph denoiser on CPU with scheduled sampling (resumes from OUT/checkpoint)."""
    from kelp.train.graph_trainer import GraphTrainConfig, train_graph_model

    if steps < 1 or batch < 1 or eval_every < 1 or (until is not None and until < 1):
        raise UserError("--steps, --batch, --eval-every and --until must be positive")
    config = GraphTrainConfig(corpus=str(corpus), steps=steps, batch=batch, lr=lr, signal=signal, ss_max=ss_max,
                              test_guided=test_guided, eval_every=eval_every, eval_tasks=eval_tasks, seed=seed,
                              model={"hidden": hidden, "layers": layers, "heads": 4, "conv": conv})
    config.check()
    _torchrun.print_result(train_graph_model(config, out, until=until))


@train_app.command("encoder")
def train_encoder_cmd(
    out: Path = typer.Option(Path("runs/code-encoder"), "--out", help="Run directory (checkpoint, metrics.jsonl, curves.png); a rerun resumes."),
    corpus: Path = typer.Option(Path("runs/corpus"), "--corpus", help="Corpus built by `kelp train corpus`."),
    steps: int = typer.Option(3000, "--steps", help="Optimizer steps."),
    batch: int = typer.Option(64, "--batch", help="(docstring, code) pairs per step; the others in the batch are the negatives."),
    lr: float = typer.Option(5e-4, "--lr", help="Peak learning rate."),
    hidden: int = typer.Option(256, "--hidden", help="Transformer width."),
    layers: int = typer.Option(4, "--layers", help="Transformer layers."),
    eval_every: int = typer.Option(500, "--eval-every", help="Steps between validation MRR@10 and checkpoints."),
    seed: int = typer.Option(0, "--seed", help="Seed for weights, split and batches."),
    until: Optional[int] = typer.Option(None, "--until", help="Stop after this step (checkpointed); the schedule stays that of --steps."),
) -> None:
    """Train kelp's code bi-encoder contrastively on CPU (resumes from OUT/checkpoint)."""
    from kelp.train.encoder_trainer import EncoderTrainConfig, train_code_encoder

    if steps < 1 or eval_every < 1 or (until is not None and until < 1):
        raise UserError("--steps, --eval-every and --until must be positive")
    config = EncoderTrainConfig(corpus=str(corpus), steps=steps, batch=batch, lr=lr, eval_every=eval_every, seed=seed,
                                model={"hidden": hidden, "layers": layers, "heads": 4, "dim": 256})
    config.check()
    _torchrun.print_result(train_code_encoder(config, out, until=until))


@train_app.command("structured")
def train_structured_cmd(
    schema: Optional[Path] = typer.Option(None, "--schema", help="JSON Schema (draft-07) of the documents; default: the bundled GitHub workflow schema."),
    corpus: list[Path] = typer.Option([], "--corpus", help=f"Corpus folder (repeatable); {CORPUS_DEFAULT_HELP}."),
    out: Path = typer.Option(Path("runs/structured-tct"), "--out", help="Run directory (codec, checkpoint, metrics.jsonl, curves.png); a rerun resumes."),
    tokens: str = typer.Option("tct", "--tokens", help="tct: schema-aware tokens; bpe: the baseline, plain byte-level BPE of the YAML text."),
    steps: int = typer.Option(3000, "--steps", help="Optimizer steps."),
    batch_tokens: int = typer.Option(12288, "--batch-tokens", help="Tokens per batch (whole documents, padded)."),
    lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate."),
    hidden: int = typer.Option(256, "--hidden", help="Transformer width."),
    layers: int = typer.Option(4, "--layers", help="Transformer layers."),
    ffn: int = typer.Option(640, "--ffn", help="Feed-forward width."),
    max_len: int = typer.Option(2048, "--max-len", help="Longest document (tokens) used for training."),
    strings: int = typer.Option(2048, "--strings", help="tct: whole-string tokens (schema names and enum values first, then the corpus's most frequent strings)."),
    subwords: int = typer.Option(2048, "--subwords", help="tct: byte-level BPE subwords for other strings (bpe: the vocabulary matches tct's total size)."),
    eval_every: int = typer.Option(250, "--eval-every", help="Steps between held-out loss and checkpoints."),
    seed: int = typer.Option(0, "--seed", help="Seed for weights, split and batches."),
    until: Optional[int] = typer.Option(None, "--until", help="Stop after this step (checkpointed); the schedule stays that of --steps."),
) -> None:
    """Train a tiny causal LM on whole schema-valid documents (resumes from OUT/checkpoint)."""
    from kelp.models.structured_lm import LMSize
    from kelp.structured.workflow_corpus import SCHEMA_PATH
    from kelp.train.structured_trainer import StructuredTrainConfig, train_structured

    roots = corpus_roots(corpus)
    missing = [r for r in roots if not Path(r).is_dir()]
    if missing:
        raise UserError(f"corpus folder not found: {missing[0]}")
    schema_path = schema or SCHEMA_PATH
    if not Path(schema_path).is_file():
        raise UserError(f"schema not found: {schema_path}")
    if until is not None and until < 1:
        raise UserError("--until must be positive")
    size = LMSize(hidden=hidden, layers=layers, heads=4, ffn=ffn, max_len=max_len)
    config = StructuredTrainConfig(schema=str(schema_path), corpus=roots, tokens=tokens, steps=steps,
                                   batch_tokens=batch_tokens, lr=lr, eval_every=eval_every, seed=seed,
                                   n_strings=strings, n_subwords=subwords, size=size.__dict__.copy())
    config.check()
    _torchrun.print_result(train_structured(config, out, until=until))
