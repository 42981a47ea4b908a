"""``kelp doctor``: which sandbox layers are in force on this machine."""

from __future__ import annotations

import json

import typer

from kelp.cli._console import err


def doctor_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
) -> None:
    """Say which sandbox layers are in force on this machine (started for real in one worker).

    Exit status: 0 every layer active, 1 some missing (the table says what that leaves open)."""
    from kelp.execute.doctor import diagnose

    report = diagnose()
    if as_json:
        print(json.dumps(report))
    else:  # plain lines: never wrapped, whatever the terminal
        for row in report["layers"]:
            print(f"{row['layer']:<11} {'yes' if row['active'] else 'NO':<4} {row['detail']}  [{row['purpose']}]")
        who = f"root, jobs run as private uid {report['private_uid']}" if report["root"] else "not root"
        print(f"python: {report['python']} ({who})")
    for warning in report["warnings"]:
        err.print(f"kelp: warning: {warning}")
    raise typer.Exit(0 if all(row["active"] for row in report["layers"]) else 1)
