"""What every ``kelp train`` run directory shares: saved settings, resumable metrics, optimizer
and RNG state as safetensors tensors (no pickle), the warm-up + cosine learning-rate schedule
and the ``curves.png`` plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch


def check_settings(out: Path, settings: dict, error: type[Exception]) -> None:
    """Write ``settings`` to ``out/settings.json``; when a run already lives there, its settings
    must match except ``steps`` (a run may be trained longer). Raises ``error`` naming the
    settings that differ."""
    path = out / "settings.json"
    if path.exists():
        saved = json.loads(path.read_text())
        changed = sorted(k for k in settings if k != "steps" and saved.get(k) != settings[k])
        if changed:
            raise error(f"{out} holds a run with other settings ({', '.join(changed)}); use another --out")
    path.write_text(json.dumps(settings, indent=2) + "\n")


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the rows a killed run logged after its last checkpoint (the resumed run logs them again)."""
    if path.exists():
        rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
        path.write_text("".join(row + "\n" for row in rows))


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state as flat ``"<param index>.<key>"`` tensors (for safetensors)."""
    tensors = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`optimizer_tensors`: load that state into ``optimizer`` (same parameters)."""
    saved = optimizer.state_dict()
    state: dict = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    saved["state"] = state
    optimizer.load_state_dict(saved)


def save_training_state(checkpoint: Path, optimizer: torch.optim.Optimizer) -> None:
    """Write ``optimizer.safetensors`` (:func:`optimizer_tensors`) and ``rng.safetensors`` (torch's
    global RNG state) into the existing directory ``checkpoint``."""
    from safetensors.torch import save_file

    save_file(optimizer_tensors(optimizer), str(checkpoint / "optimizer.safetensors"))
    save_file({"torch": torch.get_rng_state()}, str(checkpoint / "rng.safetensors"))


def restore_training_state(checkpoint: Path, optimizer: torch.optim.Optimizer) -> None:
    """Inverse of :func:`save_training_state`: load the optimizer state and torch's RNG state."""
    from safetensors.torch import load_file

    load_optimizer_tensors(optimizer, load_file(str(checkpoint / "optimizer.safetensors")))
    torch.set_rng_state(load_file(str(checkpoint / "rng.safetensors"))["torch"])


def plot_curves(metrics_path: Path, out: Path, loss_label: str,
                series: list[tuple[str, str, str]], right_label: str | None = None) -> None:
    """Training loss (left axis) and held-out metrics in [0, 1] (right axis) against step, from
    ``metrics.jsonl``, as a PNG (matplotlib). ``series``: ``(metrics key, legend label, colour)``
    per held-out metric; rows holding ``"loss"`` are training rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    fig, left = plt.subplots(figsize=(7, 4))
    losses = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    if losses:
        left.plot(*zip(*losses), color="tab:blue", label="training loss")
    left.set_xlabel("step")
    left.set_ylabel(loss_label)
    right = left.twinx()
    for key, label, color in series:
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            right.plot(*zip(*points), "o-", color=color, label=label)
    if right_label:
        right.set_ylabel(right_label)
    right.set_ylim(0, 1)
    fig.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def warmup_cosine(step: int, lr: float, warmup: int, steps: int, floor: float = 0.0) -> float:
    """Learning rate at ``step``: linear warm-up over ``warmup`` steps to ``lr``, then cosine
    decay to ``floor * lr`` at ``steps`` (Loshchilov & Hutter 2017, "SGDR")."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


__all__ = ["check_settings", "truncate_metrics", "optimizer_tensors", "load_optimizer_tensors", "plot_curves",
           "restore_training_state", "save_training_state", "warmup_cosine"]
