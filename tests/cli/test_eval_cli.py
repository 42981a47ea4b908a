"""`kelp eval`'s subcommands, run as a user runs them: each --help lists only its own options, and
the old one-command forms and renamed flags fail with exit status 2, naming the new form."""

import json
import os
import subprocess
import sys

import pytest

#: The options of each `kelp eval` subcommand (and nothing else).
OPTIONS = {
    "repair": {"--steps", "--corruption", "--n", "--budget", "--seed", "--seconds", "--timeout", "--out",
               "--workers", "--proposer", "--checkpoint", "--graph-checkpoint", "--no-feedback",
               "--model-weight", "--visible-tests", "--ranker", "--ray", "--help"},
    "refine": {"--rate", "--iterations", "--signal", "--n", "--seed", "--checkpoint", "--timeout", "--out",
               "--ray", "--help"},
    "projects": {"--n", "--budget", "--seed", "--seconds", "--timeout", "--projects", "--out", "--workers", "--regression",
                 "--ranker", "--ray", "--help"},
    "curves": {"--plot", "--help"},
    "search": {"--retrievers", "--n", "--seed", "--encoder-checkpoint", "--out", "--ray", "--help"},
    "generate": {"--model", "--baseline", "--completions", "--baseline-samples", "--temperature", "--corpus",
                 "--phases", "--max-len", "--n", "--seed", "--out", "--help"},
}


def kelp(*args, cwd=None):
    env = {**os.environ, "COLUMNS": "200"}  # one option per line in --help
    return subprocess.run([sys.executable, "-m", "kelp.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env=env)


def _listed_options(help_text: str) -> set[str]:
    """The flags in the first column of --help's options panel."""
    return {line.split()[1] for line in help_text.splitlines() if line.startswith("│ --")}


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_each_eval_subcommand_lists_only_its_own_options(command):
    proc = kelp("eval", command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert _listed_options(proc.stdout) == OPTIONS[command]
    assert "<bool>" not in proc.stdout  # flags read as flags


def test_eval_lists_its_subcommands():
    proc = kelp("eval", "--help")
    assert proc.returncode == 0
    for command in OPTIONS:
        assert f"│ {command} " in proc.stdout


def _assert_one_line_error(proc, message):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"kelp: error: {message}"], proc.stderr


@pytest.mark.parametrize("args, bench", [
    (["mbpp", "--steps", "1"], "mbpp"),
    (["mbpp-validation", "--n", "3"], "mbpp-validation"),
    (["quixbugs"], "quixbugs"),
    (["jsonl:tasks.jsonl", "--budget", "16"], "jsonl:tasks.jsonl"),
])
def test_the_old_eval_forms_name_the_new_one(tmp_path, args, bench):
    proc = kelp("eval", *args, cwd=tmp_path)
    _assert_one_line_error(proc, f"`kelp eval {bench}` is now `kelp eval repair {bench}`")
    assert list(tmp_path.iterdir()) == []  # nothing was run: no runs/ folder


@pytest.mark.parametrize("flag", ["--graph-checkpoint", "--graph-checkpoint=ckpt"])
def test_a_renamed_flag_names_the_new_one(tmp_path, flag):
    proc = kelp("eval", "refine", *([flag] if "=" in flag else [flag, "ckpt"]), cwd=tmp_path)
    _assert_one_line_error(proc, "`kelp eval refine --graph-checkpoint` is now `kelp eval refine --checkpoint`")


@pytest.mark.parametrize("args, message", [
    (["refine", "--budget", "16"], "`kelp eval refine` has no --budget: it is an option of `kelp eval repair` and `kelp eval projects`"),
    (["repair", "mbpp", "--rate", "0.5"], "`kelp eval repair` has no --rate: it is an option of `kelp eval refine`"),
    (["search", "--timeout", "1"],
     "`kelp eval search` has no --timeout: it is an option of `kelp eval repair` and `kelp eval refine` and "
     "`kelp eval projects`"),
])
def test_a_flag_of_another_benchmark_names_the_subcommand_that_takes_it(tmp_path, args, message):
    _assert_one_line_error(kelp("eval", *args, cwd=tmp_path), message)


def test_an_unknown_flag_or_subcommand_is_still_a_usage_error(tmp_path):
    assert kelp("eval", "refine", "--psychic", cwd=tmp_path).returncode == 2
    proc = kelp("eval", "nothing", cwd=tmp_path)
    assert proc.returncode == 2 and "No such command" in proc.stderr


def test_eval_settings_are_checked_before_any_work(tmp_path):
    proc = kelp("eval", "repair", "mbpp", "--steps", "0", cwd=tmp_path)
    _assert_one_line_error(proc, "--steps, --budget, --n and --visible-tests must be >= 1")
    proc = kelp("eval", "repair", "mbpp", "--visible-tests", "0", cwd=tmp_path)
    _assert_one_line_error(proc, "--steps, --budget, --n and --visible-tests must be >= 1")
    proc = kelp("eval", "generate", "--corpus", "missing", cwd=tmp_path)
    _assert_one_line_error(proc, "corpus folder not found: missing")
    assert list(tmp_path.iterdir()) == []


def test_eval_generate_runs_on_the_bundled_corpus_and_says_what_held_out_phases_need(tmp_path):
    """The default corpus ships in the package (one repository, so no held-out split): the
    codec phase runs on it; completions are refused with a message, exit 2, no traceback."""
    proc = kelp("eval", "generate", "--phases", "codec", "--out", str(tmp_path / "codec"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "corpus round trips 177/177" in proc.stdout
    proc = kelp("eval", "generate", "--phases", "completions", "--out", str(tmp_path / "held"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "no held-out repository" in proc.stderr and "Traceback" not in proc.stderr


def test_eval_repair_prints_only_its_summary_on_stdout(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"task_id": "inc", "source": "def inc(x):\n    return x - 1\n",
                                 "tests": ["assert inc(1) == 2"]}) + "\n")
    proc = kelp("eval", "repair", f"jsonl:{tasks}", "--budget", "8", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["solved"] == 1  # the progress bar is on stderr
