"""GitHub Actions workflow corpora: load them, check them against the schema, split them.

The schema is SchemaStore's ``github-workflow.json`` (JSON Schema draft-07), bundled with its
license in ``kelp/data/workflows/`` (see the README there). A document is *valid* when
``jsonschema``'s :class:`~jsonschema.Draft7Validator` accepts it without format checking, the
setting under which SchemaStore's own fixtures calibrate: 37 of 37 positive fixtures valid, 20
of 20 negative ones invalid (``VALIDATION.md`` of the shared workflow data).

:func:`load_corpus` reads a directory of workflow files into :class:`WorkflowDoc` records
(repository, path in that repository, JSON data from
:func:`~kelp.structured.workflow_yaml.load_workflow`, validity). The first rule that fits the
directory decides its layout:

1. ``"repositories"``: ``MANIFEST.tsv`` in the root with ``repo`` and ``staged_path`` columns
   (the layout of ``workflows-extra``: one ``Owner__name/`` folder per repository). Exactly the
   manifest's rows are read: the file is ``root/staged_path``, the repository is ``repo`` and
   the path is ``original_path`` (``staged_path`` when the column is absent). Other files
   (``LICENSE``, ``NOTICE``...) are ignored; a row whose file is missing is skipped.
2. ``"starter-workflows"``: ``MANIFEST.tsv`` in the root with a ``staged_name`` column, or a root
   named ``starter-workflows`` (the staged copy of actions/starter-workflows, and the bundled
   ``sample/`` slice of it). Every ``*.yml``/``*.yaml`` file under the root is one document of
   the repository ``actions/starter-workflows``; its path is the manifest's ``path`` for that
   ``staged_name`` (``ci/python-package.yml``), else the file's path relative to the root.
3. ``"starter-workflows"`` again for a root holding a ``starter-workflows/`` folder (the staged
   ``workflows/`` data folder): only that folder is read, as in rule 2. Its siblings are not
   workflows from a repository: ``schemastore-tests/`` holds schema fixtures, half of them
   invalid on purpose, and ``starter-workflows-properties/`` holds JSON metadata.
4. ``"plain"``: any other directory. Every ``*.yml``/``*.yaml`` file under it (recursively) is
   one document of a repository named after the directory; its path is relative to the root.

Files that cannot be read (not UTF-8) or parsed (malformed YAML, not a mapping, not JSON data)
are skipped and listed in :attr:`CorpusReport.skipped`; documents come sorted by
``(repo, path)``, so loading is deterministic.

:func:`split_by_repository` splits documents into train and held-out sets by repository, never
by file, so that no repository's conventions (its action versions, job names, runner labels)
leak from training into evaluation.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

from kelp.errors import KelpError
from kelp.structured.workflow_yaml import WorkflowYAMLError, load_workflow

__all__ = [
    "DATA_DIR",
    "SAMPLE_DIR",
    "SCHEMASTORE_TESTS_DIR",
    "SCHEMA_PATH",
    "STARTER_REPO",
    "CorpusReport",
    "WorkflowCorpusError",
    "WorkflowDoc",
    "is_valid",
    "load_corpus",
    "load_schema",
    "split_by_repository",
    "validator",
]

#: The bundled workflow data (schema, its license and fixtures, a sample of starter workflows).
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "workflows"
#: SchemaStore's JSON Schema for workflow files (draft-07).
SCHEMA_PATH = DATA_DIR / "github-workflow.schema.json"
#: SchemaStore's fixtures for that schema: ``test/`` (valid) and ``negative_test/`` (invalid).
SCHEMASTORE_TESTS_DIR = DATA_DIR / "schemastore-tests"
#: 12 schema-valid files of actions/starter-workflows, with their manifest rows and license.
SAMPLE_DIR = DATA_DIR / "sample"
#: Repository name given to the starter-workflows templates.
STARTER_REPO = "actions/starter-workflows"

_MANIFEST = "MANIFEST.tsv"
_STARTER_DIR = "starter-workflows"
_YAML_SUFFIXES = (".yml", ".yaml")


class WorkflowCorpusError(KelpError, ValueError):
    """A corpus that cannot be loaded or split: a missing root, no workflow in it, a bad
    manifest, an invalid schema, or a held-out share outside (0, 1)."""


@dataclass(frozen=True)
class WorkflowDoc:
    """One workflow file.

    Attributes:
        repo: the repository, ``"owner/name"`` (or the folder name for a plain folder).
        path: the file's path in that repository, ``/``-separated (``.github/workflows/ci.yml``).
        doc: its JSON data, as :func:`~kelp.structured.workflow_yaml.load_workflow` returns it.
        valid: whether the schema accepts ``doc`` (see :func:`is_valid`).
    """

    repo: str
    path: str
    doc: dict
    valid: bool


@dataclass(frozen=True)
class CorpusReport:
    """What :func:`load_corpus` read.

    Attributes:
        root: the directory that was read.
        layout: ``"repositories"``, ``"starter-workflows"`` or ``"plain"`` (module docstring).
        docs: the documents, sorted by ``(repo, path)``.
        skipped: ``(file, reason)`` for every file that could not be read or parsed, ``file``
            relative to ``root`` with ``/`` separators; sorted.
    """

    root: Path
    layout: str
    docs: list[WorkflowDoc] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_valid(self) -> int:
        """How many documents the schema accepts."""
        return sum(doc.valid for doc in self.docs)

    @property
    def repos(self) -> list[str]:
        """The repositories of the documents, sorted."""
        return sorted({doc.repo for doc in self.docs})


def load_schema(path: Path | None = None) -> dict:
    """A JSON Schema read from ``path`` (default: the bundled :data:`SCHEMA_PATH`); a new
    ``dict`` on every call.

    Raises:
        WorkflowCorpusError: the file is missing or not JSON.
    """
    path = SCHEMA_PATH if path is None else Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkflowCorpusError(f"no schema file at {path}") from None
    except json.JSONDecodeError as error:
        raise WorkflowCorpusError(f"schema {path} is not JSON: {error}") from error


#: ``id(schema) -> (schema, validator)``; the schema is kept so that its id is not reused.
_VALIDATORS: dict[int, tuple[dict, Draft7Validator]] = {}
_BUNDLED: list[dict] = []


def validator(schema: dict) -> Draft7Validator:
    """A draft-07 validator for ``schema``, without format checking; built once per schema
    object (the schema is checked against the draft-07 metaschema then, and kept alive by the
    cache: meant for a handful of schemas, not one per call).

    Raises:
        WorkflowCorpusError: ``schema`` is not a valid draft-07 schema.
    """
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as error:
        raise WorkflowCorpusError(f"not a valid draft-07 schema: {error.message}") from error
    built = Draft7Validator(schema)
    _VALIDATORS[id(schema)] = (schema, built)
    return built


def _bundled_schema() -> dict:
    if not _BUNDLED:
        _BUNDLED.append(load_schema())
    return _BUNDLED[0]


def is_valid(doc: object, schema: dict | None = None) -> bool:
    """Whether ``schema`` (default: the bundled workflow schema) accepts the JSON data ``doc``."""
    return validator(_bundled_schema() if schema is None else schema).is_valid(doc)


def _read_manifest(path: Path) -> list[dict[str, str]]:
    """The rows of a tab-separated manifest with a header line, as ``{column: value}``."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _manifest_columns(path: Path) -> set[str]:
    with path.open(encoding="utf-8") as handle:
        return set(handle.readline().rstrip("\r\n").split("\t"))


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in _YAML_SUFFIXES and p.is_file())


def _plan(root: Path) -> tuple[str, list[tuple[Path, str, str]]]:
    """``(layout, [(file, repo, path)])`` for a corpus root (rules in the
    module docstring)."""
    manifest = root / _MANIFEST
    columns = _manifest_columns(manifest) if manifest.is_file() else set()
    if {"repo", "staged_path"} <= columns:
        files = []
        for row in _read_manifest(manifest):
            staged = row.get("staged_path") or ""
            repo = row.get("repo") or ""
            if not staged or not repo:
                raise WorkflowCorpusError(f"{manifest}: a row without repo or staged_path: {row}")
            files.append((root / staged, repo, row.get("original_path") or staged))
        return "repositories", files
    if "staged_name" in columns or root.name == _STARTER_DIR:
        original = {}
        if "staged_name" in columns and "path" in columns:
            original = {row["staged_name"]: row["path"] for row in _read_manifest(manifest)}
        files = []
        for file in _yaml_files(root):
            relative = file.relative_to(root).as_posix()
            files.append((file, STARTER_REPO, original.get(relative, relative)))
        return "starter-workflows", files
    if (root / _STARTER_DIR).is_dir():
        return _plan(root / _STARTER_DIR)
    name = root.resolve().name
    return "plain", [(file, name, file.relative_to(root).as_posix()) for file in _yaml_files(root)]


def load_corpus(root: Path, schema: dict | None = None) -> CorpusReport:
    """Read every workflow file of a corpus directory and check it against the schema.

    Args:
        root: the corpus directory (layouts in the module docstring).
        schema: the JSON Schema for :attr:`WorkflowDoc.valid`; default: the bundled one.

    Returns:
        A :class:`CorpusReport`: the documents sorted by ``(repo, path)``, and the files skipped
        because they could not be read or parsed, with the reason.

    Raises:
        WorkflowCorpusError: ``root`` is not a directory, its manifest is broken, or no file
            in it loads.
    """
    root = Path(root)
    if not root.is_dir():
        raise WorkflowCorpusError(f"corpus root {root} is not a directory")
    layout, files = _plan(root)
    checker = validator(_bundled_schema() if schema is None else schema)
    docs: list[WorkflowDoc] = []
    skipped: list[tuple[str, str]] = []
    for file, repo, path in files:
        shown = file.relative_to(root).as_posix()
        try:
            text = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            skipped.append((shown, "missing file"))
            continue
        except (OSError, UnicodeDecodeError) as error:
            skipped.append((shown, f"unreadable: {error}"))
            continue
        try:
            doc = load_workflow(text)
        except WorkflowYAMLError as error:
            skipped.append((shown, str(error)))
            continue
        docs.append(WorkflowDoc(repo=repo, path=path, doc=doc, valid=checker.is_valid(doc)))
    if not docs:
        detail = f" ({len(skipped)} files skipped, first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise WorkflowCorpusError(f"no workflow file loads from {root}{detail}")
    docs.sort(key=lambda d: (d.repo, d.path))
    return CorpusReport(root=root, layout=layout, docs=docs, skipped=sorted(skipped))


def split_by_repository(
    docs: Iterable[WorkflowDoc], held_out_share: float = 0.15, seed: int = 0
) -> tuple[list[WorkflowDoc], list[WorkflowDoc]]:
    """Split documents into ``(train, held_out)`` by repository, never by file.

    The repositories are sorted, shuffled with ``random.Random(seed)`` and taken into the
    held-out set one by one until it holds at least ``held_out_share`` of all documents (so it
    overshoots by less than one repository's documents), but never so many that no training
    document is left. :data:`STARTER_REPO` always stays in train: the starter workflows are
    templates with placeholders (``$default-branch``, ``$cron-daily``), not workflows anyone
    runs, so they make good training data but the held-out set should measure real
    repositories. With a single repository (besides the starter workflows) the held-out set
    is empty.

    Args:
        docs: the documents, e.g. :attr:`CorpusReport.docs`.
        held_out_share: the held-out set's target share of all documents, in (0, 1).
        seed: the shuffle's seed; the same documents and seed give the same split.

    Returns:
        ``(train, held_out)``, each in the order of ``docs``; no repository is in both.

    Raises:
        WorkflowCorpusError: ``held_out_share`` is not strictly between 0 and 1.
    """
    if not 0.0 < held_out_share < 1.0:
        raise WorkflowCorpusError(f"held_out_share must be in (0, 1), got {held_out_share!r}")
    docs = list(docs)
    counts = Counter(doc.repo for doc in docs)
    candidates = sorted(repo for repo in counts if repo != STARTER_REPO)
    random.Random(seed).shuffle(candidates)
    target = held_out_share * len(docs)
    held: set[str] = set()
    taken = 0
    for repo in candidates:
        if taken >= target or taken + counts[repo] >= len(docs):
            break
        held.add(repo)
        taken += counts[repo]
    return [d for d in docs if d.repo not in held], [d for d in docs if d.repo in held]
