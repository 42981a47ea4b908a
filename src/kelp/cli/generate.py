"""``kelp generate``: schema-valid documents (GitHub workflows with the bundled model)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from kelp.cli._console import UserError, err
from kelp.cli._paths import WORKFLOW_MODEL


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
    """Generate schema-valid documents: every sample is complete and valid by construction.

    Without --out the documents go to stdout as YAML, each after a `---` line and a `# sample I (N tokens)` comment."""
    from kelp.models.structured_lm import document_text, generate_documents

    if kind not in (None, "workflow"):
        raise UserError(f"unknown kind {kind!r}: use `workflow`, or --model DIR for another schema")
    if kind is None and model_dir is None:
        raise UserError("give a kind (`kelp generate workflow`) or --model DIR")
    if n < 1 or temperature <= 0 or max_len < 8:
        raise UserError("-n must be >= 1, --temperature > 0 and --max-len >= 8")
    samples = generate_documents(model_dir or WORKFLOW_MODEL, n, schema=schema, prefix=prefix,
                                 temperature=temperature, seed=seed, max_len=max_len)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(samples):
        text = document_text(s.doc)
        if out_dir is not None:
            (out_dir / f"sample-{i:03d}.yml").write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(f"---\n# sample {i} ({s.new_tokens} tokens)\n{text}")  # YAML documents
    if out_dir is not None:
        err.print(f"{n} documents written to {out_dir}/")
