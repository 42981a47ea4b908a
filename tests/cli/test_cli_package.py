"""The shape of `kelp.cli`: small command modules, no heavy import at start-up, the entry point,
and the bundled default workflow corpus."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kelp.cli
from kelp.cli._paths import STARTER_WORKFLOWS

CLI_DIR = Path(kelp.cli.__file__).resolve().parent
HEAVY = ("torch", "transformers", "torch_geometric", "numpy", "sentence_transformers", "ray")


def test_every_cli_module_is_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in CLI_DIR.glob("*.py")}
    assert {"__init__.py", "repair.py", "eval.py", "index.py", "generate.py", "train.py", "doctor.py",
            "_console.py"} <= set(sizes)
    assert max(sizes.values()) <= 300, sizes


def test_importing_the_cli_imports_nothing_heavy():
    code = ("import sys, kelp.cli\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", (proc.stdout, proc.stderr)


def test_the_entry_point_is_kelp_cli_main():
    (point,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "kelp"]
    assert point.value == "kelp.cli:main" and point.load() is kelp.cli.main


def test_the_bundled_default_corpus_is_the_starter_workflows():
    from kelp.structured.workflow_corpus import load_corpus

    assert (STARTER_WORKFLOWS / "LICENSE").read_text().startswith("MIT License")
    report = load_corpus(STARTER_WORKFLOWS)
    # 184 files; 2 templates do not parse as YAML, 5 more break the schema (VALIDATION.md of the staged data)
    assert report.layout == "starter-workflows" and len(report.docs) == 182 and report.n_valid == 177
    assert report.repos == ["actions/starter-workflows"]
    # the package data glob of pyproject.toml ("data/**/*") ships it
    shipped = {p for p in (CLI_DIR.parent).glob("data/**/*") if p.is_file()}
    assert set(STARTER_WORKFLOWS.iterdir()) <= shipped and len(list(STARTER_WORKFLOWS.iterdir())) == 186


@pytest.mark.parametrize("command", [["eval", "generate"], ["train", "structured"]])
def test_the_help_states_the_default_corpus(command):
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", *command, "--help"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "400"})
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.replace("│", " ").split())
    assert "default: the bundled actions/starter-workflows templates (kelp/data/workflows/starter-workflows" in text
