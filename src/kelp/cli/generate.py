"""``kelp generate``: schema-valid documents (GitHub workflows with the bundled model)."""

from __future__ import annotations

import json
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
        model, codec, _ = load_structured_model(model_dir or WORKFLOW_MODEL)
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
