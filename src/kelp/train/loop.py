"""The training harness every ``kelp train`` command runs (see docs/training.md).

:func:`fit` owns what all training runs share: AdamW with a linear warm-up + cosine learning-rate
schedule, gradient-norm clipping, periodic held-out evaluation, checkpoints with resume, the
``metrics.jsonl`` log, ``curves.png`` and a rich progress bar on stderr. A :class:`Task` holds
what one model needs: how to build or load it, one step's batch, its loss, its evaluation and its
checkpoint files.

A run directory ``out`` holds ``metrics.jsonl``, ``curves.png`` and ``checkpoint/``: the task's
model files and step JSON (``LoopConfig.state_file``) plus ``optimizer.safetensors`` (AdamW's
per-parameter tensors as ``"<param index>.<key>"``) and ``rng.safetensors`` (torch's CPU RNG
state as ``"torch"``, and the CUDA one as ``"cuda"`` on a CUDA device). Nothing is pickled.
A checkpoint is written to ``checkpoint.tmp`` and swapped in, so an interrupted save leaves the
previous one intact. A rerun resumes from it: weights, optimizer, RNG, the task's data position
and the step, with the metrics rows logged after that step dropped (the resumed run logs them
again), so an interrupted run ends with the weights of an uninterrupted one.

torch, rich, safetensors and matplotlib are imported inside the functions that use them.
"""

from __future__ import annotations

import gc
import json
import math
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kelp.errors import KelpError

if TYPE_CHECKING:
    import torch


class ResumeError(KelpError, ValueError):
    """A checkpoint that cannot be resumed from (message names the missing file)."""


@dataclass(frozen=True)
class LoopConfig:
    """How :func:`fit` trains.

    ``steps``: optimizer steps of the schedule; ``until``: stop after this step (evaluated and
    checkpointed) with the schedule still that of ``steps``. ``lr``: peak AdamW learning rate,
    reached by linear warm-up over ``warmup`` steps, then cosine decay to ``lr_floor * lr`` at
    ``steps``. ``betas``, ``weight_decay``: AdamW's. ``grad_clip``: largest gradient L2 norm
    (0: no clipping). ``log_every``: steps per training row of ``metrics.jsonl``;
    ``eval_every``: steps between evaluations, each followed by a checkpoint;
    ``checkpoint_every``: extra checkpoints every that many steps (0: none); the last step is
    always evaluated and checkpointed. ``seed``: torch's global seed, set before the model is
    built or loaded. ``device``: where the model and batches live (``"cpu"``, ``"cuda"``).
    ``label``: the progress bar's text; ``progress``: show it. ``state_file``: the JSON file in
    ``checkpoint/`` that holds the step (written by :meth:`Task.save`)."""

    steps: int
    lr: float
    warmup: int = 100
    lr_floor: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    log_every: int = 20
    eval_every: int = 250
    checkpoint_every: int = 0
    until: int | None = None
    seed: int = 0
    device: str = "cpu"
    label: str = "training"
    progress: bool = True
    state_file: str = "training.json"

    def lr_at(self, step: int) -> float:
        """The scheduled learning rate at 0-based ``step`` (:func:`warmup_cosine`)."""
        return warmup_cosine(step, self.lr, self.warmup, self.steps, self.lr_floor)


class Task:
    """What one model's training needs besides the harness; subclasses implement
    :meth:`build`, :meth:`load`, :meth:`batch`, :meth:`loss`, :meth:`evaluate` and
    :meth:`save`, and may override the rest.

    ``headline``: the evaluation key shown on the progress bar; ``loss_label``, ``series`` and
    ``right_label``: the axes of ``curves.png`` (:func:`plot_curves`); ``unused_parameters``:
    under torchrun, tell DistributedDataParallel that a step may leave parameters unused."""

    headline: str | None = None
    #: Whether a step may leave some parameters without a gradient (DDP must then look for them).
    unused_parameters: bool = False
    loss_label: str = "loss"
    series: tuple[tuple[str, str, str], ...] = ()
    right_label: str | None = None

    def build(self) -> torch.nn.Module:
        """A freshly initialised model (torch's global seed is set just before)."""
        raise NotImplementedError

    def load(self, checkpoint: Path, training: dict) -> torch.nn.Module:
        """The model saved in ``checkpoint``; ``training`` is its step JSON."""
        raise NotImplementedError

    def batch(self, model: torch.nn.Module, step: int) -> Any:
        """The batch of 0-based ``step``: tensors, dicts, lists or tuples of them, or an object
        with ``.to(device)`` (a PyG ``Batch``); :func:`fit` moves it to the device."""
        raise NotImplementedError

    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor | tuple[torch.Tensor, dict]:
        """The scalar loss of ``batch`` in training mode, or ``(loss, counts)`` where ``counts``
        (numbers, e.g. tokens) are summed over a log interval into the training row."""
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module) -> dict:
        """Held-out metrics (JSON-ready), run in eval mode without gradients."""
        raise NotImplementedError

    def save(self, model: torch.nn.Module, directory: Path, training: dict) -> None:
        """Write the model's checkpoint files into ``directory`` (created if needed) and
        ``training`` as JSON in ``directory / LoopConfig.state_file``."""
        raise NotImplementedError

    def state(self) -> dict:
        """JSON-ready data that goes into ``training`` besides ``step`` (a data-stream position,
        the run's settings)."""
        return {}

    def restore(self, training: dict) -> None:
        """Resume the data position from a saved ``training`` dict."""

    def row(self, step: int) -> dict:
        """Extra fields of the training row logged at ``step``."""
        return {}


@dataclass
class Outcome:
    """What :func:`fit` ends with: the ``step`` reached, the last ``evaluation`` (``{}`` when
    this call trained no step) and the ``model`` (in training mode, on the device)."""

    step: int
    evaluation: dict
    model: Any


def fit(config: LoopConfig, task: Task, out: Path) -> Outcome:
    """Train ``task``'s model into the run directory ``out`` (created if needed), resuming from
    ``out/checkpoint`` when it holds ``config.state_file``.

    Each step: ``task.batch`` -> device -> learning rate of the schedule -> ``task.loss`` ->
    backward -> gradient clipping -> AdamW step. Under torchrun (:mod:`kelp.train.distributed`)
    the loss runs in :class:`~torch.nn.parallel.DistributedDataParallel` on this rank's shard of
    the batch, the logged loss is the mean over the ranks and the counts their sum, and rank 0
    alone evaluates, logs and checkpoints. Raises :class:`ResumeError` for a checkpoint without
    optimizer or RNG state, ``ValueError`` for a batch with fewer samples than ranks; errors of
    the task pass through (a ``KeyboardInterrupt`` leaves the last checkpoint as it was)."""
    import torch

    from kelp.train import distributed

    here = distributed.init(config.device)
    device = f"cuda:{here.local_rank}" if here.size > 1 and str(config.device) == "cuda" else config.device
    out = Path(out)
    checkpoint = out / "checkpoint"
    with distributed.main_first():
        out.mkdir(parents=True, exist_ok=True)
        training = read_checkpoint(checkpoint, config.state_file)
    torch.manual_seed(config.seed)
    model = task.build() if training is None else task.load(checkpoint, training)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.betas,
                                  weight_decay=config.weight_decay)
    step = 0
    if training is not None:
        restore_training_state(checkpoint, optimizer, device)
        task.restore(training)
        step = training["step"]
    metrics = out / "metrics.jsonl"
    if here.main:
        truncate_metrics(metrics, step)
    model.train()
    compute = _data_parallel(model, task, device) if here.size > 1 else (lambda batch: task.loss(model, batch))
    last = min(config.steps, config.until or config.steps)
    evaluation: dict = {}
    losses: list[float] = []
    counts: dict[str, float] = {}
    started = time.monotonic()
    with _progress(config, step, last, enabled=config.progress and here.main) as (bar, job):
        while step < last:
            batch = task.batch(model, step)
            if here.size > 1:
                samples = distributed.rows(batch)
                if samples is not None and samples < here.size:
                    raise ValueError(f"a batch of {samples} samples cannot be shared by {here.size} ranks; raise --batch")
                batch = distributed.shard(batch, here.rank, here.size)
            batch = to_device(batch, device)
            for group in optimizer.param_groups:
                group["lr"] = config.lr_at(step)
            loss, batch_counts = _loss_and_counts(compute(batch))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            losses.append(loss.detach().item())
            for key, value in batch_counts.items():
                counts[key] = counts.get(key, 0) + value
            step += 1
            if config.log_every and step % config.log_every == 0:
                mean_loss = distributed.mean(sum(losses) / len(losses), device)
                row = {"step": step, "loss": round(mean_loss, 5), "lr": round(config.lr_at(step), 6),
                       **distributed.total(counts, device), **task.row(step),
                       "seconds": round(time.monotonic() - started, 1)}
                losses, counts = [], {}
                if here.main:
                    append_row(metrics, row)
                bar.update(job, info=_status(row["loss"], evaluation, task.headline))
            evaluate = step == last or bool(config.eval_every and step % config.eval_every == 0)
            if evaluate:
                if here.main:
                    model.eval()
                    with torch.no_grad():
                        evaluation = task.evaluate(model)
                    model.train()
                    append_row(metrics, {"step": step, **evaluation})
                evaluation = distributed.from_main(evaluation)
            if here.main and (evaluate or (config.checkpoint_every and step % config.checkpoint_every == 0)):
                save_checkpoint(checkpoint, task, model, optimizer, step)
                plot_curves(metrics, out / "curves.png", task.loss_label, list(task.series), task.right_label)
            bar.update(job, completed=step)
    if here.size > 1:
        # DistributedDataParallel holds the process group in reference cycles; collected here,
        # not in the interpreter's last collection, where gloo's threads can no longer take the GIL.
        del compute
        gc.collect()
    distributed.barrier()  # no rank leaves before rank 0's last checkpoint is written
    return Outcome(step, evaluation, model)


def _data_parallel(model, task: Task, device: str):
    """``batch -> task.loss(model, batch)`` run through
    :class:`~torch.nn.parallel.DistributedDataParallel`, which averages the gradients of the
    ranks in the backward pass. The task's loss is wrapped in a module, so a loss that calls the
    model twice or through another method (``model.loss(...)``) is still one DDP forward."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    class _TaskLoss(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, batch):
            return task.loss(self.model, batch)

    ids = [torch.device(device).index] if str(device).startswith("cuda") else None
    return DistributedDataParallel(_TaskLoss(), device_ids=ids, find_unused_parameters=task.unused_parameters)


def _loss_and_counts(result) -> tuple[torch.Tensor, dict]:
    return result if isinstance(result, tuple) else (result, {})


def _status(loss: float, evaluation: dict, headline: str | None) -> str:
    text = f"loss {loss:.3f}"
    if headline and evaluation.get(headline) is not None:
        text += f"  {headline} {evaluation[headline]:.3g}"
    return text


@contextmanager
def _progress(config: LoopConfig, step: int, last: int, *, enabled: bool):
    """``(Progress, task id)`` of a rich bar on stderr (drawn when ``enabled``)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(config.label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), console=Console(stderr=True), disable=not enabled) as bar:
        yield bar, bar.add_task("train", total=last, completed=step, info="")


def to_device(value: Any, device: str) -> Any:
    """``value`` with every tensor moved to ``device``: tensors and objects with ``.to`` (PyG
    ``Batch``) directly, dicts, lists and tuples element by element; anything else unchanged."""
    if isinstance(value, dict):
        return {key: to_device(item, device) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(item, device) for item in value)
    if callable(getattr(value, "to", None)):
        return value.to(device)
    return value


def warmup_cosine(step: int, lr: float, warmup: int, steps: int, floor: float = 0.0) -> float:
    """Learning rate at 0-based ``step``: linear warm-up over ``warmup`` steps to ``lr``, then
    cosine decay to ``floor * lr`` at ``steps`` (Loshchilov & Hutter 2017, "SGDR")."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


# --- run directory ----------------------------------------------------------------------------

def check_settings(out: Path, settings: dict, error: type[Exception]) -> None:
    """Write ``settings`` to ``out/settings.json`` (rank 0 of a torchrun launch alone writes);
    when a run already lives there, its settings must match except ``steps`` (a run may be
    trained longer). Raises ``error`` naming the settings that differ."""
    from kelp.train.distributed import world

    path = Path(out) / "settings.json"
    if path.exists():
        saved = json.loads(path.read_text())
        changed = sorted(k for k in settings if k != "steps" and saved.get(k) != settings[k])
        if changed:
            raise error(f"{out} holds a run with other settings ({', '.join(changed)}); use another --out")
    if world().main:
        path.write_text(json.dumps(settings, indent=2) + "\n")


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` to the JSONL file ``path`` as one line."""
    with Path(path).open("a") as sink:
        sink.write(json.dumps(row) + "\n")


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the rows with a ``step`` above ``step`` (logged by a killed run after its last
    checkpoint; the resumed run logs them again). A missing file is left missing."""
    path = Path(path)
    if path.exists():
        rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
        path.write_text("".join(row + "\n" for row in rows))


def plot_curves(metrics_path: Path, out: Path, loss_label: str,
                series: list[tuple[str, str, str]], right_label: str | None = None) -> None:
    """Training loss (left axis) and held-out metrics in [0, 1] (right axis) against step, from
    ``metrics.jsonl``, as a PNG (matplotlib). ``series``: ``(metrics key, legend label, colour)``
    per held-out metric; rows holding ``"loss"`` are training rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line.strip()]
    fig, left = plt.subplots(figsize=(7, 4))
    losses = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    if losses:
        left.plot(*zip(*losses), color="tab:blue", label="training loss")
    left.set_xlabel("step")
    left.set_ylabel(loss_label)
    right = left.twinx()
    for key, label, color in series:
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            right.plot(*zip(*points), "o-", color=color, label=label)
    if right_label:
        right.set_ylabel(right_label)
    right.set_ylim(0, 1)
    fig.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


# --- checkpoints ------------------------------------------------------------------------------

def read_checkpoint(checkpoint: Path, state_file: str = "training.json") -> dict | None:
    """The step JSON of a resumable checkpoint directory, or ``None`` when there is none. A
    checkpoint left as ``<name>.old`` by a save interrupted mid-swap is moved back first."""
    checkpoint = Path(checkpoint)
    old = checkpoint.with_name(checkpoint.name + ".old")
    if not checkpoint.exists() and old.exists():
        old.rename(checkpoint)
    path = checkpoint / state_file
    return json.loads(path.read_text()) if path.exists() else None


def save_checkpoint(checkpoint: Path, task: Task, model, optimizer, step: int) -> None:
    """Write ``task.save``'s files with ``training = {"step": step, **task.state()}`` and the
    optimizer and RNG state (:func:`save_training_state`) into ``<checkpoint>.tmp``, then swap
    it in for ``checkpoint``."""
    checkpoint = Path(checkpoint)
    tmp = checkpoint.with_name(checkpoint.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    task.save(model, tmp, {"step": step, **task.state()})
    save_training_state(tmp, optimizer)
    old = checkpoint.with_name(checkpoint.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if checkpoint.exists():
        checkpoint.rename(old)
    tmp.rename(checkpoint)
    if old.exists():
        shutil.rmtree(old)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state as flat ``"<param index>.<key>"`` CPU tensors (for
    safetensors); scalar entries become 0-d tensors."""
    import torch

    tensors = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
    return tensors


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`optimizer_tensors`: load that state into ``optimizer`` (same parameters;
    torch moves the tensors to the parameters' device)."""
    saved = optimizer.state_dict()
    state: dict = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    saved["state"] = state
    optimizer.load_state_dict(saved)


def save_training_state(checkpoint: Path, optimizer: torch.optim.Optimizer) -> None:
    """Write ``optimizer.safetensors`` (:func:`optimizer_tensors`) and ``rng.safetensors``
    (torch's CPU RNG state as ``"torch"``; with CUDA initialised, the current device's as
    ``"cuda"``) into the existing directory ``checkpoint``."""
    import torch
    from safetensors.torch import save_file

    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state()
    save_file(optimizer_tensors(optimizer), str(Path(checkpoint) / "optimizer.safetensors"))
    save_file(rng, str(Path(checkpoint) / "rng.safetensors"))


def restore_training_state(checkpoint: Path, optimizer: torch.optim.Optimizer, device: str = "cpu") -> None:
    """Inverse of :func:`save_training_state`: load the optimizer state and the RNG states
    (the CUDA one only when ``device`` is a CUDA device). Raises :class:`ResumeError` naming a
    missing file."""
    import torch
    from safetensors.torch import load_file

    checkpoint = Path(checkpoint)
    for name in ("optimizer.safetensors", "rng.safetensors"):
        if not (checkpoint / name).is_file():
            raise ResumeError(f"{checkpoint} cannot be resumed: {name} is missing")
    load_optimizer_tensors(optimizer, load_file(str(checkpoint / "optimizer.safetensors")))
    rng = load_file(str(checkpoint / "rng.safetensors"))
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and str(device).startswith("cuda"):
        torch.cuda.set_rng_state(rng["cuda"])


__all__ = ["LoopConfig", "Outcome", "ResumeError", "Task", "append_row", "check_settings", "fit",
           "load_optimizer_tensors", "optimizer_tensors", "plot_curves", "read_checkpoint",
           "restore_training_state", "save_checkpoint", "save_training_state", "to_device",
           "truncate_metrics", "warmup_cosine"]
