"""The `kelp` command line: parses flags, calls the jobs, prints. Nothing else lives here."""

from __future__ import annotations

import ast
import difflib
import json
import shlex
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from kelp.errors import KelpError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Repair, refine, search and generate structured code with small models on a CPU.")
err = Console(stderr=True, highlight=False)
#: Human-facing results (tables, search hits); soft_wrap: a long line is never broken in two.
#: Output other programs read (diffs, YAML) goes to sys.stdout as it is, not through rich.
out = Console(highlight=False, soft_wrap=True)


def _print_version(value: bool) -> None:
    if value:
        from kelp import __version__

        print(f"kelp {__version__}")
        raise typer.Exit(0)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print kelp's version and exit.")) -> None:
    """Repair, refine, search and generate structured code with small models on a CPU."""


class UserError(KelpError):
    """Bad input from the user: printed as one line, exit status 2."""


#: Largest program (and tests file) `kelp repair` accepts, in bytes, checked with ``stat`` before
#: the file is read: a bigger file is almost certainly not one buggy function plus context, and
#: parsing, localizing and enumerating edits over it would take minutes.
MAX_SOURCE_BYTES = 1_000_000
#: Most functions (and methods, nested included) a program given to `kelp repair` may define.
MAX_FUNCTIONS = 2_000


def _read_text(path: Path, what: str) -> str:
    """The text of ``path`` (the program or the tests file, named ``what`` in messages).

    Raises :class:`UserError` when it is missing or not a regular file, larger than
    :data:`MAX_SOURCE_BYTES` (checked before reading), unreadable, binary (contains NUL bytes)
    or not UTF-8."""
    try:
        info = path.stat()
    except OSError:
        raise UserError(f"{what} not found: {path}") from None
    if not path.is_file():
        raise UserError(f"{what} is not a regular file: {path}")
    if info.st_size > MAX_SOURCE_BYTES:
        raise UserError(f"{path} is too large: {info.st_size:,} bytes (the limit is {MAX_SOURCE_BYTES:,})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise UserError(f"{path} is a binary file (it contains NUL bytes), not Python source")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _suite_from_tests_file(path: Path, program: str, program_path: Path):
    from kelp.execute.suites import TestSuite

    text = _read_text(path, "tests file")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise UserError(f"{path}:{exc.lineno}: the tests file does not parse ({exc.msg})") from None
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if any(name.startswith("test") for name in names):
        return TestSuite.from_pytest([str(path.resolve())], program_path=str(program_path.resolve()))
    if "check" in names:
        defined = [n.name for n in ast.parse(program).body if isinstance(n, ast.FunctionDef)]
        if not defined:
            raise UserError("the program defines no function for check(candidate) to test")
        return TestSuite.from_check(text, defined[0])
    asserts = [ast.get_source_segment(text, n) for n in tree.body if isinstance(n, ast.Assert)]
    setup = "\n".join(ast.get_source_segment(text, n) for n in tree.body if not isinstance(n, ast.Assert))
    if not asserts:
        raise UserError(f"{path} has no tests: give assert statements, a check(candidate) function or test_* functions")
    return TestSuite.from_asserts(asserts, setup=setup)


@app.command("repair")
def repair_cmd(
    file: Path = typer.Argument(..., help="Python file with the buggy function."),
    tests: Optional[Path] = typer.Option(None, "--tests", help="File of assert statements, a check(candidate) function, or test_* functions."),
    pytest_args: Optional[str] = typer.Option(None, "--pytest", help='pytest arguments, e.g. "tests/test_mod.py".'),
    budget: int = typer.Option(256, "--budget", help="Candidate executions at most."),
    timeout: float = typer.Option(2.0, "--timeout", help="Seconds per test before it counts as hung."),
    seconds: float = typer.Option(120.0, "--seconds", help="Wall-clock limit for the whole search."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the diff and report."),
    proposer: str = typer.Option("enum", "--proposer", help="enum, model (the edit model), both, graph (the graph denoiser), or several joined by commas (both,graph)."),
    graph_checkpoint: Optional[Path] = typer.Option(None, "--graph-checkpoint", help="Graph-denoiser checkpoint for --proposer graph (and for eval refine)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Edit-model checkpoint for --proposer model/both."),
    no_feedback: bool = typer.Option(False, "--no-feedback", help="Hide the tests and their results from the edit model."),
    model_weight: float = typer.Option(0.1, "--model-weight", help="--proposer both: share of the model in the mixture (0 = enumerator's order)."),
) -> None:
    """Find the smallest edit that makes every test pass; print it as a unified diff.

    --seconds bounds the whole run (parsing, the sandbox, localization, proposing and running candidates). Nothing is written to any file.

    Exit status: 0 repaired; 1 not repaired (search exhausted or out of time); 2 bad input (missing, binary, non-UTF-8, too large or unparsable files, unusable tests); 3 nothing to repair (every test already passes); 130 interrupted (SIGINT); 143 terminated (SIGTERM).
    """
    started = time.monotonic()
    from kelp.execute.sandbox import Limits
    from kelp.execute.suites import TestSuite
    from kelp.program.tree import ProgramSyntaxError, functions, parse
    from kelp.repair.search import RepairConfig, repair

    _set_interrupt_note("nothing written")
    if (tests is None) == (pytest_args is None):
        raise UserError("give exactly one of --tests FILE or --pytest \"ARGS\"")
    if budget < 1 or timeout <= 0 or seconds <= 0:
        raise UserError("--budget must be >= 1, --timeout and --seconds > 0")
    source = _read_text(file, "file")
    try:
        tree = parse(source)
    except ProgramSyntaxError as exc:
        raise UserError(f"{file} does not parse: {exc}") from None
    defined = functions(tree)
    if not defined:
        raise UserError(f"{file} defines no function to repair")
    if len(defined) > MAX_FUNCTIONS:
        raise UserError(f"{file} defines {len(defined):,} functions (the limit is {MAX_FUNCTIONS:,})")
    if tests is not None:
        suite = _suite_from_tests_file(tests, source, file)
    else:
        args = shlex.split(pytest_args)
        resolved = [str(Path(a).resolve()) if not a.startswith("-") and Path(a.split("::")[0]).exists() else a
                    for a in args]
        suite = TestSuite.from_pytest(resolved, program_path=str(file.resolve()), rootdir=str(Path.cwd()))
    from kelp.bench.evaluate import EvalError, make_proposers

    try:
        proposers = make_proposers(proposer, str(checkpoint) if checkpoint else None, feedback=not no_feedback,
                                   weight=model_weight, graph_checkpoint=str(graph_checkpoint) if graph_checkpoint else None)
    except EvalError as exc:
        raise UserError(str(exc)) from None
    docstrings = [ast.get_docstring(node) or "" for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    with _sandbox(limits=Limits(test_timeout=timeout)) as sandbox:
        if suite.kind == "pytest":
            suite = sandbox.collect(source, suite)
            if not suite.tests:
                raise UserError("pytest collected no tests (do the tests import the program?)")
        with err.status("repairing..."):
            left = max(0.0, seconds - (time.monotonic() - started))
            result = repair(source, suite, sandbox, RepairConfig(budget=budget, seconds=left),
                            proposers=proposers, intent=next((d for d in docstrings if d), ""))
    already = result.solved and not result.edits  # repair() made no edit: nothing failed
    status = "already_passing" if already else "repaired" if result.solved else "not_repaired"
    diff = "" if already else "".join(difflib.unified_diff(
        source.splitlines(keepends=True), result.repaired.splitlines(keepends=True),
        fromfile=f"a/{file}", tofile=f"b/{file}"))
    if as_json:
        payload = {"status": status} | result.to_json() | {"file": str(file), "diff": diff}
        print(json.dumps(payload))
    if already:
        err.print(f"nothing to repair: all {result.tests_before[1]} tests already pass")
        raise typer.Exit(3)
    if not as_json:
        if result.solved and diff:
            sys.stdout.write(diff)  # byte for byte: rich would wrap long lines and expand tabs
        b_pass, b_total = result.tests_before
        a_pass, a_total = result.tests_after
        outcome = "repaired" if result.solved else f"not repaired ({result.reason})"
        err.print(f"{outcome}: tests {b_pass}/{b_total} -> {a_pass}/{a_total} passing; "
                  f"{result.executions} candidates run in {result.seconds:.1f} s")
    raise typer.Exit(0 if result.solved else 1)


@app.command("eval")
def eval_cmd(
    bench: str = typer.Argument(..., help="mbpp (test split), mbpp-validation, quixbugs, jsonl:PATH, refine (the graph denoiser on token-noised MBPP programs), or search (docstring -> function retrieval on held-out code)"),
    steps: int = typer.Option(1, "--steps", help="Mutations per task (mbpp)."),
    corruption: str = typer.Option("realistic", "--corruption", help="realistic or bank (mbpp)."),
    n: Optional[int] = typer.Option(None, "--n", help="Use only the first N tasks."),
    budget: int = typer.Option(256, "--budget", help="Candidate executions per task."),
    seed: int = typer.Option(0, "--seed"),
    seconds: float = typer.Option(120.0, "--seconds", help="Wall-clock limit per task."),
    timeout: float = typer.Option(2.0, "--timeout", help="Seconds per test."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Result directory (default runs/eval-BENCH-...)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Sandbox worker processes."),
    proposer: str = typer.Option("enum", "--proposer", help="enum, model (the edit model), both, graph (the graph denoiser), or several joined by commas (both,graph)."),
    graph_checkpoint: Optional[Path] = typer.Option(None, "--graph-checkpoint", help="Graph-denoiser checkpoint for --proposer graph (and for eval refine)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Edit-model checkpoint for --proposer model/both."),
    no_feedback: bool = typer.Option(False, "--no-feedback", help="Hide the tests and their results from the edit model."),
    model_weight: float = typer.Option(0.1, "--model-weight", help="--proposer both: share of the model in the mixture (0 = enumerator's order)."),
    rate: float = typer.Option(0.2, "--rate", help="refine: fraction of token slots noised."),
    iterations: int = typer.Option(5, "--iterations", help="refine: refinement steps at most."),
    signal: str = typer.Option("ochiai", "--signal", help="refine: test signal: none, binary, tarantula or ochiai."),
    retrievers: str = typer.Option("bm25,minilm,ours,hybrid,rrf", "--retrievers", help="search: retrievers to measure, comma-separated."),
    encoder_checkpoint: Optional[Path] = typer.Option(None, "--encoder-checkpoint", help="search: kelp code-encoder checkpoint (default: the bundled one)."),
    model_dir: Optional[Path] = typer.Option(None, "--model", help="generate: `kelp train structured` run folder (default: the bundled workflow model)."),
    baseline_dir: Optional[Path] = typer.Option(None, "--baseline", help="generate: run folder of the plain-BPE baseline (--tokens bpe)."),
    completions: int = typer.Option(1000, "--completions", help="generate: completions of held-out prefixes."),
    baseline_samples: int = typer.Option(200, "--baseline-samples", help="generate: unconstrained baseline samples."),
    temperature: float = typer.Option(1.0, "--temperature", help="generate: sampling temperature."),
    corpus: list[Path] = typer.Option([], "--corpus", help="generate: corpus folders (default: ../shared/data/workflows and workflows-extra)."),
    phases: str = typer.Option("codec,scratch,completions,bits_per_byte,baseline_samples", "--phases", help="generate: phases to run, comma-separated."),
    max_len: int = typer.Option(2048, "--max-len", help="generate: most tokens per sampled document (prompt included); bits per byte always use the model's context."),
) -> None:
    """Repair every task of a benchmark (or, for `refine`, refine token-noised MBPP programs);
    writes DIR/results.jsonl as it goes and DIR/summary.json."""
    from kelp.bench.evaluate import EvalConfig, run_eval

    if bench == "search":
        from kelp.bench.search_eval import SearchEvalConfig, results_table, run_search_eval

        config = SearchEvalConfig(retrievers=tuple(r.strip() for r in retrievers.split(",") if r.strip()), n=n,
                                  seed=seed, encoder_checkpoint=str(encoder_checkpoint) if encoder_checkpoint else None)
        config.check()
        out_dir = out_dir or Path("runs") / (f"search-seed{seed}" + (f"-n{n}" if n else ""))
        summary = run_search_eval(config, out_dir)
        out.print(results_table(summary), markup=False)
        err.print(f"{summary['queries']} queries over {summary['documents']} functions; results in {out_dir}/")
        return

    if bench == "generate":
        from kelp.bench.generate_eval import evaluate_generation, results_table

        roots = [str(p) for p in corpus] or _DEFAULT_CORPORA
        if any(not Path(r).is_dir() for r in roots):
            raise UserError(f"corpus folder not found: {next(r for r in roots if not Path(r).is_dir())}")
        if temperature <= 0 or (n is not None and n < 1) or completions < 0 or baseline_samples < 0:
            raise UserError("--temperature must be > 0; --n, --completions and --baseline-samples must not be negative")
        out_dir = out_dir or Path("runs") / f"eval-generate-seed{seed}"
        results = evaluate_generation(model_dir or _bundled_workflow_model(), baseline_dir, roots, out_dir,
                                      n_samples=n or 1000, n_completions=completions, n_baseline=baseline_samples,
                                      temperature=temperature, seed=seed, max_len=max_len,
                                      phases=tuple(p.strip() for p in phases.split(",") if p.strip()))
        out.print(results_table(results), markup=False)
        err.print(f"results in {out_dir}/results.json")
        return

    if bench == "refine":
        from kelp.bench.refine_eval import RefineEvalConfig, run_refine_eval

        config = RefineEvalConfig(rate=rate, iterations=iterations, signal=signal, n=n, seed=seed,
                                  checkpoint=str(graph_checkpoint or checkpoint) if (graph_checkpoint or checkpoint) else None,
                                  test_timeout=timeout)
        config.check()
        out_dir = out_dir or Path("runs") / (f"refine-rate{rate}-T{iterations}-{signal}-seed{seed}" + (f"-n{n}" if n else ""))
        _set_interrupt_note(lambda: _results_written(out_dir / "results.jsonl"))
        out.print_json(json.dumps({k: v for k, v in run_refine_eval(config, out_dir).items() if k != "config"}))
        return

    if steps < 1 or budget < 1 or (n is not None and n < 1):
        raise UserError("--steps, --budget and --n must be >= 1")
    config = EvalConfig(bench=bench, steps=steps, corruption=corruption, n=n, budget=budget, seed=seed,
                        seconds=seconds, test_timeout=timeout, proposer=proposer,
                        checkpoint=str(checkpoint) if checkpoint else None, feedback=not no_feedback,
                        model_weight=model_weight, graph_checkpoint=str(graph_checkpoint) if graph_checkpoint else None)
    if out_dir is None:
        name = bench.replace(":", "-").replace("/", "_")
        out_dir = Path("runs") / (f"eval-{name}-steps{steps}-{corruption}-seed{seed}" + (f"-n{n}" if n else ""))
    _set_interrupt_note(lambda: _results_written(out_dir / "results.jsonl"))
    summary = run_eval(config, out_dir, workers=workers)
    keys = ("n", "solved", "solved_rate", "ci95", "solved_at", "restored_rate", "equivalent",
            "median_seconds", "max_seconds", "localization_top1", "dropped")
    out.print_json(json.dumps({k: summary[k] for k in keys}))
    err.print(f"results in {out_dir}/")


@app.command("doctor")
def doctor_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
) -> None:
    """Say which sandbox layers are in force on this machine (started for real in one worker).

    Exit status: 0 every layer active, 1 some missing (the table says what that leaves open)."""
    from kelp.execute.doctor import diagnose

    report = diagnose()
    if as_json:
        print(json.dumps(report))
    else:  # plain lines: never wrapped, whatever the terminal
        for row in report["layers"]:
            print(f"{row['layer']:<11} {'yes' if row['active'] else 'NO':<4} {row['detail']}  [{row['purpose']}]")
        who = f"root, jobs run as private uid {report['private_uid']}" if report["root"] else "not root"
        print(f"python: {report['python']} ({who})")
    for warning in report["warnings"]:
        err.print(f"kelp: warning: {warning}")
    raise typer.Exit(0 if all(row["active"] for row in report["layers"]) else 1)


@app.command("index")
def index_cmd(
    path: Path = typer.Argument(..., help="Directory to index (a repository; .gitignore, vendored and binary files are skipped)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Index directory (default: .kelp-index at the root of the git repository holding PATH, else PATH/.kelp-index); a rerun updates only changed files."),
    encoders: str = typer.Option("ours", "--encoders", help="Dense encoders, comma-separated: ours (kelp's code encoder), minilm (all-MiniLM-L6-v2), or none for BM25 only."),
    exclude: list[str] = typer.Option([], "--exclude", metavar="GLOB", help="Skip files whose path relative to PATH matches GLOB (fnmatch; a GLOB without / also matches any one path component, one ending in / a directory). Repeatable."),
    include_tests: bool = typer.Option(False, "--include-tests", help="Index tests too. By default these are excluded: test_*.py, *_test.py, tests/, test/, conftest.py."),
) -> None:
    """Build or update a code-search index (SQLite + BM25 + dense vectors).

    The index goes to .kelp-index at the root of the repository holding PATH (the nearest of PATH and its parents with a .git; PATH itself if none), or to --out DIR.

    Tests are left out unless --include-tests: the default exclude patterns are test_*.py, *_test.py, tests/, test/ and conftest.py (kelp.retrieval.chunking.DEFAULT_EXCLUDES); --exclude GLOB adds more.

    Prints where the index went on stderr and a JSON summary (only that) on stdout."""
    from kelp.retrieval.chunking import exclude_patterns
    from kelp.retrieval.encoders import load_encoder
    from kelp.retrieval.index import build_index, default_index_dir

    names = [] if encoders.strip() == "none" else [e.strip() for e in encoders.split(",") if e.strip()]
    if len(set(names)) != len(names):
        raise UserError("--encoders lists an encoder twice")
    out_dir = (out_dir or default_index_dir(path)).absolute()
    stats = build_index(path, out_dir, [load_encoder(n) for n in names],
                        exclude=exclude_patterns(exclude, include_tests=include_tests))
    err.print(f"index written to {out_dir} ({stats.chunks} chunks)", markup=False, soft_wrap=True)
    print(json.dumps({"index": str(out_dir), **stats.__dict__}))


@app.command("search")
def search_cmd(
    query: str = typer.Argument(..., help="What you are looking for, in words or identifiers."),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="Index directory built by `kelp index` (default: the first .kelp-index in the current directory or a parent)."),
    k: int = typer.Option(10, "-k", "--k", help="Hits to show."),
    retriever: str = typer.Option("hybrid", "--retriever", help="bm25, dense (the index's first encoder), ours, minilm, hybrid (learned weighted sum of all) or rrf (reciprocal rank fusion of all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the hits as JSON."),
    lines: int = typer.Option(6, "--lines", help="Snippet lines per hit (0 for none)."),
) -> None:
    """Search an index: ranked hits with path:line, score, a one-line explanation and a snippet.

    Without --index, uses the first .kelp-index directory found walking up from the current directory to the filesystem root; none found is an error (exit status 2)."""
    from rich.syntax import Syntax

    from kelp.retrieval.index import find_index
    from kelp.retrieval.search import CodeSearcher

    hits = CodeSearcher(index_dir if index_dir is not None else find_index()).search(query, k=k, retriever=retriever)
    if as_json:
        print(json.dumps([h.to_json() for h in hits], indent=2))
        return
    if not hits:
        err.print("no hits")
    for hit in hits:
        c = hit.chunk
        out.print(f"[bold]{hit.rank}. {c.path}:{c.start_line}[/bold]  {c.name}  [dim]score {hit.score:.4f}[/dim]")
        out.print(f"   {c.explanation}  ({c.tier})", markup=False, style="italic")
        if lines > 0:
            snippet = "\n".join(c.text.splitlines()[:lines])
            lexer = "python" if c.language == "python" else ("markdown" if c.language == "markdown" else "text")
            out.print(Syntax(snippet, lexer, line_numbers=True, start_line=c.start_line, word_wrap=True))


train_app = typer.Typer(no_args_is_help=True, help="Build training data and train the learned proposers.")
app.add_typer(train_app, name="train")


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
) -> None:
    """Train the edit model on CPU (resumes from OUT/checkpoint when it exists)."""
    from dataclasses import asdict

    from kelp.models.edit_model import ModelSize
    from kelp.train.edit_trainer import TrainConfig, train_edit_model

    if steps < 1 or batch < 1 or eval_every < 1 or not 0 <= mbpp_share <= 1 or hidden % 4:
        raise UserError("--steps, --batch and --eval-every must be positive, --mbpp-share in [0, 1], --hidden a multiple of 4")
    size = ModelSize(hidden=hidden, layers=layers, intermediate=hidden * 11 // 4, context=context)
    config = TrainConfig(corpus=str(corpus), steps=steps, batch=batch, lr=lr, eval_every=eval_every,
                         eval_tasks=eval_tasks, mbpp_share=mbpp_share, seed=seed, size=asdict(size))
    if until is not None and until < 1:
        raise UserError("--until must be positive")
    print(json.dumps(train_edit_model(config, out, until=until)))


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
    print(json.dumps(train_graph_model(config, out, until=until)))


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
    print(json.dumps(train_code_encoder(config, out, until=until)))




def _bundled_workflow_model() -> Path:
    return Path(__file__).resolve().parent / "models" / "checkpoints" / "workflow_lm"


@app.command("generate")
def generate_cmd(
    kind: Optional[str] = typer.Argument(None, help="workflow: GitHub Actions workflows with the bundled model; omit with --model."),
    model_dir: Optional[Path] = typer.Option(None, "--model", help="A `kelp train structured` run folder (its codec carries the schema)."),
    schema: Optional[Path] = typer.Option(None, "--schema", help="The JSON Schema; must match the one the model was trained with."),
    prefix: Optional[Path] = typer.Option(None, "--prefix", help="A YAML (or JSON) document to continue: generation goes on inside its last open mapping or list."),
    n: int = typer.Option(1, "-n", "--n", help="Documents to generate."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature (> 0)."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    max_len: int = typer.Option(2048, "--max-len", help="Most tokens per document, prefix included; every document is finished within it."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Write each document to DIR/sample-NNN.yml (default: print them)."),
) -> None:
    """Generate schema-valid documents: every sample is complete and valid by construction."""
    from kelp.bench.generate_eval import GenerateEvalError, load_structured_model
    from kelp.structured.codec import SchemaCodec
    from kelp.structured.generate import sample_documents
    from kelp.structured.workflow_yaml import WorkflowYAMLError, dump_workflow, load_workflow

    if kind not in (None, "workflow"):
        raise UserError(f"unknown kind {kind!r}: use `workflow`, or --model DIR for another schema")
    if kind is None and model_dir is None:
        raise UserError("give a kind (`kelp generate workflow`) or --model DIR")
    if n < 1 or temperature <= 0 or max_len < 8:
        raise UserError("-n must be >= 1, --temperature > 0 and --max-len >= 8")
    try:
        model, codec, _ = load_structured_model(model_dir or _bundled_workflow_model())
    except GenerateEvalError as error:
        raise UserError(str(error)) from None
    if not isinstance(codec, SchemaCodec):
        raise UserError(f"{model_dir} is a plain-BPE baseline; generation needs a schema-aware (tct) model")
    if schema is not None:
        try:
            given = json.loads(schema.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UserError(f"cannot read the schema {schema}: {error}") from None
        if given != codec.schema:
            raise UserError(f"{schema} is not the schema this model was trained with")
    prompts = None
    if prefix is not None:
        try:
            text = prefix.read_text(encoding="utf-8")
            doc = json.loads(text) if prefix.suffix == ".json" else load_workflow(text)
        except (OSError, ValueError, WorkflowYAMLError) as error:
            raise UserError(f"cannot read the prefix {prefix}: {error}") from None
        prompts = [codec.encode_prefix(doc)]
    samples = sample_documents(model, codec, n, prompts=prompts, temperature=temperature, seed=seed, max_len=max_len,
                               batch_size=min(n, 32))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(samples):
        text = dump_workflow(s.doc) if isinstance(s.doc, dict) else json.dumps(s.doc, indent=2) + "\n"
        if out_dir is not None:
            (out_dir / f"sample-{i:03d}.yml").write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(f"---\n# sample {i} ({s.new_tokens} tokens)\n{text}")  # YAML documents
    if out_dir is not None:
        err.print(f"{n} documents written to {out_dir}/")

_DEFAULT_CORPORA = ["../shared/data/workflows", "../shared/data/workflows-extra"]


@train_app.command("structured")
def train_structured_cmd(
    schema: Optional[Path] = typer.Option(None, "--schema", help="JSON Schema (draft-07) of the documents; default: the bundled GitHub workflow schema."),
    corpus: list[Path] = typer.Option([], "--corpus", help="Corpus folder (repeatable); default: ../shared/data/workflows and ../shared/data/workflows-extra."),
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

    roots = [str(p) for p in corpus] or _DEFAULT_CORPORA
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
    print(json.dumps(train_structured(config, out, until=until)))


def _is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` means bad input or settings (a :class:`~kelp.errors.KelpError`, of which
    :class:`UserError` is one), printed as one line with exit status 2."""
    return isinstance(exc, KelpError)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (raised by the handler :func:`main` installs).

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception`` swallows it
    and every ``with Sandbox(...)`` on the way out closes (killing the workers and removing
    their temp dirs); not a ``KeyboardInterrupt``, which click would turn into "Aborted!" and
    exit status 1. :func:`main` reports it and exits with ``128 + signum`` (130, 143)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Signal state: ``defer`` > 0 while a signal must not interrupt (sandbox start and close; the
#: signal is raised right after), ``pending`` the signal so held back, ``raised`` once the
#: exception is on its way (later signals are ignored so that the clean-up can finish).
_signals = {"defer": 0, "pending": None, "raised": False}
#: What the current command has done, for the interruption message: a string or a callable.
_interrupt_note: object = "results written so far are kept"


def _set_interrupt_note(note) -> None:
    """Say what the running command has written, for the message if it is interrupted:
    a string, or a callable returning one (called after the command has unwound)."""
    global _interrupt_note
    _interrupt_note = note


def _on_signal(signum: int, frame) -> None:
    if _signals["raised"]:
        return
    if _signals["defer"]:
        _signals["pending"] = signum
        return
    _signals["raised"] = True
    raise Interrupted(signum)


def _raise_pending() -> None:
    if _signals["pending"] is not None and not _signals["raised"] and not _signals["defer"]:
        _signals["raised"] = True
        raise Interrupted(_signals["pending"])


@contextmanager
def _sandbox(**kwargs):
    """``with Sandbox(**kwargs)``, with SIGINT/SIGTERM held back while the workers start and
    while they are killed, so an interruption never leaves a half-started or half-closed pool
    (worker processes or ``kelp-sandbox-*`` temp dirs) behind."""
    from kelp.execute.sandbox import Sandbox

    _signals["defer"] += 1
    try:
        sandbox = Sandbox(**kwargs)
    finally:
        _signals["defer"] -= 1
    try:
        _raise_pending()
        yield sandbox
    finally:
        _signals["defer"] += 1
        try:
            sandbox.close()
        finally:
            _signals["defer"] -= 1
        _raise_pending()


def _results_written(path: Path) -> str:
    from kelp.bench.jsonl import read_records

    return f"{len(read_records(path))} results written to {path} (the same command resumes)"


def main() -> None:
    """Console entry point: user mistakes become one line on stderr and exit status 2;
    SIGINT / SIGTERM unwind the command (closing its sandbox), print what was done and exit
    with status 130 / 143."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # e.g. SIGINT of a background job stays ignored
            signal.signal(signum, _on_signal)
    try:
        app()
    except Interrupted as exc:
        try:
            note = _interrupt_note() if callable(_interrupt_note) else _interrupt_note
        except Exception:  # noqa: BLE001 - the exit status matters more than the note
            note = ""
        err.print(f"kelp: interrupted ({exc}){'; ' + note if note else ''}", markup=False, soft_wrap=True)
        sys.exit(128 + exc.signum)
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        err.print(f"kelp: error: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
