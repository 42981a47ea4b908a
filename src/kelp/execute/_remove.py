"""Removal of a job's directory that never follows a link a candidate planted (stdlib only;
loaded by path by ``_worker.py``)."""

from __future__ import annotations

import os


def remove_tree(path: str) -> None:
    """Remove the directory ``path`` and everything in it, ignoring errors, without ever
    following a symbolic link: each directory is opened with O_NOFOLLOW and its entries are
    removed relative to that descriptor, so a link a candidate planted (even one swapped in while
    this runs) is unlinked itself, never its target.  (Not ``shutil.rmtree``, which does the same:
    ``shutil`` is kept out of the worker's memory, where every module makes each fork dearer.)"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        try:
            os.unlink(path)  # a link or a file in place of the directory
        except OSError:
            pass
        return
    try:
        _clear_dir(fd, 0)
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _clear_dir(dir_fd: int, depth: int) -> None:
    try:
        with os.scandir(dir_fd) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except OSError:
        return
    for name, is_dir in entries:
        try:
            if not is_dir:
                os.unlink(name, dir_fd=dir_fd)
                continue
            if depth < 64:
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
                try:
                    _clear_dir(sub, depth + 1)
                finally:
                    os.close(sub)
            os.rmdir(name, dir_fd=dir_fd)
        except OSError:
            pass
