"""Append-only JSONL result files that survive interruption (``results.jsonl`` of the evaluations).

Every record is written as one complete line by a single ``os.write`` on an ``O_APPEND`` file
descriptor, so a killed or interrupted run leaves either the whole line or none of it (the
kernel holds the bytes once ``os.write`` returns). A line can still be torn by a crash of the
machine or a full disk; :func:`read_records` drops such a line, and :func:`append_record` cuts
the file back to its last complete line before writing, so a resumed run never glues its next
record onto a cut one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

_CHUNK = 1 << 16


def read_records(path: Path | str) -> list[dict]:
    """The JSON objects of ``path``, in file order (``[]`` when the file does not exist).

    A last line without its trailing newline (a torn write) is dropped, and so is any line that
    does not parse as a JSON object; the file itself is not changed.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    records = []
    for line in data[: data.rfind(b"\n") + 1].splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError: a damaged line
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def append_record(path: Path | str, record: dict) -> None:
    """Append ``record`` to ``path`` as one JSON line, with one ``os.write`` (``O_APPEND``).

    If the file ends in a torn line (no trailing newline), it is first truncated back to its
    last complete line. Raises ``OSError`` if the line could not be written whole (a short
    write is undone, so the file never ends in a partial record written here).
    """
    line = (json.dumps(record) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = _complete_length(fd)
        written = os.write(fd, line)
        if written != len(line):
            os.ftruncate(fd, size)
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
    finally:
        os.close(fd)


def _complete_length(fd: int) -> int:
    """Truncate the file open at ``fd`` after its last newline (dropping a torn last line)
    unless it already ends with one; returns the resulting size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        cut = os.pread(fd, end - start, start).rfind(b"\n")
        if cut >= 0:
            end = start + cut + 1
            break
        end = start
    os.ftruncate(fd, end)
    return end
