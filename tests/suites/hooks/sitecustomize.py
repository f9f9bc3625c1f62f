# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only patches for the processes the extension starts (its worker host and the engine child).

Python imports ``sitecustomize`` at start-up from the first folder on its path that has one. The suites put
this folder first on ``sys.path``, which the extension hands to its worker host as PYTHONPATH, so what a
test cannot monkeypatch in its own process still reaches the workers. Inert unless one of these is set:

* ``RETOPO_HUB_TEST_READ_TIMEOUT``: seconds; every ``requests`` call waits at most that long for an answer
  (the product's own read timeout is a minute, too long for a suite to provoke).
* ``RETOPO_HUB_TEST_FREE_BYTES``: ``shutil.disk_usage`` reports only that many bytes free (a full disk).
"""

from __future__ import annotations

import os
from collections.abc import Callable


def install(read_timeout: float | None = None, free_bytes: int | None = None) -> Callable[[], None]:
    """Apply the patches in this process; returns a function that takes them back."""
    undo: list[Callable[[], None]] = []
    if read_timeout:
        import requests

        original = requests.Session.request

        def request(self, method, url, *args, timeout=None, **kwargs):
            if isinstance(timeout, tuple):
                timeout = (timeout[0], min(float(timeout[1]), read_timeout))
            elif timeout is not None:
                timeout = min(float(timeout), read_timeout)
            return original(self, method, url, *args, timeout=timeout, **kwargs)

        requests.Session.request = request
        undo.append(lambda: setattr(requests.Session, "request", original))
    if free_bytes is not None:
        import shutil

        real = shutil.disk_usage

        def disk_usage(path):
            usage = real(path)
            return type(usage)(usage.total, usage.total - free_bytes, free_bytes)

        shutil.disk_usage = disk_usage
        undo.append(lambda: setattr(shutil, "disk_usage", real))

    def take_back() -> None:
        for step in reversed(undo):
            step()

    return take_back


_timeout = os.environ.get("RETOPO_HUB_TEST_READ_TIMEOUT")
_free = os.environ.get("RETOPO_HUB_TEST_FREE_BYTES")
if __name__ == "sitecustomize" and (_timeout or _free):  # not when a test loads it to patch itself
    install(float(_timeout) if _timeout else None, int(_free) if _free else None)
