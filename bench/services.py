# SPDX-License-Identifier: GPL-3.0-or-later
"""The three cloud-service emulators (tests/emulators) in a process of their own, for the UI benchmark.

Measures nothing. Run in-process, the emulators' request handlers would hold the GIL of Blender's process
and show up as main-thread time that real, remote services never cost; a separate process keeps the
measurement about the product (at a lower CPU priority too: a real service runs on other machines and
takes none of this one's cores). Protocol: ``python bench/services.py --slow SECONDS`` prints one JSON line
``{"csm": url, "tripo": url, "sboxcool": url}`` and serves until its stdin closes, then prints one JSON line
of statistics (requests, delayed requests, emulator-internal errors) and exits. ``Services`` is the parent
side: it starts the process and points the installed add-on at it (tests/support/cloud.py ``configure``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET = "bench-key-0123456789", "bench-secret-9876543210"


def _serve(slow_s: float) -> int:
    # The emulators stand in for remote machines: at low priority they still answer, but they do not take
    # this machine's two cores away from the Blender process being measured.
    os.nice(10)
    sys.path[:0] = [str(ROOT / "tests")]
    from emulators import CsmEmulator, SboxcoolEmulator, ScenarioEmulator

    emulators = {
        "csm": CsmEmulator(KEY),
        "tripo": ScenarioEmulator(KEY, SECRET),
        "sboxcool": SboxcoolEmulator(KEY),
    }
    for emu in emulators.values():
        emu.start()
        if slow_s > 0:
            # Every request to either host (API and file host) waits this long before it is answered.
            emu.inject("*", r".*", "slow", times=None, seconds=slow_s)
    sys.stdout.write(json.dumps({k: e.base_url for k, e in emulators.items()}) + "\n")
    sys.stdout.flush()
    sys.stdin.read()  # until the parent closes it
    stats = {
        "requests": sum(len(e.requests) for e in emulators.values()),
        "requests_delayed": sum(e.faults_injected for e in emulators.values()),
        "internal_errors": sum(len(e.internal_errors) for e in emulators.values()),
    }
    for emu in emulators.values():
        emu.stop()
    sys.stdout.write(json.dumps(stats) + "\n")
    sys.stdout.flush()
    return 0


class Services:
    """``with Services(addon, slow_s=1.0) as svc:`` the add-on talks to emulators in another process."""

    def __init__(self, addon, *, slow_s: float = 0.0) -> None:
        self.addon = addon
        self.slow_s = slow_s
        self.proc: subprocess.Popen | None = None
        self.stats: dict[str, Any] = {}

    def __enter__(self) -> Services:
        sys.path[:0] = [str(ROOT)]
        from tests.support.cloud import configure

        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--slow", str(self.slow_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        urls = json.loads(self.proc.stdout.readline())
        for provider, url in urls.items():
            creds = {"api_key": KEY, "api_secret": SECRET} if provider == "tripo" else {"api_key": KEY}
            configure(self.addon, provider, url, **creds)
        return self

    def __exit__(self, *exc: object) -> None:
        from tests.support.cloud import reset

        reset(self.addon)
        if self.proc is not None:
            self.proc.stdin.close()
            line = self.proc.stdout.readline()
            self.stats = json.loads(line) if line.strip() else {}
            self.proc.wait(timeout=30)
            self.proc = None


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--slow":
        sys.stderr.write("usage: python bench/services.py --slow SECONDS\n")
        sys.exit(2)
    sys.exit(_serve(float(sys.argv[2])))
