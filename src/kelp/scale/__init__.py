"""Task-parallel work on more cores or machines: a map over independent units of work that runs
in this process or as Ray tasks, with the results streaming back to the one caller that writes
them (see docs/scaling.md). Ray is an optional extra (``pip install kelp[scale]``), imported only
when ``--ray`` is given."""

from kelp.scale.pool import Failed, ScaleError, Work, connect, map_units

__all__ = ["Failed", "ScaleError", "Work", "connect", "map_units"]
