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


def corpus_roots(corpus: list[Path]) -> list[str]:
    """The corpus folders to read: those given, else the bundled one."""
    return [str(p) for p in corpus] or [str(STARTER_WORKFLOWS)]
