"""``kelp eval generate``: validity, diversity and held-out bits per byte of generated documents.

Everything is checked with ``jsonschema`` (:func:`kelp.structured.workflow_corpus.validator`),
independently of the automaton that constrained the sampling. Measured, for the schema-aware
model (TCT tokens, masked sampling):

- samples from scratch and completions of held-out prefixes (each prefix: a held-out document's
  encoding cut at a seeded random point, anywhere, even inside a string): valid rate, complete
  rate, unique rate, verbatim copies of training documents, distinct-2/4 of the YAML words;
- held-out bits per byte (UTF-8 bytes of the YAML text), with the automaton's masks applied
  (the constrained distribution) and without;

and for the baseline (the same model size over plain byte-level BPE of the YAML text): held-out
bits per byte, and the valid and complete rates of unconstrained samples.

The ``codec`` phase checks the model's codec on every document of the corpus folders (not just
the held-out split): ``decode(encode(doc))`` equals the document with its key order, both as
written and with every object's keys shuffled (seeded), and documents the schema rejects fail to
encode; likewise SchemaStore's bundled valid and invalid fixtures.

Results are written to ``OUT/results.json`` after every phase and a rerun skips phases already
done; the samples go to ``OUT/samples-*.jsonl``.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from kelp.errors import KelpError
from kelp.models.structured_lm import load_structured_model, sequence_nll
from kelp.structured.codec import CodecError, SchemaCodec
from kelp.structured.generate import Sample, sample_documents
from kelp.structured.vocab import EOS, PAD
from kelp.structured.workflow_corpus import SCHEMASTORE_TESTS_DIR, WorkflowDoc, load_corpus, validator
from kelp.structured.workflow_yaml import WorkflowYAMLError, dump_workflow, load_workflow

__all__ = ["PHASES", "GenerateEvalError", "distinct_n", "generation_metrics",
           "codec_round_trip", "allowed_masks", "evaluate_generation", "results_table"]


#: The phases of :func:`evaluate_generation`, in the order they run.
PHASES = ("codec", "scratch", "completions", "bits_per_byte", "baseline_samples")


class GenerateEvalError(KelpError, ValueError):
    """A model folder that cannot be read, or settings that cannot be evaluated."""


def _canonical(doc: object) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct ``n``-grams over all ``n``-grams of whitespace-separated words (Li et al. 2016)."""
    grams: list[tuple] = []
    for text in texts:
        words = text.split()
        grams += [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def generation_metrics(samples: list[Sample], schema: dict, train_docs: list[dict]) -> dict:
    """Rates over ``len(samples)``: valid (jsonschema), complete, unique valid documents, verbatim
    copies of a training document; distinct-2/4 of the valid documents' YAML text; mean tokens."""
    check = validator(schema)
    train = {_canonical(d) for d in train_docs}
    n = len(samples)
    valid = [s for s in samples if s.complete and s.doc is not None and check.is_valid(s.doc)]
    keys = [_canonical(s.doc) for s in valid]
    texts = [dump_workflow(s.doc) if isinstance(s.doc, dict) else json.dumps(s.doc) for s in valid]
    return {
        "n": n,
        "valid": len(valid) / n if n else 0.0,
        "complete": sum(s.complete for s in samples) / n if n else 0.0,
        "unique": len(set(keys)) / n if n else 0.0,
        "verbatim": sum(k in train for k in keys) / n if n else 0.0,
        "distinct_2": distinct_n(texts, 2),
        "distinct_4": distinct_n(texts, 4),
        "mean_new_tokens": float(np.mean([s.new_tokens for s in samples])) if samples else 0.0,
        "mean_yaml_bytes": float(np.mean([len(t.encode()) for t in texts])) if texts else 0.0,
    }


def _shuffled(doc: object, rng: random.Random) -> object:
    if isinstance(doc, dict):
        keys = list(doc)
        rng.shuffle(keys)
        return {k: _shuffled(doc[k], rng) for k in keys}
    if isinstance(doc, list):
        return [_shuffled(x, rng) for x in doc]
    return doc


def _ordered(doc: object) -> str:
    """JSON text that keeps key order, so equal texts mean equal documents in the same order."""
    return json.dumps(doc, ensure_ascii=False)


def _round_trips(codec: SchemaCodec, doc: object) -> bool:
    try:
        return _ordered(codec.decode(codec.encode(doc))) == _ordered(doc)
    except CodecError:
        return False


def _rejects(codec: SchemaCodec, doc: object) -> bool:
    try:
        codec.encode(doc)
    except CodecError:
        return True
    return False


def codec_round_trip(codec: SchemaCodec, docs: list[WorkflowDoc], seed: int = 0) -> dict:
    """Round trips and rejections of ``codec`` over corpus documents ``docs`` (valid or not, as
    :func:`load_corpus` read them) and over SchemaStore's bundled fixtures (module docstring).
    Counts are ``"ok/total"`` strings; ``failures`` names up to 20 documents that failed
    (``repo/path``)."""
    from kelp.progress import track

    rng = random.Random(seed)
    valid = [d for d in docs if d.valid]
    invalid = [d for d in docs if not d.valid]
    failures = []
    same = shuffled = rejected = 0
    for d in track(valid, "codec round trips"):
        ok = _round_trips(codec, d.doc)
        ok_shuffled = _round_trips(codec, _shuffled(d.doc, rng))
        same += ok
        shuffled += ok_shuffled
        if not (ok and ok_shuffled):
            failures.append(f"{d.repo}/{d.path}")
    for d in invalid:
        if _rejects(codec, d.doc):
            rejected += 1
        else:
            failures.append(f"accepted invalid {d.repo}/{d.path}")

    def fixtures(kind: str) -> list:
        return [load_workflow(p.read_text(encoding="utf-8"))
                for p in sorted((SCHEMASTORE_TESTS_DIR / kind).iterdir()) if p.suffix in (".yml", ".yaml")]

    good, bad = fixtures("test"), fixtures("negative_test")
    return {"corpus_valid_round_trip": f"{same}/{len(valid)}",
            "corpus_valid_shuffled_round_trip": f"{shuffled}/{len(valid)}",
            "corpus_invalid_rejected": f"{rejected}/{len(invalid)}",
            "fixtures_valid_round_trip": f"{sum(_round_trips(codec, d) for d in good)}/{len(good)}",
            "fixtures_invalid_rejected": f"{sum(_rejects(codec, d) for d in bad)}/{len(bad)}",
            "failures": failures[:20]}


def allowed_masks(codec: SchemaCodec, ids: list[int]) -> torch.Tensor:
    """The automaton's allowed-token mask before each token of ``ids`` after the first (``<bos>``):
    a bool tensor ``(len(ids) - 1, vocab size)``. After a token the schema rejects, the rows are
    all False (the dead state), so pass sequences that :meth:`SchemaCodec.encode` produced."""
    aut = codec.automaton
    state = aut.initial()
    rows = []
    for t in ids[1:]:
        rows.append(aut.allowed(state))
        state = aut.advance(state, t)
    return torch.from_numpy(np.stack(rows))


def _bits(model, seqs: list[list[int]], masks: list[torch.Tensor] | None, desc: str) -> list[float]:
    from kelp.progress import track

    out: list[float] = []
    for i in track(range(0, len(seqs), 4), desc):
        chunk = seqs[i:i + 4]
        out += [x / np.log(2) for x in sequence_nll(model, chunk, PAD, masks[i:i + 4] if masks else None)]
    return out


def _write(out: Path, results: dict) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def _save_samples(path: Path, samples: list[Sample]) -> None:
    with path.open("w") as f:
        for s in samples:
            f.write(json.dumps({"complete": s.complete, "new_tokens": s.new_tokens, "prompt_tokens": s.prompt_tokens,
                                "doc": s.doc}, ensure_ascii=False) + "\n")


def evaluate_generation(model_dir: Path, baseline_dir: Path | None, corpus: list[str], out: Path, *,
                        n_samples: int = 1000, n_completions: int = 1000, n_baseline: int = 200,
                        temperature: float = 1.0, seed: int = 0, batch_size: int = 32, max_len: int = 2048,
                        phases: tuple[str, ...] = PHASES) -> dict:
    """Run the ``phases`` (module docstring; default all of :data:`PHASES`) and return the results
    dict (also in ``OUT/results.json``, written after each phase; a phase already in it is not
    run again). Two processes may run different phases into different folders at the same time.

    ``completions`` and ``bits_per_byte`` need held-out repositories in ``corpus`` (the bundled
    starter-workflows corpus is one repository, always in the training split).

    Raises :class:`~kelp.models.structured_lm.StructuredModelError` for unreadable model folders,
    :class:`GenerateEvalError` for a model of the wrong kind, an unknown phase or a held-out phase
    without held-out documents, and :class:`~kelp.datasets.workflows.CorpusSplitError` for fewer than 2
    valid documents.
    """
    from kelp.datasets.workflows import load_split

    unknown = set(phases) - set(PHASES)
    if unknown:
        raise GenerateEvalError(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, codec, settings = load_structured_model(model_dir)
    if not isinstance(codec, SchemaCodec):
        raise GenerateEvalError(f"{model_dir} is not a schema-aware (tct) model")
    docs = [d for root in corpus for d in load_corpus(Path(root), codec.schema).docs]
    train, held = load_split(codec.schema, corpus, settings.get("held_out_share", 0.15), settings.get("seed", 0),
                             docs=docs)
    if not held and {"completions", "bits_per_byte"} & set(phases):
        raise GenerateEvalError("the corpus has no held-out repository, which the completions and bits_per_byte "
                                "phases need: add --corpus folders of other repositories, or leave those phases out")
    path = out / "results.json"
    results: dict = json.loads(path.read_text()) if path.exists() else {}
    results.update({"model": str(model_dir), "baseline": str(baseline_dir) if baseline_dir else None,
                    "temperature": temperature, "seed": seed, "max_len": max_len,
                    "held_out_docs": len(held), "train_docs": len(train)})
    _write(out, results)
    base_model = base_tok = None
    if baseline_dir is not None and {"bits_per_byte", "baseline_samples"} & set(phases):
        base_model, base_tok, _ = load_structured_model(baseline_dir)
        if isinstance(base_tok, SchemaCodec):
            raise GenerateEvalError(f"{baseline_dir} is not a plain BPE (bpe) baseline")
    train_docs = [d.doc for d in train]
    sampling = {"temperature": temperature, "batch_size": batch_size, "max_len": max_len}
    runs = {
        "codec": lambda: codec_round_trip(codec, docs, seed),
        "scratch": lambda: _scratch(model, codec, train_docs, out, n_samples, seed, sampling),
        "completions": lambda: _completions(model, codec, held, train_docs, out, n_completions, seed, sampling),
        "bits_per_byte": lambda: _bits_per_byte(model, codec, held, base_model, base_tok),
        "baseline_samples": lambda: _baseline_samples(base_model, base_tok, codec.schema, out, n_baseline,
                                                      seed, temperature, batch_size),
    }
    for phase in PHASES:  # in this order, each written as soon as it is done
        if phase in phases and phase not in results and not (phase == "baseline_samples" and base_model is None):
            started = time.time()
            results[phase] = runs[phase]()
            if phase != "bits_per_byte":
                results[phase]["seconds"] = round(time.time() - started, 1)
            _write(out, results)
    return results


def _scratch(model, codec: SchemaCodec, train_docs: list, out: Path, n: int, seed: int, sampling: dict) -> dict:
    """Metrics of ``n`` documents sampled from scratch (saved to ``samples-scratch.jsonl``)."""
    samples = sample_documents(model, codec, n, seed=seed, **sampling)
    _save_samples(out / "samples-scratch.jsonl", samples)
    return generation_metrics(samples, codec.schema, train_docs)


def _completions(model, codec: SchemaCodec, held: list, train_docs: list, out: Path, n: int, seed: int,
                 sampling: dict) -> dict:
    """Metrics of ``n`` completions of held-out documents cut at a seeded point between 10% and
    90% of their tokens (saved to ``samples-completions.jsonl``)."""
    rng = random.Random(seed)
    encoded = [codec.encode(d.doc, validate=False) for d in held]
    prompts = []
    for i in range(n):
        ids = encoded[i % len(encoded)]
        top = min(len(ids) - 2, sampling["max_len"] - 256)
        cut = rng.randint(max(2, int(0.1 * top)), max(2, int(0.9 * top)))
        prompts.append(ids[:cut])
    samples = sample_documents(model, codec, n, prompts=prompts, seed=seed + 1, **sampling)
    _save_samples(out / "samples-completions.jsonl", samples)
    return generation_metrics(samples, codec.schema, train_docs) | {
        "mean_prompt_tokens": float(np.mean([len(p) for p in prompts]))}


def _bits_per_byte(model, codec: SchemaCodec, held: list, base_model, base_tok) -> dict:
    """Held-out bits per byte of the YAML text: ours with and without the automaton's mask, and
    the plain-BPE baseline's when given, over the documents that fit both models' context."""
    from kelp.models.bpe_baseline import bpe_encode

    texts = [dump_workflow(d.doc) for d in held]
    ours = [codec.encode(d.doc, validate=False) for d in held]
    theirs = [bpe_encode(base_tok, t) for t in texts] if base_tok is not None else None
    context = model.config.max_position_embeddings
    keep = [i for i in range(len(held)) if len(ours[i]) <= context and (theirs is None or len(theirs[i]) <= context)]
    nbytes = sum(len(texts[i].encode()) for i in keep)
    seqs = [ours[i] for i in keep]
    masked = _bits(model, seqs, [allowed_masks(codec, s) for s in seqs], "bits/byte tct (masked)")
    plain = _bits(model, seqs, None, "bits/byte tct")
    bpb = {"docs": len(keep), "bytes": nbytes, "tct_masked": sum(masked) / nbytes, "tct_unmasked": sum(plain) / nbytes,
           "tct_tokens": sum(len(s) for s in seqs)}
    if theirs is not None:
        base = _bits(base_model, [theirs[i] for i in keep], None, "bits/byte bpe baseline")
        bpb |= {"bpe": sum(base) / nbytes, "bpe_tokens": sum(len(theirs[i]) for i in keep),
                "reduction": 1 - bpb["tct_masked"] / (sum(base) / nbytes)}
    return bpb


def _baseline_samples(base_model, base_tok, schema: dict, out: Path, n: int, seed: int, temperature: float,
                      batch_size: int) -> dict:
    """Share of ``n`` unconstrained samples of the plain-BPE baseline that finish and are
    schema-valid workflows (saved to ``samples-baseline.jsonl``)."""
    from kelp.progress import track

    torch.manual_seed(seed)
    check = validator(schema)
    valid = complete = 0
    docs = []
    for start in track(range(0, n, batch_size), "baseline sampling"):
        rows = min(batch_size, n - start)
        ids = torch.full((rows, 1), 1, dtype=torch.long)
        with torch.no_grad():
            gen = base_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                      temperature=temperature, top_k=0, top_p=1.0,
                                      max_new_tokens=base_model.config.max_position_embeddings - 1,
                                      eos_token_id=EOS, pad_token_id=PAD)
        for row in gen.tolist():
            new = row[1:]
            done = EOS in new
            complete += done
            new = new[:new.index(EOS)] if done else [t for t in new if t != PAD]
            text = base_tok.decode(new, skip_special_tokens=True)
            try:
                doc = load_workflow(text)
            except WorkflowYAMLError:
                doc = None
            ok = done and doc is not None and check.is_valid(doc)
            valid += ok
            docs.append({"complete": done, "valid": bool(ok), "text": text})
    with (out / "samples-baseline.jsonl").open("w") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return {"n": n, "valid": valid / n, "complete": complete / n}


def results_table(results: dict) -> str:
    """A Markdown table of an :func:`evaluate_generation` results dict: one row per phase that ran."""
    lines = ["| phase | n | valid | complete | unique | verbatim | distinct-2 / 4 |", "|---|---|---|---|---|---|---|"]
    for phase in ("scratch", "completions"):
        if phase in results:
            m = results[phase]
            lines.append(f"| {phase} | {m['n']} | {m['valid']:.1%} | {m['complete']:.1%} | {m['unique']:.1%} | "
                         f"{m['verbatim']:.1%} | {m['distinct_2']:.3f} / {m['distinct_4']:.3f} |")
    if "baseline_samples" in results:
        m = results["baseline_samples"]
        lines.append(f"| baseline, unconstrained | {m['n']} | {m['valid']:.1%} | {m['complete']:.1%} | | | |")
    if "bits_per_byte" in results:
        b = results["bits_per_byte"]
        row = f"\nbits per byte over {b['docs']} held-out documents: ours {b['tct_masked']:.3f} (masked), {b['tct_unmasked']:.3f} (unmasked)"
        if "bpe" in b:
            row += f"; baseline {b['bpe']:.3f}; reduction {b['reduction']:.1%}"
        lines.append(row)
    if "codec" in results:
        c = results["codec"]
        lines.append(f"\ncodec: corpus round trips {c['corpus_valid_round_trip']} (shuffled keys "
                     f"{c['corpus_valid_shuffled_round_trip']}), invalid rejected {c['corpus_invalid_rejected']}; "
                     f"fixtures {c['fixtures_valid_round_trip']} valid, {c['fixtures_invalid_rejected']} invalid rejected")
    return "\n".join(lines)
