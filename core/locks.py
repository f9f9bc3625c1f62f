# SPDX-License-Identifier: GPL-3.0-or-later
"""An exclusive, cross-process lock on a name, held through an OS file lock in a folder.

Two CLI runs of the same input and options (same dedupe key) must not both submit: whoever takes the key's
lock first does the job, the other waits and then finds the first one's journal entry (its results, or its
remote job). The OS releases the lock when its holder dies, so a killed run never blocks the next one.
``acquire(folder, name, on_wait=...)`` returns a ``Held`` to ``release()``; ``hold`` is the same as a context
manager; ``on_wait`` is called once if the lock is busy.
The wait polls, so Ctrl-C and SIGTERM still interrupt it. No bpy; any thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

if os.name == "nt":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


POLL_S = 0.2


class Held:
    """A lock taken by ``acquire``; ``release()`` lets go of it (once; later calls do nothing)."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _unlock(fd)
        finally:
            os.close(fd)


def acquire(folder: Path, name: str, *, on_wait: Callable[[], None] | None = None) -> Held:
    """Take the lock called ``name`` (a file ``folder/name.lock``), waiting for it if busy."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try_lock(fd):
            if on_wait is not None:
                on_wait()
            while not _try_lock(fd):
                time.sleep(POLL_S)
    except BaseException:
        os.close(fd)
        raise
    return Held(fd)


@contextmanager
def hold(folder: Path, name: str, *, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock called ``name`` for the block (``acquire`` ... ``release``)."""
    held = acquire(folder, name, on_wait=on_wait)
    try:
        yield
    finally:
        held.release()
