"""Workflow corpora for the structured LM: the schema-valid documents of corpus folders, split
``(train, held_out)`` by repository (:func:`~kelp.structured.workflow_corpus.split_by_repository`).

``kelp train structured`` trains on the first part; ``kelp eval generate`` and the structured
benchmarks measure on the second, with the run's own share and seed.
"""

from __future__ import annotations

from pathlib import Path

from kelp.structured.workflow_corpus import WorkflowCorpusError, WorkflowDoc, load_corpus, split_by_repository

__all__ = ["CorpusSplitError", "load_split"]


class CorpusSplitError(WorkflowCorpusError):
    """The corpus folders hold fewer than 2 schema-valid documents: nothing to split."""


def load_split(schema: dict, corpus: list[str], held_out_share: float, seed: int,
               docs: list[WorkflowDoc] | None = None) -> tuple[list[WorkflowDoc], list[WorkflowDoc]]:
    """Valid documents of every corpus folder, split ``(train, held_out)`` by repository.

    ``docs``: the documents of ``corpus`` when the caller has already read them (valid or not);
    raises :class:`CorpusSplitError` with fewer than 2 valid documents."""
    if docs is None:
        docs = [d for root in corpus for d in load_corpus(Path(root), schema).docs]
    valid = [d for d in docs if d.valid]
    if len(valid) < 2:
        raise CorpusSplitError(f"fewer than 2 schema-valid documents in {corpus}")
    return split_by_repository(valid, held_out_share=held_out_share, seed=seed)
