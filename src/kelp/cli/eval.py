"""``kelp eval``: one subcommand per kind of measurement, each with only its own options.

``kelp eval repair BENCH`` (repair benchmarks), ``kelp eval projects`` (seeded bugs in real
packages, judged by their full suites), ``kelp eval refine`` (the graph denoiser on
token-noised MBPP programs), ``kelp eval search`` (code retrieval), ``kelp eval generate``
(workflow generation). Each writes its results under ``--out`` (default a folder in ``runs/``)
and prints a summary on stdout. The old one-command forms (``kelp eval mbpp``) and renamed flags
fail with exit status 2 and a message naming the new form.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperCommand, TyperGroup

from kelp.cli import _signals
from kelp.cli._console import UserError, err, out
from kelp.cli._paths import CORPUS_DEFAULT_HELP, RANKER_HELP, RAY_HELP, WORKFLOW_MODEL, corpus_roots, ranker_setting
from kelp.cli.repair import PROPOSER_HELP

#: Benchmarks of ``kelp eval repair`` (plus ``jsonl:PATH``), once subcommands of ``kelp eval``.
REPAIR_BENCHES = ("mbpp", "mbpp-validation", "quixbugs", "humanbugs")


class _EvalGroup(TyperGroup):
    """``kelp eval``: a benchmark name where a subcommand belongs is the old form; say the new one."""

    def resolve_command(self, ctx, args):
        if args and (args[0] in REPAIR_BENCHES or args[0].startswith("jsonl:")):
            raise UserError(f"`kelp eval {args[0]}` is now `kelp eval repair {args[0]}`")
        return super().resolve_command(ctx, args)


class _EvalCommand(TyperCommand):
    """A ``kelp eval`` subcommand that, given a flag it lacks, names the right one: its new name
    (``renamed``: old -> new) or the sibling subcommands that take it (the old ``kelp eval`` took
    every flag of every benchmark)."""

    renamed: dict[str, str] = {}

    def parse_args(self, ctx, args):
        own = {opt for param in self.params for opt in (*param.opts, *param.secondary_opts)}
        siblings = ctx.parent.command.commands if ctx.parent is not None else {}
        for arg in args:
            if arg == "--":
                break
            flag = arg.split("=", 1)[0]
            if not flag.startswith("--") or flag in own:
                continue
            if flag in self.renamed:
                raise UserError(f"`kelp eval {self.name} {flag}` is now `kelp eval {self.name} {self.renamed[flag]}`")
            owners = [f"`kelp eval {name}`" for name, command in siblings.items()
                      if name != self.name and any(flag in param.opts for param in command.params)]
            if owners:
                raise UserError(f"`kelp eval {self.name}` has no {flag}: it is an option of {' and '.join(owners)}")
        return super().parse_args(ctx, args)


class _RefineCommand(_EvalCommand):
    renamed = {"--graph-checkpoint": "--checkpoint"}


eval_app = typer.Typer(cls=_EvalGroup, no_args_is_help=True,
                       help="Measure repair, refinement, search and generation; results go to --out as they come.")


@eval_app.command("repair", cls=_EvalCommand)
def eval_repair_cmd(
    bench: str = typer.Argument(..., help="mbpp (the test split), mbpp-validation, quixbugs, humanbugs (hand-written human-style bugs, the development set), or jsonl:PATH (your own tasks)."),
    steps: int = typer.Option(1, "--steps", help="Mutations per task (mbpp)."),
    corruption: str = typer.Option("realistic", "--corruption", help="realistic or bank (mbpp)."),
    n: Optional[int] = typer.Option(None, "--n", help="Use only the first N tasks."),
    budget: int = typer.Option(256, "--budget", help="Candidate executions per task."),
    seed: int = typer.Option(0, "--seed"),
    seconds: float = typer.Option(120.0, "--seconds", help="Wall-clock limit per task."),
    timeout: float = typer.Option(2.0, "--timeout", help="Seconds per test."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Result directory (default runs/eval-BENCH-...)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Sandbox worker processes."),
    proposer: str = typer.Option("enum", "--proposer", help=PROPOSER_HELP),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Edit-model checkpoint for --proposer model/both (default: the bundled one)."),
    graph_checkpoint: Optional[Path] = typer.Option(None, "--graph-checkpoint", help="Graph-denoiser checkpoint for --proposer graph (default: the bundled one)."),
    no_feedback: bool = typer.Option(False, "--no-feedback", help="Hide the tests and their results from the edit model."),
    model_weight: float = typer.Option(0.1, "--model-weight", help="--proposer both: share of the model in the mixture (0 = enumerator's order)."),
    visible_tests: Optional[int] = typer.Option(None, "--visible-tests", help="Show the search only K tests of each task (a failing one first); the task's whole suite then judges each repair (overfit_share). Assert and check() suites only."),
    ranker: str = typer.Option("bundled", "--ranker", help=RANKER_HELP),
    ray: Optional[str] = typer.Option(None, "--ray", help=RAY_HELP),
) -> None:
    """Repair every task of a benchmark; writes DIR/results.jsonl as it goes (a rerun resumes) and DIR/summary.json, and prints the summary.

    Exit status: 0 done; 2 bad settings, or DIR holds a run with other settings; 130 / 143 interrupted (the results written so far are kept)."""
    from kelp.bench.evaluate import EvalConfig, run_eval

    if steps < 1 or budget < 1 or (n is not None and n < 1) or (visible_tests is not None and visible_tests < 1):
        raise UserError("--steps, --budget, --n and --visible-tests must be >= 1")
    try:
        ranking = ranker_setting(ranker)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    config = EvalConfig(bench=bench, steps=steps, corruption=corruption, n=n, budget=budget, seed=seed,
                        seconds=seconds, test_timeout=timeout, proposer=proposer,
                        checkpoint=str(checkpoint) if checkpoint else None, feedback=not no_feedback,
                        model_weight=model_weight, graph_checkpoint=str(graph_checkpoint) if graph_checkpoint else None,
                        visible_tests=visible_tests, ranker=ranking)
    if out_dir is None:
        name = bench.replace(":", "-").replace("/", "_")
        out_dir = Path("runs") / (f"eval-{name}-steps{steps}-{corruption}-seed{seed}" + (f"-n{n}" if n else "")
                                  + (f"-visible{visible_tests}" if visible_tests else "")
                                  + ("" if ranking is None else "-ranker" if ranking == "bundled"
                                     else f"-ranker-{Path(ranking).stem}"))
    _signals.set_interrupt_note(_signals.results_written(out_dir / "results.jsonl"))
    summary = run_eval(config, out_dir, workers=workers, ray=ray)
    keys = ("n", "solved", "solved_rate", "ci95", "solved_at", "restored_rate", "equivalent",
            "median_seconds", "max_seconds", "localization_top1", "dropped", "overfit_share",
            "differential_correct", "overfit_share_differential")
    out.print_json(json.dumps({k: summary[k] for k in keys}))
    err.print(f"results in {out_dir}/")


@eval_app.command("refine", cls=_RefineCommand)
def eval_refine_cmd(
    rate: float = typer.Option(0.2, "--rate", help="Fraction of token slots noised."),
    iterations: int = typer.Option(5, "--iterations", help="Refinement steps at most."),
    signal: str = typer.Option("ochiai", "--signal", help="Test signal: none, binary, tarantula or ochiai."),
    n: Optional[int] = typer.Option(None, "--n", help="Use only the first N tasks."),
    seed: int = typer.Option(0, "--seed"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Graph-denoiser checkpoint (default: the bundled one)."),
    timeout: float = typer.Option(2.0, "--timeout", help="Seconds per test."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Result directory (default runs/refine-rateR-TI-SIGNAL-seedS...)."),
    ray: Optional[str] = typer.Option(None, "--ray", help=RAY_HELP),
) -> None:
    """Refine token-noised MBPP programs (test split) with the graph denoiser; writes DIR/results.jsonl as it goes (a rerun resumes) and DIR/summary.json, and prints the summary.

    Exit status: 0 done; 2 bad settings; 130 / 143 interrupted (the results written so far are kept)."""
    from kelp.bench.refine_eval import RefineEvalConfig, run_refine_eval

    config = RefineEvalConfig(rate=rate, iterations=iterations, signal=signal, n=n, seed=seed,
                              checkpoint=str(checkpoint) if checkpoint else None, test_timeout=timeout)
    config.check()
    out_dir = out_dir or Path("runs") / (f"refine-rate{rate}-T{iterations}-{signal}-seed{seed}" + (f"-n{n}" if n else ""))
    _signals.set_interrupt_note(_signals.results_written(out_dir / "results.jsonl"))
    out.print_json(json.dumps({k: v for k, v in run_refine_eval(config, out_dir, ray=ray).items() if k != "config"}))


@eval_app.command("search", cls=_EvalCommand)
def eval_search_cmd(
    retrievers: str = typer.Option("bm25,minilm,ours,hybrid,rrf", "--retrievers", help="Retrievers to measure, comma-separated."),
    n: Optional[int] = typer.Option(None, "--n", help="Measure a seeded sample of N queries (default: all)."),
    seed: int = typer.Option(0, "--seed"),
    encoder_checkpoint: Optional[Path] = typer.Option(None, "--encoder-checkpoint", help="kelp code-encoder checkpoint (default: the bundled one)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Result directory (default runs/search-seedS...)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Embed the index's chunks as Ray tasks: 'local' or HOST:PORT (needs pip install 'kelp[scale]')."),
) -> None:
    """Docstring -> function retrieval on held-out code, per retriever; prints a table of MRR@10 and recall with 95% CIs.

    Exit status: 0 done; 2 bad settings."""
    from kelp.bench.search_eval import SearchEvalConfig, results_table, run_search_eval

    config = SearchEvalConfig(retrievers=tuple(r.strip() for r in retrievers.split(",") if r.strip()), n=n,
                              seed=seed, encoder_checkpoint=str(encoder_checkpoint) if encoder_checkpoint else None)
    config.check()
    out_dir = out_dir or Path("runs") / (f"search-seed{seed}" + (f"-n{n}" if n else ""))
    summary = run_search_eval(config, out_dir, ray=ray)
    out.print(results_table(summary), markup=False)
    err.print(f"{summary['queries']} queries over {summary['documents']} functions; results in {out_dir}/")


@eval_app.command("generate", cls=_EvalCommand)
def eval_generate_cmd(
    model_dir: Optional[Path] = typer.Option(None, "--model", help="`kelp train structured` run folder (default: the bundled workflow model)."),
    baseline_dir: Optional[Path] = typer.Option(None, "--baseline", help="Run folder of the plain-BPE baseline (--tokens bpe)."),
    completions: int = typer.Option(1000, "--completions", help="Completions of held-out prefixes."),
    baseline_samples: int = typer.Option(200, "--baseline-samples", help="Unconstrained baseline samples."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature."),
    corpus: list[Path] = typer.Option([], "--corpus", help=f"Corpus folder (repeatable); {CORPUS_DEFAULT_HELP}."),
    phases: str = typer.Option("codec,scratch,completions,bits_per_byte,baseline_samples", "--phases", help="Phases to run, comma-separated."),
    max_len: int = typer.Option(2048, "--max-len", help="Most tokens per sampled document (prompt included); bits per byte always use the model's context."),
    n: Optional[int] = typer.Option(None, "--n", help="Samples from scratch (default 1000)."),
    seed: int = typer.Option(0, "--seed"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Result directory (default runs/eval-generate-seedS)."),
) -> None:
    """Validity, diversity and held-out bits per byte of generated workflows, against a plain-BPE baseline; writes DIR/results.json after each phase (a rerun skips those done) and prints a table.

    The held-out split is by repository and the starter workflows always stay in training, so on the default corpus alone only the codec, scratch and baseline_samples phases run; the completions and bits_per_byte phases stop with exit status 2 unless --corpus adds folders of other repositories (the published numbers used kelp's staged workflows and workflows-extra corpora).

    Exit status: 0 done; 2 bad settings or corpus."""
    from kelp.bench.generate_eval import evaluate_generation, results_table

    roots = corpus_roots(corpus)
    if any(not Path(r).is_dir() for r in roots):
        raise UserError(f"corpus folder not found: {next(r for r in roots if not Path(r).is_dir())}")
    if temperature <= 0 or (n is not None and n < 1) or completions < 0 or baseline_samples < 0:
        raise UserError("--temperature must be > 0; --n, --completions and --baseline-samples must not be negative")
    out_dir = out_dir or Path("runs") / f"eval-generate-seed{seed}"
    results = evaluate_generation(model_dir or WORKFLOW_MODEL, baseline_dir, roots, out_dir,
                                  n_samples=n or 1000, n_completions=completions, n_baseline=baseline_samples,
                                  temperature=temperature, seed=seed, max_len=max_len,
                                  phases=tuple(p.strip() for p in phases.split(",") if p.strip()))
    out.print(results_table(results), markup=False)
    err.print(f"results in {out_dir}/results.json")


@eval_app.command("projects", cls=_EvalCommand)
def eval_projects_cmd(
    n: int = typer.Option(100, "--n", help="Bugs in all, spread evenly over the projects."),
    budget: int = typer.Option(256, "--budget", help="Candidate executions per bug."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bugs."),
    seconds: float = typer.Option(120.0, "--seconds", help="Wall-clock limit per repair."),
    timeout: float = typer.Option(2.0, "--timeout", help="Seconds per test in the repair."),
    projects: str = typer.Option("", "--projects", help="Projects to use, comma-separated (default: all of cachetools, tabulate, colorama, sqlparse, webcolors)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Result directory (default runs/eval-projects-seedS-nN)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Sandbox worker processes."),
    regression: bool = typer.Option(True, "--regression/--no-regression", help="As kelp repair --regression: patches must keep the project's default pytest run passing."),
    ranker: str = typer.Option("bundled", "--ranker", help=RANKER_HELP),
    ray: Optional[str] = typer.Option(None, "--ray", help=RAY_HELP),
) -> None:
    """Repair seeded bugs in real packages (their own pytest suites, vendored sdists) as `kelp repair FILE --pytest SELECTION` would, and judge each patch by the package's FULL suite; writes DIR/bugs.json, DIR/results.jsonl as it goes (a rerun resumes) and DIR/summary.json, and prints the summary.

    Exit status: 0 done; 2 bad settings, or DIR holds a run with other settings; 130 / 143 interrupted (the results written so far are kept)."""
    from kelp.bench.projects_eval import ProjectsEvalConfig, run_projects_eval

    try:
        ranking = ranker_setting(ranker)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    config = ProjectsEvalConfig(n=n, budget=budget, seed=seed, seconds=seconds, test_timeout=timeout,
                                projects=tuple(p.strip() for p in projects.split(",") if p.strip()),
                                regression=regression, ranker=ranking)
    config.check()
    out_dir = out_dir or Path("runs") / f"eval-projects-seed{seed}-n{n}"
    _signals.set_interrupt_note(_signals.results_written(out_dir / "results.jsonl"))
    summary = run_projects_eval(config, out_dir, workers=workers, ray=ray)
    keys = ("n", "repaired", "repaired_rate", "ci95", "overfit", "overfit_rate", "not_repaired", "false_claims",
            "median_seconds", "failure_kinds", "per_project", "per_location", "dropped")
    out.print_json(json.dumps({k: summary[k] for k in keys}))
    err.print(f"results in {out_dir}/")


@eval_app.command("curves", cls=_EvalCommand)
def eval_curves_cmd(
    runs: list[Path] = typer.Argument(..., help="Result folders of `kelp eval repair` runs to compare."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the solved@budget curves into this PNG."),
) -> None:
    """Print the solved@budget table (budgets 1..256) of several `kelp eval repair` runs as JSON, over the tasks every run finished; --plot draws the curves.

    Exit status: 0 done; 2 a folder that is not an eval run."""
    from kelp.bench.curves import CurvesError, compare_runs

    try:
        table = compare_runs(runs, plot)
    except CurvesError as exc:
        raise UserError(str(exc)) from None
    out.print_json(json.dumps(table))
    if plot is not None:
        err.print(f"plot written to {plot}")
