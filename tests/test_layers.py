"""Imports follow the layers of ARCHITECTURE.md ("Layers (imports point down only)").

Every ``.py`` file under ``src/kelp`` is parsed (nothing is imported) and every import of a kelp
module is checked, including imports inside functions and relative imports. A package may import
its own rank or lower; ``train`` and ``bench`` never import each other; ``program`` imports
nothing of kelp outside itself and never torch, torch_geometric or transformers.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC_KELP = Path(__file__).resolve().parents[1] / "src" / "kelp"

#: Rank of each top-level unit of kelp (a package, or a module such as ``errors.py``); higher may
#: import lower or same.
RANKS = {
    "errors": 0,  # kelp/errors.py: the KelpError base every layer's user-facing errors share
    "bpe": 0,  # kelp/bpe.py: the one byte-level BPE builder (tokenizers imported inside it)
    "progress": 0,  # kelp/progress.py: the one progress bar (rich, on stderr)
    "program": 0, "execute": 0, "structured": 0,
    "scale": 0,  # kelp/scale/: the map over units of work, here or as Ray tasks (ray imported inside)
    "corrupt": 1,
    "datasets": 2,
    "models": 3,
    "repair": 4, "retrieval": 4,
    "train": 5, "bench": 5,
    "cli": 6,
}
#: Pairs of the same rank that must not import each other (importer, target).
FORBIDDEN_SIDEWAYS = {("train", "bench"), ("bench", "train")}
#: Heavy libraries ``program`` never imports.
PROGRAM_FORBIDDEN_LIBS = {"torch", "torch_geometric", "transformers"}
#: Parts of kelp that are not checked (the package root and the bundled data files).
IGNORED = {"__init__", "data"}


def _unit_of(module: str) -> str | None:
    """The top-level unit of a dotted kelp module name (``kelp.repair.search`` -> ``repair``);
    ``None`` for non-kelp modules and for ``kelp`` itself."""
    parts = module.split(".")
    if parts[0] != "kelp" or len(parts) < 2:
        return None
    return parts[1]


def _module_of(path: Path, root: Path) -> list[str]:
    """Dotted name parts of the module at ``path`` (``root`` is the ``kelp`` package directory)."""
    rel = path.relative_to(root).with_suffix("")
    return ["kelp", *rel.parts]


def _imported_modules(node: ast.AST, module_parts: list[str], is_package: bool, kelp_dir: Path) -> list[str]:
    """Absolute dotted names one import statement brings in (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level == 0:
        base = node.module or ""
    else:
        package = module_parts if is_package else module_parts[:-1]
        drop = node.level - 1
        anchor = package[:len(package) - drop] if drop else package
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    # ``from kelp import bench`` (or ``from .. import bench``) imports the units named by the aliases;
    # a name that is no module of kelp (``__version__``) is an attribute of ``kelp/__init__.py``.
    if base == "kelp":
        return [f"kelp.{alias.name}"
                if (kelp_dir / alias.name).is_dir() or (kelp_dir / f"{alias.name}.py").is_file() else "kelp"
                for alias in node.names]
    return [base]


def check_layers(kelp_dir: Path) -> list[str]:
    """Every layer violation under ``kelp_dir`` (a ``kelp`` package directory), as
    ``file:line importer -> target`` strings (``file`` relative to ``kelp_dir``'s parent)."""
    kelp_dir = Path(kelp_dir)
    violations: list[tuple[str, int, str]] = []
    for path in sorted(kelp_dir.rglob("*.py")):
        parts = _module_of(path, kelp_dir)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        importer = parts[1] if len(parts) > 1 else "__init__"  # kelp/cli.py -> "cli"
        if importer in IGNORED:
            continue
        rel = path.relative_to(kelp_dir.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for module in _imported_modules(node, parts, is_package, kelp_dir):
                top = module.split(".")[0]
                if importer == "program" and top in PROGRAM_FORBIDDEN_LIBS:
                    violations.append((rel, node.lineno, f"{importer} -> {module}"))
                    continue
                target = _unit_of(module)
                if target is None or target in IGNORED or target == importer:
                    continue
                if importer == "program":
                    violations.append((rel, node.lineno, f"{importer} -> {target}"))
                elif (importer, target) in FORBIDDEN_SIDEWAYS:
                    violations.append((rel, node.lineno, f"{importer} -> {target}"))
                elif target not in RANKS or importer not in RANKS:
                    violations.append((rel, node.lineno, f"{importer} -> {target} (unknown unit)"))
                elif RANKS[target] > RANKS[importer]:
                    violations.append((rel, node.lineno, f"{importer} -> {target}"))
    return [f"{rel}:{line} {what}" for rel, line, what in sorted(violations)]


def test_imports_follow_the_layers():
    assert (SRC_KELP / "cli" / "__init__.py").is_file() and (SRC_KELP / "datasets" / "__init__.py").is_file()
    violations = check_layers(SRC_KELP)
    assert not violations, "layer violations:\n" + "\n".join(violations)


def test_checker_reports_violations(tmp_path):
    kelp = tmp_path / "kelp"
    (kelp / "program").mkdir(parents=True)
    (kelp / "train").mkdir()
    (kelp / "repair").mkdir()
    (kelp / "__init__.py").write_text("from kelp.cli import main\n__version__ = '0'\n")
    (kelp / "cli.py").write_text("from kelp import __version__\nfrom kelp.train import y\n")
    (kelp / "program" / "__init__.py").write_text("")
    (kelp / "program" / "x.py").write_text(
        "from kelp.program.tree import parse\n"
        "from kelp.repair.search import repair\n")
    (kelp / "program" / "z.py").write_text(
        "def f():\n"
        "    import torch_geometric.data\n"
        "    from . import x\n")
    (kelp / "train" / "__init__.py").write_text("")
    (kelp / "train" / "y.py").write_text(
        "import os\n"
        "from kelp.models import edit_model\n"
        "\n"
        "def g():\n"
        "    import kelp.bench.evaluate\n")
    (kelp / "repair" / "r.py").write_text(
        "from ..models import graph_model\n"
        "from ..train import corpus\n"
        "from kelp import cli\n")
    assert check_layers(kelp) == [
        "kelp/program/x.py:2 program -> repair",
        "kelp/program/z.py:2 program -> torch_geometric.data",
        "kelp/repair/r.py:2 repair -> train",
        "kelp/repair/r.py:3 repair -> cli",
        "kelp/train/y.py:5 train -> bench",
    ]
