"""Where the held-out bits go: per token kind, for a schema-aware (tct) model and its BPE baseline (issue 6).

For the first ``--docs`` held-out documents (the split of ``kelp train structured``) that fit both
models' context, sums the bits (-log2 p, the tct model under the automaton's masks) of every token,
grouped by kind:

- tct: each structural token by name (``{``, ``<str>``, ``<end>``...), ``string`` (whole-string
  tokens: property names, enum values, frequent strings) and ``subword`` (byte-level BPE pieces
  of free strings);
- bpe: ``whitespace/punctuation`` (tokens made only of spaces, newlines, ``: - | " ' { } [ ] $ .``)
  and ``text`` (every other token, keys included).

Prints one JSON object: total bytes (UTF-8 YAML text), bits per byte of each model, and per kind
the token count, bits, bits per token and share of the model's bits.

    OMP_NUM_THREADS=1 python benchmarks/bpb_breakdown.py --model runs/structured-tct \\
        --baseline runs/structured-bpe --docs 120
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter

import torch

from kelp.bench.generate_eval import allowed_masks
from kelp.models.structured_lm import load_structured_model
from kelp.datasets.workflows import load_split
from kelp.models.bpe_baseline import bpe_encode
from kelp.structured.workflow_yaml import dump_workflow

_PUNCT = "ĠĊĉ:-|\"'{}[]$. "  # byte-level BPE shows space as Ġ, newline as Ċ, tab as ĉ


def token_bits(model, ids: list[int], mask: torch.Tensor | None) -> list[float]:
    """Bits of every token after the first: ``len(ids) - 1`` floats."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    logp = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    return (-logp / math.log(2)).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="tct run folder")
    parser.add_argument("--baseline", required=True, help="bpe run folder")
    parser.add_argument("--docs", type=int, default=120)
    parser.add_argument("--corpus", action="append",
                        default=None, help="corpus folder (repeatable); default: ../shared/data/workflows{,-extra}")
    args = parser.parse_args()
    corpus = args.corpus or ["../shared/data/workflows", "../shared/data/workflows-extra"]
    model, codec, settings = load_structured_model(args.model)
    base, tok, _ = load_structured_model(args.baseline)
    _, held = load_split(codec.schema, corpus, settings.get("held_out_share", 0.15), settings.get("seed", 0))
    context = min(model.config.max_position_embeddings, base.config.max_position_embeddings)
    v = codec.vocab
    bits, count = Counter(), Counter()
    base_bits, base_count = Counter(), Counter()
    nbytes = docs = 0
    for d in held[:args.docs]:
        ids = codec.encode(d.doc, validate=False)
        text = dump_workflow(d.doc)
        theirs = bpe_encode(tok, text)
        if len(ids) > context or len(theirs) > context:
            continue
        docs += 1
        nbytes += len(text.encode())
        for t, b in zip(ids[1:], token_bits(model, ids, allowed_masks(codec, ids))):
            kind = v.describe(t) if t < v.string_offset else ("string" if t < v.subword_offset else "subword")
            bits[kind] += b
            count[kind] += 1
        for t, b in zip(theirs[1:], token_bits(base, theirs, None)):
            kind = "whitespace/punctuation" if not tok.id_to_token(t).strip(_PUNCT) else "text"
            base_bits[kind] += b
            base_count[kind] += 1

    def table(b: Counter, c: Counter) -> dict:
        total = sum(b.values())
        return {k: {"tokens": c[k], "bits": round(b[k]), "bits_per_token": round(b[k] / c[k], 3),
                    "share": round(b[k] / total, 4)} for k, _ in b.most_common()}

    print(json.dumps({"docs": docs, "bytes": nbytes,
                      "bits_per_byte": {"tct_masked": sum(bits.values()) / nbytes, "bpe": sum(base_bits.values()) / nbytes},
                      "tct": table(bits, count), "bpe": table(base_bits, base_count)}, indent=2))


if __name__ == "__main__":
    main()
