"""Length-prefixed JSON frames: the sandbox's wire format (stdlib only).

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON.  The host
(:mod:`kelp.execute.sandbox`) and the worker talk in frames on the worker's stdin/stdout, and a
job's child sends its events to the worker in frames.  Loaded by path by ``_worker.py`` (which
runs with ``-I``), imported normally by the host.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time

_HEADER = struct.Struct(">I")
#: Largest frame accepted on the host/worker protocol, in bytes.
MAX_FRAME = 256 * 1024 * 1024


def write_frame(fd: int, obj: object) -> None:
    """Write ``obj`` as one length-prefixed JSON frame to file descriptor ``fd`` (blocking)."""
    write_frames(fd, [obj])


def write_frames(fd: int, objs: list) -> None:
    """Write each of ``objs`` as a length-prefixed JSON frame, all in one ``write`` when they fit
    the pipe (blocking)."""
    chunks = []
    for obj in objs:
        data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        chunks += [_HEADER.pack(len(data)), data]
    view = memoryview(b"".join(chunks))
    while view:
        n = os.write(fd, view)
        view = view[n:]


class FrameReader:
    """Incremental decoder of length-prefixed JSON frames (feed bytes, pop whole objects).

    ``max_frame`` caps one frame's size and ``max_total`` the bytes fed in all (None: no cap)."""

    def __init__(self, max_frame: int = MAX_FRAME, max_total: int | None = None) -> None:
        self.buf = bytearray()
        self.error: str | None = None  # set once the stream is corrupt; later bytes are ignored
        self.max_frame, self.max_total, self.total = max_frame, max_total, 0

    def feed(self, data: bytes) -> list:
        """Append ``data``; return the complete frames decoded so far (may be empty).  On a corrupt
        frame, return the good frames before it and set :attr:`error`."""
        if self.error:
            return []
        self.total += len(data)
        if self.max_total is not None and self.total > self.max_total:
            self.error = f"event channel flood: over {self.max_total} bytes"
            return []
        self.buf += data
        out = []
        while len(self.buf) >= 4:
            (size,) = _HEADER.unpack_from(self.buf)
            if size > self.max_frame:
                self.error = f"frame of {size} bytes is over the limit"
                break
            if len(self.buf) < 4 + size:
                break
            try:
                frame = json.loads(bytes(self.buf[4 : 4 + size]).decode("utf-8"))
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                self.error = f"undecodable frame: {exc}"
                break
            if not isinstance(frame, dict):
                self.error = "frame is not an object"
                break
            out.append(frame)
            del self.buf[: 4 + size]
        return out


def read_frame(fd: int, deadline: float | None = None) -> object | None:
    """Read one frame from ``fd``; None on EOF; raise TimeoutError past ``deadline`` (monotonic)."""
    reader = FrameReader()
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame before the deadline")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
        data = os.read(fd, 1 << 16)
        if not data:
            return None
        frames = reader.feed(data)
        if reader.error:
            raise ValueError(reader.error)
        if frames:
            return frames[0]
