"""A neural cross-encoder of patches: the bundled edit model's transformer, fine-tuned to score
a candidate patch (its changed lines with their context, read as one text) by how likely it is
to be the correct repair.

A cross-encoder reads the query and the candidate together (here: the program's lines before
and after the edit in one sequence), as rerankers for retrieval do (Nogueira & Cho 2019,
"Passage re-ranking with BERT"); learning to rank patches from their text follows Prophet's aim
(Long & Rinard 2016) with a learned representation in place of hand-made features. The backbone
and tokenizer are those of :mod:`kelp.models.edit_model` (a 4-layer Llama); a linear head on
the last real token gives one score (``LlamaForSequenceClassification`` with one label).

Files: ``config.json``, ``model.safetensors`` (``save_pretrained``), ``tokenizer.json`` and
``training.json``; no pickle.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import torch
from torch import nn

from kelp.errors import KelpError

#: Longest patch text, in tokens; longer ones are cut at the end.
MAX_TOKENS = 128


class CrossEncoderError(KelpError, ValueError):
    """A cross-encoder directory that is missing or incomplete (message names the file)."""


def patch_text(before: str, after: str, context: int = 2, max_lines: int = 16) -> str:
    """The change from program ``before`` to ``after`` as the model reads it: the changed lines
    of a line diff with ``context`` lines around them, each line prefixed ``"  "`` (context),
    ``"- "`` (removed) or ``"+ "`` (added), indentation kept, at most ``max_lines`` lines.
    Empty when the texts have the same lines."""
    a, b = before.splitlines(), after.splitlines()
    out: list[str] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += ["  " + line for line in a[i1:i2]]
                continue
            out += ["- " + line for line in a[i1:i2]]
            out += ["+ " + line for line in b[j1:j2]]
    return "\n".join(out[:max_lines])


def feature_header(features: dict) -> str:
    """One line of what the search knew of a proposal before running it, put before its patch
    text when a cross-encoder is trained with ``header``: family, edit op, the edited line's
    suspiciousness in four buckets (``s0``..``s3``) and the proposal's rank among its state's
    (``r0``..``r15``, the last for 15 and beyond)."""
    susp = float(features.get("suspiciousness") or 0.0)
    rank = int(features.get("rank") or 0)
    return f"{features.get('family', '?')} {features.get('op', '?')} s{min(int(susp * 4), 3)} r{min(rank, 15)}"


class CrossEncoder(nn.Module):
    """``LlamaForSequenceClassification`` (one label) and its byte-level BPE tokenizer.
    :meth:`forward` takes ``ids``/``mask`` (N, T) and gives scores (N,); :meth:`score` takes
    patch texts (:func:`patch_text`) and gives one float each, higher = more likely correct.
    ``header``: whether its texts start with the proposal's :func:`feature_header`."""

    def __init__(self, model, tokenizer, header: bool = False) -> None:
        super().__init__()
        self.model, self.tokenizer, self.header = model, tokenizer, header

    def tokenize(self, texts: list[str], max_length: int = MAX_TOKENS) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, mask)``, each (len(texts), T): ``<bos>`` + the text's tokens, cut to
        ``max_length`` and right-padded with ``<pad>`` (id 0)."""
        rows = [[1] + self.tokenizer.encode(text).ids[: max_length - 1] for text in texts]
        width = max((len(r) for r in rows), default=1)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids, attention_mask=mask).logits.squeeze(-1)

    @torch.no_grad()
    def score(self, texts: list[str], batch: int = 64) -> list[float]:
        """One score per patch text, in eval mode, ``batch`` texts per forward pass."""
        was = self.training
        self.eval()
        out: list[float] = []
        for i in range(0, len(texts), batch):
            out += self(*self.tokenize(texts[i:i + batch])).tolist()
        self.train(was)
        return out


def from_edit_model(directory: Path | str, header: bool = False) -> CrossEncoder:
    """A cross-encoder whose transformer and tokenizer are the edit model's in ``directory``
    (``header``: its texts will start with :func:`feature_header`)
    (:func:`kelp.models.edit_model.load_checkpoint`), with a new, seeded score head. Raises
    :class:`~kelp.models.edit_model.CheckpointError` for a directory that is not a checkpoint."""
    from transformers import LlamaForSequenceClassification

    from kelp.models.edit_model import load_checkpoint

    edit, tokenizer, _ = load_checkpoint(Path(directory))
    config = edit.config
    config.num_labels = 1
    model = LlamaForSequenceClassification(config)
    model.model.load_state_dict(edit.model.state_dict())
    return CrossEncoder(model, tokenizer, header)


def save_cross_encoder(directory: Path | str, model: CrossEncoder, training: dict) -> None:
    """Write ``model`` (safetensors, config, tokenizer) and ``training`` as JSON to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.model.save_pretrained(directory, safe_serialization=True)
    model.tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "training.json").write_text(json.dumps(training, indent=2) + "\n")


def load_cross_encoder(directory: Path | str) -> CrossEncoder:
    """The cross-encoder saved in ``directory`` (eval mode). Raises :class:`CrossEncoderError`
    when a file is missing."""
    from transformers import LlamaForSequenceClassification

    from kelp.models.tokenizer import load_tokenizer

    directory = Path(directory)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (directory / name).exists():
            raise CrossEncoderError(f"{directory} is not a cross-encoder: {name} is missing")
    training = directory / "training.json"
    header = bool(json.loads(training.read_text()).get("config", {}).get("header")) if training.exists() else False
    model = CrossEncoder(LlamaForSequenceClassification.from_pretrained(directory), load_tokenizer(directory), header)
    model.eval()
    return model
