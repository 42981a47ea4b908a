"""Where the bundled defaults are, computed without importing the layers that read them."""

from __future__ import annotations

from pathlib import Path

_KELP = Path(__file__).resolve().parent.parent

#: The bundled workflow LM (`kelp generate workflow`, `kelp eval generate` without --model).
WORKFLOW_MODEL = _KELP / "models" / "checkpoints" / "workflow_lm"
#: The bundled corpus: actions/starter-workflows (MIT), kelp/data/workflows/starter-workflows.
STARTER_WORKFLOWS = _KELP / "data" / "workflows" / "starter-workflows"
#: How --help names that default.
CORPUS_DEFAULT_HELP = ("default: the bundled actions/starter-workflows templates (kelp/data/workflows/starter-workflows, "
                       "MIT; one repository, always in the training split); --corpus replaces it (repeatable; "
                       "the layouts kelp reads are in kelp.structured.workflow_corpus)")


#: How --ranker is described.
RANKER_HELP = ("Learned ranker that orders each state's proposals and doubts plausible patches: bundled (the "
               "default: kelp's LightGBM ranker, trained on the search's own labelled executions; docs/ranker.md), "
               "off (the proposers' own order) or a ranker file from `kelp train ranker`.")


def ranker_setting(value: str) -> str | None:
    """A --ranker value as :class:`RepairConfig` takes it (``None`` for off); raises
    ``FileNotFoundError`` for a path that is not a file."""
    if value in ("bundled", "off"):
        return None if value == "off" else "bundled"
    if not Path(value).is_file():
        raise FileNotFoundError(f"--ranker: {value} is not a ranker file (or off, bundled)")
    return value


def corpus_roots(corpus: list[Path]) -> list[str]:
    """The corpus folders to read: those given, else the bundled one."""
    return [str(p) for p in corpus] or [str(STARTER_WORKFLOWS)]


#: Help of ``--ray`` (every command that shards its work over Ray).
RAY_HELP = ("Run the work as Ray tasks: 'local' starts a Ray runtime on this machine, HOST:PORT joins a cluster "
            "(needs pip install 'kelp[scale]'); --workers is then the sandbox processes (and CPUs) of each task, default 1.")
