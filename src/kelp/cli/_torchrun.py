"""``kelp train`` under torchrun: which subcommands train data-parallel, joining the process
group, and the one rank that prints (docs/training.md#data-parallel-training-under-torchrun)."""

from __future__ import annotations

import json

import typer

from kelp.cli._console import err

#: Subcommands that train a torch model in the harness: data-parallel under torchrun.
DATA_PARALLEL = ("edit", "graph", "encoder", "structured")


def join(ctx: typer.Context) -> None:
    """Build training data and train the learned proposers; under torchrun, the torch models train data-parallel (docs/scaling.md)."""
    from kelp.train import distributed

    here = distributed.world()
    if here.size == 1:
        return
    if ctx.invoked_subcommand not in DATA_PARALLEL:
        if not here.main:
            err.print(f"kelp train {ctx.invoked_subcommand} does not train data-parallel: rank 0 runs it alone, "
                      f"rank {here.rank} exits")
            raise typer.Exit(0)
        return
    distributed.init()
    ctx.call_on_close(distributed.close)


def print_result(result: dict) -> None:
    """The command's JSON result on stdout (under torchrun, rank 0 alone prints)."""
    from kelp.train.distributed import world

    if world().main:
        print(json.dumps(result))
