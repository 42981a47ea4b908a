"""The edit model: a tiny Llama-style causal LM (``transformers``) over the edit format.

Kelp's edit model had 115M-305M parameters and ran on TPUs; this one has a few million and
trains on a CPU. Checkpoints are a directory with ``model.safetensors`` + ``config.json``
(``save_pretrained``), ``tokenizer.json`` and ``training.json`` (the training command's
settings and the step reached); no pickle anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()  # kelp draws its own progress; no per-shard bars

from kelp.errors import KelpError
from kelp.models.tokenizer import TokenizerError, load_tokenizer


#: Whether this CPU runs bfloat16 natively (AVX512-BF16 / AMX); 2-3x faster training steps on
#: the reference machine. Weights and optimizer state stay float32 either way.
BF16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()


def bf16_autocast():
    """``torch.autocast`` to bfloat16 on CPUs with native support, else a no-op context."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16)


#: The bundled default checkpoint (trained here on CPU; see the README for the command).
DEFAULT_CHECKPOINT = Path(__file__).parent / "checkpoints" / "edit"


class CheckpointError(KelpError, ValueError):
    """A checkpoint directory that is missing or incomplete (message says which file)."""


@dataclass(frozen=True)
class ModelSize:
    """Architecture of the edit model. The default has 4.26M parameters with a 4096-token
    vocabulary (embeddings tied with the output layer)."""

    hidden: int = 256
    layers: int = 4
    heads: int = 4
    intermediate: int = 704
    context: int = 512


def build_model(vocab_size: int, size: ModelSize = ModelSize(), seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised model (weights seeded by ``seed``)."""
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=size.hidden, num_hidden_layers=size.layers,
                         num_attention_heads=size.heads, num_key_value_heads=size.heads,
                         intermediate_size=size.intermediate, max_position_embeddings=size.context,
                         tie_word_embeddings=True, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config)


def parameter_count(model: torch.nn.Module) -> int:
    """Distinct trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def export_checkpoint(source: Path, target: Path) -> None:
    """Copy the inference files of checkpoint ``source`` (weights, config, tokenizer,
    ``training.json``; no optimizer or RNG state) to ``target``, replacing it. Raises
    :class:`CheckpointError` when ``source`` is not a checkpoint."""
    import shutil

    load_checkpoint(source)  # validates
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "training.json"):
        if (source / name).exists():
            shutil.copyfile(source / name, target / name)


def save_checkpoint(directory: Path, model: LlamaForCausalLM, tokenizer, training: dict,
                    tensors: dict[str, dict[str, torch.Tensor]] | None = None) -> None:
    """Write the model (safetensors), its config, the tokenizer, ``training.json`` and each
    ``tensors[name]`` as ``name.safetensors`` (optimizer and RNG state for resuming); files
    are written to a temporary directory first and swapped in, so an interrupted save leaves
    the previous checkpoint intact."""
    from safetensors.torch import save_file

    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp, safe_serialization=True)
    for name, group in (tensors or {}).items():
        save_file(group, str(tmp / f"{name}.safetensors"))
    tokenizer.save(str(tmp / "tokenizer.json"))
    (tmp / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    old = directory.with_name(directory.name + ".old")
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    if old.exists():
        for path in old.iterdir():
            path.unlink()
        old.rmdir()


def load_checkpoint(directory: Path) -> tuple[LlamaForCausalLM, object, dict]:
    """``(model in eval mode, tokenizer, training dict)`` from a checkpoint directory.
    Raises :class:`CheckpointError` for a missing or incomplete directory."""
    directory = Path(directory)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (directory / name).exists():
            raise CheckpointError(f"{directory} is not an edit-model checkpoint: {name} is missing")
    try:
        tokenizer = load_tokenizer(directory)
    except TokenizerError as exc:
        raise CheckpointError(str(exc)) from None
    model = LlamaForCausalLM.from_pretrained(directory)
    model.eval()
    training_path = directory / "training.json"
    training = json.loads(training_path.read_text()) if training_path.exists() else {}
    return model, tokenizer, training


def size_from_json(data: dict) -> ModelSize:
    """Inverse of ``asdict(ModelSize)``, ignoring unknown keys."""
    return ModelSize(**{k: v for k, v in data.items() if k in ModelSize.__dataclass_fields__})


__all__ = [
    "BF16",
    "CheckpointError",
    "DEFAULT_CHECKPOINT",
    "bf16_autocast",
    "ModelSize",
    "build_model",
    "load_checkpoint",
    "parameter_count",
    "save_checkpoint",
    "size_from_json",
]
