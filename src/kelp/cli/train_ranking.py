"""``kelp train`` commands of the search's learned ranking: its data (``search-data``), the
LightGBM ranker (``ranker``), the naturalness model of its features (``naturalness``) and the
neural cross-encoder it is compared with (``cross-encoder``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kelp.cli._console import UserError, err
from kelp.cli._paths import RAY_HELP
from kelp.cli.train import train_app


def _check_search_data(folders: list[Path]) -> None:
    """Raise :class:`UserError` naming every folder that holds no search data."""
    missing = [str(d) for d in folders if not (d / "tasks.jsonl").is_file()]
    if missing:
        raise UserError(f"not search-data folders (no tasks.jsonl): {', '.join(missing)}")


@train_app.command("search-data")
def train_search_data_cmd(
    out: Path = typer.Option(Path("runs/search-data"), "--out", help="Data folder (tasks.jsonl, candidates.jsonl, summary.json); a rerun resumes."),
    split: str = typer.Option("train", "--split", help="MBPP training split: train, validation or prompt (never test)."),
    n: Optional[int] = typer.Option(None, "--n", help="Use only the first N problems."),
    steps: str = typer.Option("1", "--steps", help="Forward-process steps, comma-separated (one task per problem and value)."),
    seeds: str = typer.Option("0", "--seeds", help="Forward-process seeds, comma-separated."),
    visible_tests: int = typer.Option(1, "--visible-tests", help="Tests the search sees; the rest label its candidates."),
    budget: int = typer.Option(64, "--budget", help="Candidate executions per task."),
    seconds: float = typer.Option(30.0, "--seconds", help="Wall-clock limit per task."),
    timeout: float = typer.Option(2.0, "--timeout", help="Seconds per test."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Sandbox worker processes."),
    ranker: Optional[Path] = typer.Option(None, "--ranker", help="Order the search's proposals with this ranker file (default: the proposers' own order)."),
    policy: str = typer.Option("realistic", "--policy", help="Forward process: realistic; calls (forgotten, discarded and confused calls, as people write them); excess (an extra conjunct, guard, statement or call)."),
    ray: Optional[str] = typer.Option(None, "--ray", help=RAY_HELP),
) -> None:
    """Run the repair search on MBPP training problems and store every candidate it runs, labelled correct, plausible_wrong or failing by the task's whole suite (data for a learned ranker).

    Exit status: 0 done; 2 bad settings, or OUT holds data made with other settings; 130 / 143 interrupted (finished tasks are kept)."""
    from kelp.cli import _signals
    from kelp.train.search_data import SearchDataConfig, SearchDataError, generate_search_data

    try:
        config = SearchDataConfig(split=split, n=n, steps=tuple(int(s) for s in steps.split(",") if s.strip()),
                                  seeds=tuple(int(s) for s in seeds.split(",") if s.strip()),
                                  visible_tests=visible_tests, budget=budget, seconds=seconds, test_timeout=timeout,
                                  ranker=None if ranker is None else str(ranker), policy=policy)
        config.check()
    except ValueError as exc:
        raise UserError(f"bad settings: {exc}") from None
    _signals.set_interrupt_note(_signals.results_written(out / "tasks.jsonl"))
    try:
        summary = generate_search_data(config, out, workers=workers, ray=ray)
    except SearchDataError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(summary, indent=2))


@train_app.command("ranker")
def train_ranker_cmd(
    data: list[Path] = typer.Option(..., "--data", help="Search-data folder from `kelp train search-data` (repeatable)."),
    out: Path = typer.Option(Path("runs/ranker.json"), "--out", help="Ranker file to write (JSON)."),
    trees: int = typer.Option(200, "--trees", help="Boosting rounds."),
    leaves: int = typer.Option(7, "--leaves", help="Leaves per tree."),
    learning_rate: float = typer.Option(0.05, "--lr", help="Learning rate."),
    seed: int = typer.Option(0, "--seed", help="LightGBM seed."),
    validate: Optional[list[Path]] = typer.Option(None, "--validate", help="Search-data folder of a tuning split (e.g. MBPP validation) to report ranks on (repeatable)."),
    balance_families: bool = typer.Option(False, "--balance-families", help="Weigh every family of fix alike, not by how often the forward process makes it."),
    exclude: Optional[list[str]] = typer.Option(None, "--exclude", help="A feature the ranker may not use (repeatable), e.g. family."),
) -> None:
    """Train the search's proposal ranker (LightGBM LambdaRank) on search-labelled data; prints the report (held-out rank of the first correct proposal, proposers' order vs ranker).

    Exit status: 0 trained; 2 missing data folders, bad settings, or too little data."""
    import sys

    from kelp.train.ranker_trainer import RankerConfig, RankerTrainingError, train_ranker

    _check_search_data([*data, *(validate or [])])
    if trees < 1 or leaves < 2 or learning_rate <= 0:
        raise UserError("--trees must be >= 1, --leaves >= 2 and --lr > 0")
    config = RankerConfig(trees=trees, leaves=leaves, learning_rate=learning_rate, seed=seed,
                          balance_families=balance_families, exclude=tuple(exclude or ()))
    try:
        report = train_ranker(data, out, config, command=" ".join(["kelp", *sys.argv[1:]]), validate=validate or [])
    except RankerTrainingError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(report, indent=2))
    err.print(f"ranker written to {out}")


@train_app.command("naturalness")
def train_naturalness_cmd(
    corpus: Path = typer.Option(Path("runs/corpus"), "--corpus", help="Corpus folder from `kelp train corpus` (or its functions.jsonl)."),
    out: Path = typer.Option(Path("runs/naturalness/ngram.safetensors"), "--out", help="Model file to write (safetensors)."),
    min_count: int = typer.Option(5, "--min-count", help="Occurrences for an identifier or number to enter the vocabulary."),
    max_vocab: int = typer.Option(20000, "--max-vocab", help="Largest vocabulary."),
    min_trigram: int = typer.Option(2, "--min-trigram", help="Occurrences for a trigram to be kept."),
) -> None:
    """Count the naturalness model (a Kneser-Ney token trigram model of code lines) that the ranker's naturalness features use; prints its report.

    Exit status: 0 written; 2 missing or empty corpus, or bad settings."""
    from kelp.train.naturalness_trainer import NaturalnessTrainingError, NgramConfig, train_ngram

    if min_count < 1 or min_trigram < 1 or max_vocab < 16:
        raise UserError("--min-count and --min-trigram must be >= 1 and --max-vocab >= 16")
    try:
        report = train_ngram(corpus, out, NgramConfig(min_count=min_count, max_vocab=max_vocab, min_trigram=min_trigram))
    except NaturalnessTrainingError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(report, indent=2))
    err.print(f"naturalness model written to {out}")


@train_app.command("cross-encoder")
def train_cross_encoder_cmd(
    data: list[Path] = typer.Option(..., "--data", help="Search-data folder from `kelp train search-data` (repeatable)."),
    out: Path = typer.Option(Path("runs/cross-encoder"), "--out", help="Run directory (settings, metrics, curves, checkpoint/); a rerun resumes."),
    base: Optional[Path] = typer.Option(None, "--base", help="Edit-model checkpoint to start from (default: the bundled one)."),
    steps: int = typer.Option(300, "--steps", help="Optimizer steps."),
    groups: int = typer.Option(8, "--groups", help="States per step."),
    group_size: int = typer.Option(8, "--group-size", help="Candidates per state."),
    lr: float = typer.Option(1e-4, "--lr", help="Peak learning rate."),
    eval_groups: int = typer.Option(200, "--eval-groups", help="Held-out states scored at the end."),
    seed: int = typer.Option(0, "--seed", help="Seed of the batches."),
    header: bool = typer.Option(False, "--header", help="Start each patch text with the proposal's family, op, suspiciousness and rank."),
    until: Optional[int] = typer.Option(None, "--until", help="Stop after this step (resume later)."),
) -> None:
    """Fine-tune the edit model into a patch cross-encoder on search-labelled data (same states and held-out tasks as `kelp train ranker`); prints the held-out ranks of the first correct candidate.

    Exit status: 0 trained; 2 missing data, bad settings, too little data, or OUT holds another run; 130 / 143 interrupted (the last checkpoint is kept)."""
    from kelp.models.edit_model import CheckpointError
    from kelp.train.cross_encoder_trainer import CrossEncoderConfig, CrossEncoderTrainError, train_cross_encoder

    _check_search_data(data)
    config = CrossEncoderConfig(data=[str(d) for d in data], base=None if base is None else str(base), steps=steps,
                                groups=groups, group_size=group_size, lr=lr, eval_every=steps,
                                eval_groups=eval_groups, seed=seed, header=header)
    try:
        report = train_cross_encoder(config, out, until=until)
    except (CrossEncoderTrainError, CheckpointError) as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(report, indent=2))
    err.print(f"cross-encoder written to {out / 'checkpoint'}")
