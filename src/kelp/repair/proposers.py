"""The proposers a ``--proposer`` value names, built for the repair search.

``kelp repair`` and ``kelp eval repair`` both build theirs here. Only the enumerator is imported
up front; the learned proposers (and torch with them) load when named.
"""

from __future__ import annotations

from pathlib import Path

from kelp.errors import KelpError

#: Proposer names ``--proposer`` accepts (alone, or several joined by commas: ``both,graph``).
PROPOSERS = ("enum", "model", "both", "graph")


class ProposerError(KelpError, ValueError):
    """An unknown ``--proposer``, a ``--model-weight`` outside [0, 1] or an unusable checkpoint."""


def make_proposers(kind: str, checkpoint: str | None, *, feedback: bool = True, weight: float = 0.1,
                   graph_checkpoint: str | None = None) -> list:
    """The proposers for ``--proposer``: ``enum`` (the enumerator), ``model`` (the edit model
    loaded from ``checkpoint``, default the bundled one), ``both`` (the enumerator reranked by
    the edit model, :class:`~kelp.repair.guided.GuidedProposer` with ``weight``), ``graph`` (the
    graph denoiser from ``graph_checkpoint``, default the bundled one), or several of them joined
    by commas, whose candidates the search ranks together. ``feedback=False`` hides the tests,
    their messages and the suspiciousness from the edit model (Kelp's blind protocol).
    Raises :class:`ProposerError` for an unknown kind, a bad weight or a missing checkpoint."""
    from kelp.repair.enumerate import EnumerativeProposer

    kinds = [k.strip() for k in kind.split(",")]
    unknown = [k for k in kinds if k not in PROPOSERS]
    if unknown or not kinds or len(set(kinds)) != len(kinds):
        raise ProposerError(f"--proposer takes {', '.join(PROPOSERS)} or several joined by commas, not {kind!r}")
    if not 0.0 <= weight <= 1.0:
        raise ProposerError(f"--model-weight must be in [0, 1], got {weight}")
    out: list = []
    try:
        for k in kinds:
            if k == "enum":
                out.append(EnumerativeProposer())
            elif k == "graph":
                from kelp.models.graph_model import DEFAULT_GRAPH_CHECKPOINT
                from kelp.repair.graph_proposer import GraphProposer

                out.append(GraphProposer(Path(graph_checkpoint) if graph_checkpoint else DEFAULT_GRAPH_CHECKPOINT))
            else:
                from kelp.models.edit_model import DEFAULT_CHECKPOINT
                from kelp.repair.guided import GuidedProposer
                from kelp.repair.model_proposer import ModelProposer

                model = ModelProposer(Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT, use_feedback=feedback)
                out.append(model if k == "model" else GuidedProposer(EnumerativeProposer(), model, weight))
    except Exception as exc:
        from kelp.models.edit_model import CheckpointError  # only now: it loads torch (seconds)

        if not isinstance(exc, CheckpointError):
            raise
        raise ProposerError(f"--proposer {kind}: {exc}") from None
    return out


__all__ = ["PROPOSERS", "ProposerError", "make_proposers"]
