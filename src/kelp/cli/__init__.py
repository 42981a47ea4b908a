"""The `kelp` command line: parses flags, calls one function of a layer below, prints.

One module per command group (``repair``, ``eval``, ``index`` for index and search,
``generate``, ``train``, ``doctor``); :func:`main` is the one place errors become exit statuses:

- a :class:`~kelp.errors.KelpError` (bad input or settings) is one line on stderr, status 2;
- SIGINT / SIGTERM unwind the command (closing its sandbox), print what was done and give
  status 130 / 143 (:mod:`kelp.cli._signals`);
- anything else is a bug in kelp and keeps its traceback.

Nothing heavy (torch, transformers, numpy) is imported here or in the command modules: each
command imports the layer it calls when it runs, so ``kelp --help`` starts fast.
"""

from __future__ import annotations

import sys

import typer

from kelp.cli import _signals, doctor, eval as eval_group, generate, index, repair, train, train_ranking  # noqa: F401
from kelp.cli._console import err
from kelp.errors import KelpError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Repair, refine, search and generate structured code with small models on a CPU.")


def _print_version(value: bool) -> None:
    if value:
        from kelp import __version__

        print(f"kelp {__version__}")
        raise typer.Exit(0)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print kelp's version and exit.")) -> None:
    """Repair, refine, search and generate structured code with small models on a CPU."""


app.command("repair")(repair.repair_cmd)
app.add_typer(eval_group.eval_app, name="eval")
app.command("doctor")(doctor.doctor_cmd)
app.command("index")(index.index_cmd)
app.command("search")(index.search_cmd)
app.add_typer(train.train_app, name="train")
app.command("generate")(generate.generate_cmd)


def main() -> None:
    """Console entry point (``kelp = "kelp.cli:main"``): runs :data:`app` and maps what escapes
    it to an exit status (module docstring)."""
    _signals.install()
    try:
        app()
    except _signals.Interrupted as exc:
        note = _signals.interrupt_note()
        err.print(f"kelp: interrupted ({exc}){'; ' + note if note else ''}", markup=False, soft_wrap=True)
        sys.exit(128 + exc.signum)
    except KelpError as exc:
        err.print(f"kelp: error: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)


__all__ = ["app", "main"]
