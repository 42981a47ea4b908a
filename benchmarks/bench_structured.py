"""Structured decoding speed: our schema automaton's mask vs llguidance's, and codec throughput (issue 6).

Loads the workflow corpora (``--corpus``), keeps the schema-valid documents and splits them by
repository as ``kelp train structured`` does (:func:`kelp.datasets.workflows.load_split`, share 0.15, seed 0).
The :class:`SchemaCodec` is built from the training split; ``--docs`` held-out documents
(``random.Random(--seed)``) are timed. Every timed document is first reordered into the schema's
property order (llguidance enforces that order; our automaton accepts any order), and both
engines see that same document:

- ``ours``: walk ``codec.automaton`` over ``codec.encode(doc)[1:]`` (the value tokens and
  ``<eos>``): ``allowed(state)`` timed before every token ("mask"), then ``advance(state, tok)``
  timed separately ("advance").
- ``llguidance``: a byte-level BPE (HF ``tokenizers``, ``<|endoftext|>`` as EOS) trained on the
  compact JSON of the training documents, with as many tokens as the codec's vocabulary; the
  grammar is ``grammar_from_json_schema(schema, lenient, whitespace_flexible=False)``; per
  document a ``deep_copy`` of one prototype matcher walks ``tokenizer.encode(json).ids`` and
  ``<|endoftext|>``: ``fill_next_token_bitmask`` timed before every token ("mask"), then
  ``consume_token`` ("consume"). Documents llguidance rejects are counted with the reason.

Each engine makes two passes over the documents: the first ("cold": caches fill as it goes, right
after the codec / grammar is built) and the second ("warm", the headline numbers). Statistics
(p50/p90/p99/mean/max, microseconds per token, ``time.perf_counter_ns``) are over the documents
both engines accept; the per-document sums compare whole documents, since the two tokenizations
differ in length. ``codec`` gives encode (with and without schema validation) and decode
throughput of the warm codec, in documents/s and tokens/s, and checks ``decode(encode(d)) == d``.

Prints one JSON object and writes it to ``--out/results.json`` (updated after every section),
with ``--out/docs.jsonl`` (one line per timed document).

    OMP_NUM_THREADS=1 python benchmarks/bench_structured.py --docs 100 --out runs/bench-structured
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import sys
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from kelp.progress import track  # noqa: E402

DEFAULT_CORPORA = ["/work/shared/data/workflows", "/work/shared/data/workflows-extra"]
LLG_OPTIONS = {"lenient": True, "whitespace_flexible": False}
EOS_TEXT = "<|endoftext|>"


class SchemaOrderer:
    """Reorders a document's object keys into the order llguidance enforces: keys listed in the
    (merged, ``allOf``/``$ref`` left to right) ``properties`` first, in schema order, then the
    others in their original order. Picks the ``oneOf``/``anyOf`` branch the value validates
    against (the document must be schema-valid for the order to be exact)."""

    def __init__(self, schema: dict) -> None:
        self.root = schema
        self._validators: dict = {}

    def _resolve(self, s):
        while isinstance(s, dict) and "$ref" in s and len([k for k in s if k not in ("$comment", "description")]) == 1:
            s = self.root["definitions"][s["$ref"].split("/")[-1]]
        return s

    def _valid(self, s: dict, value) -> bool:
        from jsonschema import Draft7Validator

        key = id(s)
        if key not in self._validators:
            self._validators[key] = (s, Draft7Validator({**s, "definitions": self.root.get("definitions", {})}))
        return self._validators[key][1].is_valid(value)

    def _parts(self, s, value) -> list[dict]:
        """The subschemas (``s`` flattened through ``$ref``, ``allOf`` and the matching ``oneOf``/
        ``anyOf`` branch) that apply to ``value``, in order of appearance."""
        s = self._resolve(s)
        if not isinstance(s, dict):
            return []
        out = []
        for k, v in s.items():
            if k == "$ref":
                out += self._parts({"$ref": v}, value) if len(s) > 1 else []
            elif k == "allOf":
                for branch in v:
                    out += self._parts(branch, value)
            elif k in ("oneOf", "anyOf"):
                ok = [b for b in v if self._valid(b, value)]
                if not ok and isinstance(value, dict):
                    ok = sorted(v, key=lambda b: -sum(key in self._resolve(b).get("properties", {}) for key in value))
                if ok:
                    out += self._parts(ok[0], value)
        return [s, *out]

    def order(self, value, s=None):
        s = self.root if s is None else s
        parts = self._parts(s, value)
        if isinstance(value, dict):
            props: dict[str, list] = {}
            for p in parts:
                for k, v in p.get("properties", {}).items():
                    props.setdefault(k, []).append(v)
            keys = [k for k in props if k in value] + [k for k in value if k not in props]
            res = {}
            for k in keys:
                subs = list(props.get(k, []))
                for p in parts:
                    for pattern, v in p.get("patternProperties", {}).items():
                        if re.search(pattern, k):
                            subs.append(v)
                    if k not in props and isinstance(p.get("additionalProperties"), dict):
                        subs.append(p["additionalProperties"])
                res[k] = self.order(value[k], {"allOf": subs} if subs else {})
            return res
        if isinstance(value, list):
            out = []
            for i, x in enumerate(value):
                subs = []
                for p in parts:
                    items = p.get("items")
                    if isinstance(items, dict):
                        subs.append(items)
                    elif isinstance(items, list):
                        if i < len(items):
                            subs.append(items[i])
                        elif isinstance(p.get("additionalItems"), dict):
                            subs.append(p["additionalItems"])
                out.append(self.order(x, {"allOf": subs} if subs else {}))
            return out
        return value


def compact(doc) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def summary(us: list[float]) -> dict:
    """p50/p90/p99/mean/max of microsecond timings."""
    import numpy as np

    if not us:
        return {"n": 0}
    a = np.asarray(us, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"n": int(a.size), "p50": round(float(p50), 3), "p90": round(float(p90), 3), "p99": round(float(p99), 3),
            "mean": round(float(a.mean()), 3), "max": round(float(a.max()), 1)}


def time_ours(automaton, docs_ids: list[list[int]], desc: str) -> list[dict]:
    """One pass: per document, mask and advance times (µs) per token, or the rejection."""
    from kelp.structured.vocab import EOS

    clock = time.perf_counter_ns
    allowed, advance = automaton.allowed, automaton.advance
    out = []
    gc.collect()
    for ids in track(docs_ids, desc):
        masks, steps, rejected = [], [], None
        state = automaton.initial()
        for i, tok in enumerate(ids[1:]):
            t0 = clock()
            mask = allowed(state)
            t1 = clock()
            if not mask[tok]:
                rejected = f"token {i} ({automaton.vocab.describe(tok)}) not in the mask"
                break
            t2 = clock()
            state = advance(state, tok)
            t3 = clock()
            masks.append((t1 - t0) / 1e3)
            steps.append((t3 - t2) / 1e3)
            if not state:
                rejected = f"token {i} ({automaton.vocab.describe(tok)}): advance gave the dead state"
                break
        if rejected is None and (ids[-1] != EOS or not automaton.is_done(state)):
            rejected = "not done after <eos>"
        out.append({"mask": masks, "step": steps, "rejected": rejected})
    return out


def time_llguidance(proto, hf, n_vocab: int, eos: int, texts_ids: list[list[int]], desc: str) -> list[dict]:
    """One pass: per document, fill_next_token_bitmask and consume_token times (µs) per token."""
    from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

    clock = time.perf_counter_ns
    bitmask = allocate_token_bitmask(1, n_vocab)
    out = []
    gc.collect()
    for ids in track(texts_ids, desc):
        m = proto.deep_copy()
        masks, steps, rejected = [], [], None
        for i, tok in enumerate(ids):
            t0 = clock()
            fill_next_token_bitmask(m, bitmask)
            t1 = clock()
            if not (int(bitmask[0, tok // 32]) >> (tok % 32)) & 1:
                where = hf.decode(ids[max(0, i - 12): i + 1], skip_special_tokens=False)
                rejected = f"token {i} of {len(ids)} not in the mask: ...{where!r}" + (
                    f" ({m.get_error()[:200]})" if m.is_error() else "")
                break
            t2 = clock()
            ok = m.consume_token(tok)
            t3 = clock()
            masks.append((t1 - t0) / 1e3)
            steps.append((t3 - t2) / 1e3)
            if not ok:
                rejected = f"consume_token failed at token {i}: {m.get_error()[:200]}"
                break
        if rejected is None and ids[-1] != eos:
            rejected = "no EOS"
        out.append({"mask": masks, "step": steps, "rejected": rejected})
    return out


def engine_report(passes: dict, keep: list[int], step_name: str) -> dict:
    """Statistics of the cold and warm passes over the documents ``keep``."""
    rep = {}
    for phase in ("warm", "cold"):
        runs = passes[phase]
        masks = [t for i in keep for t in runs[i]["mask"]]
        steps = [t for i in keep for t in runs[i]["step"]]
        per_doc = [(sum(runs[i]["mask"]) + sum(runs[i]["step"])) / 1e3 for i in keep]
        rep[phase] = {"mask_us": summary(masks), f"{step_name}_us": summary(steps),
                      "per_doc_ms": summary(per_doc),
                      "total_ms": round((sum(masks) + sum(steps)) / 1e3, 1)}
    return rep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", nargs="+", default=None,
                        help="corpus folders (default: the shared workflow data if present, else the bundled sample)")
    parser.add_argument("--docs", type=int, default=100, help="held-out documents to time")
    parser.add_argument("--seed", type=int, default=0, help="seed of the document choice")
    parser.add_argument("--repeats", type=int, default=3, help="passes of the encode/decode throughput loops")
    parser.add_argument("--out", default="runs/bench-structured")
    args = parser.parse_args()

    import llguidance
    import numpy as np
    import tokenizers
    from llguidance import LLMatcher, LLTokenizer
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from kelp.datasets.workflows import load_split
    from kelp.structured.codec import SchemaCodec
    from kelp.structured.workflow_corpus import SAMPLE_DIR, load_schema

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {}

    def save() -> None:
        (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")

    # -- data: valid documents, split by repository, codec from the training split ----------------
    corpora = args.corpus or [p for p in DEFAULT_CORPORA if Path(p).is_dir()] or [str(SAMPLE_DIR)]
    schema = load_schema()
    started = time.perf_counter()
    train, held = load_split(schema, corpora, held_out_share=0.15, seed=0)
    n_valid = len(train) + len(held)
    timed_split = "held-out"
    if not held:  # e.g. the bundled sample: one repository, which always stays in train
        held, timed_split = train, "train (no held-out repository)"
    load_seconds = time.perf_counter() - started
    chosen = random.Random(args.seed).sample(held, min(args.docs, len(held)))

    t = time.perf_counter()
    codec = SchemaCodec.build(schema, [d.doc for d in train])
    codec_build_seconds = time.perf_counter() - t
    automaton, vocab_size = codec.automaton, codec.vocab.size

    orderer = SchemaOrderer(schema)
    t = time.perf_counter()
    timed_docs = [orderer.order(d.doc) for d in chosen]
    train_texts = [compact(orderer.order(d.doc)) for d in track(train, "schema order")]
    order_seconds = time.perf_counter() - t
    report.update({
        "corpora": corpora, "n_valid_docs": n_valid, "n_train": len(train), "n_held_out": len(held),
        "timed_split": timed_split, "n_docs": len(chosen), "seed": args.seed, "vocab_size": vocab_size,
        "setup_seconds": {"load_corpus": round(load_seconds, 2), "codec_build": round(codec_build_seconds, 2),
                          "schema_order": round(order_seconds, 2)},
        "env": {"python": platform.python_version(), "numpy": np.__version__, "llguidance": llguidance.__version__,
                "tokenizers": tokenizers.__version__, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                "cpus": os.cpu_count()},
    })
    save()

    # -- llguidance side: BPE of the same size, grammar, prototype matcher ------------------------
    t = time.perf_counter()
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS_TEXT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator(train_texts, trainer)
    bpe_seconds = time.perf_counter() - t
    ll_tok = LLTokenizer(hf.to_str())
    eos = hf.token_to_id(EOS_TEXT)
    assert ll_tok.eos_token == eos, (ll_tok.eos_token, eos)
    t = time.perf_counter()
    grammar = LLMatcher.grammar_from_json_schema(schema, overrides=LLG_OPTIONS)
    proto = LLMatcher(ll_tok, grammar, log_level=0)
    grammar_seconds = time.perf_counter() - t
    if proto.is_error():
        raise SystemExit(f"llguidance rejects the grammar: {proto.get_error()}")
    warnings = proto.get_grammar_warnings()

    # -- token ids (validate=False: encoding must not warm the automaton's caches before the cold pass)
    ours_ids = [codec.encode(d, validate=False) for d in timed_docs]
    texts = [compact(d) for d in timed_docs]
    llg_ids = [hf.encode(x, add_special_tokens=False).ids + [eos] for x in texts]

    # -- mask timing: cold pass, then warm pass, for each engine -----------------------------------
    ours = {phase: time_ours(automaton, ours_ids, f"ours {phase}") for phase in ("cold", "warm")}
    llg = {phase: time_llguidance(proto, hf, ll_tok.vocab_size, eos, llg_ids, f"llguidance {phase}")
           for phase in ("cold", "warm")}
    ours_rej = {i: r["rejected"] for i, r in enumerate(ours["cold"]) if r["rejected"]}
    llg_rej = {i: r["rejected"] for i, r in enumerate(llg["cold"]) if r["rejected"]}
    keep = [i for i in range(len(chosen)) if i not in ours_rej and i not in llg_rej]

    with (out / "docs.jsonl").open("w") as f:
        for i, d in enumerate(chosen):
            f.write(json.dumps({
                "repo": d.repo, "path": d.path, "chars": len(texts[i]),
                "ours_tokens": len(ours_ids[i]) - 1, "llg_tokens": len(llg_ids[i]),
                "ours_warm_mask_ms": round(sum(ours["warm"][i]["mask"]) / 1e3, 3),
                "llg_warm_mask_ms": round(sum(llg["warm"][i]["mask"]) / 1e3, 3),
                "ours_rejected": ours_rej.get(i), "llg_rejected": llg_rej.get(i)}, ensure_ascii=False) + "\n")

    n_ours = sum(len(ours_ids[i]) - 1 for i in keep)
    n_llg = sum(len(llg_ids[i]) for i in keep)
    report["n_docs"] = len(keep)
    report["n_tokens"] = {"ours": n_ours, "llguidance": n_llg, "chars": sum(len(texts[i]) for i in keep),
                          "ours_per_doc": round(n_ours / max(1, len(keep)), 1),
                          "llguidance_per_doc": round(n_llg / max(1, len(keep)), 1)}
    report["ours"] = {"engine": "kelp SchemaAutomaton.allowed / advance over SchemaCodec tokens (incl. <eos>)",
                      **engine_report(ours, keep, "advance"),
                      "rejected": len(ours_rej), "rejections": [{"doc": f"{chosen[i].repo}/{chosen[i].path}", "reason": r}
                                                                for i, r in ours_rej.items()]}
    report["llguidance"] = {
        "engine": "llguidance fill_next_token_bitmask / consume_token over byte-level BPE tokens (incl. EOS)",
        "options": LLG_OPTIONS, "tokenizer_vocab_size": hf.get_vocab_size(), "grammar_warnings": warnings,
        **engine_report(llg, keep, "consume"),
        "rejected": len(llg_rej), "rejections": [{"doc": f"{chosen[i].repo}/{chosen[i].path}", "reason": r}
                                                 for i, r in llg_rej.items()]}
    report["setup_seconds"].update({"llg_bpe_train": round(bpe_seconds, 2), "llg_grammar_and_matcher": round(grammar_seconds, 3)})
    ow, lw = report["ours"]["warm"], report["llguidance"]["warm"]
    if keep:
        report["ratio_p50"] = round(lw["mask_us"]["p50"] / ow["mask_us"]["p50"], 3)
        report["ratio_p99"] = round(lw["mask_us"]["p99"] / ow["mask_us"]["p99"], 3)
        report["ratio_mean"] = round(lw["mask_us"]["mean"] / ow["mask_us"]["mean"], 3)
        report["ratio_per_doc_mask_plus_step_mean"] = round(lw["per_doc_ms"]["mean"] / ow["per_doc_ms"]["mean"], 3)
        report["ratio_note"] = "llguidance / ours, warm pass; > 1 means ours is faster"
    save()

    # -- codec throughput (warm automaton: the walks above filled its caches) ----------------------
    good = [timed_docs[i] for i in range(len(chosen)) if i not in ours_rej]
    enc = [codec.encode(d) for d in good]
    n_tok = sum(len(ids) for ids in enc)
    roundtrip = sum(codec.decode(ids) == d for ids, d in zip(enc, good))

    def throughput(fn, items) -> dict:
        gc.collect()
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for x in items:
                fn(x)
            best = min(best, time.perf_counter() - t0)
        return {"seconds": round(best, 4), "docs_per_s": round(len(items) / best, 1), "tokens_per_s": round(n_tok / best, 1)}

    report["codec"] = {
        "docs": len(good), "tokens": n_tok, "repeats": args.repeats, "timing": "best of the repeats",
        "encode_validate": throughput(codec.encode, good),
        "encode_no_validate": throughput(lambda d: codec.encode(d, validate=False), good),
        "decode": throughput(codec.decode, enc),
        "roundtrip_ok": f"{roundtrip}/{len(good)}",
    }
    save()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
