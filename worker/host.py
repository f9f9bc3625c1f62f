# SPDX-License-Identifier: GPL-3.0-or-later
"""The worker host: a child process that runs every job's network and geometry work for Blender.

Blender's own documentation says Python threads inside Blender crash it in hard-to-diagnose ways (its
operators release the GIL), and we saw exactly that in tests. So Blender runs no worker thread at all: this
process runs the ``JobRunner`` (worker threads are safe here, there is no bpy) and talks to Blender over its
stdin/stdout with ``worker.ipc`` lines. Protocol output owns the real stdout; anything else that prints goes
to stderr, like the logs.

When Blender goes away (stdin closes) or asks to shut down, the running jobs are stopped the way
``JobRunner.shutdown`` does it: their journal entries stay as they were, so the next session resumes them.
Started with ``ipc.PREWARM_ENV`` set (a JSON ``[extension_root, python_paths]``), the host starts the local
engine's first warm child (``worker.engine_pool``) first thing, so it loads while the host imports the cloud
providers.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

from ..core.jobs import JobEvent, State
from ..providers.registry import implementations
from . import ipc
from .engine_pool import ENGINES
from .runner import JobRunner

log = logging.getLogger(__name__)


def main() -> int:
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout = sys.stderr  # a stray print must never corrupt the protocol
    logging.basicConfig(
        level=os.environ.get("RETOPO_HUB_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="[retopo-hub worker] %(levelname)s %(name)s: %(message)s",
    )
    if prewarm := os.environ.pop(ipc.PREWARM_ENV, ""):
        from ..providers.local import LocalProvider

        extension_root, python_paths = json.loads(prewarm)
        LocalProvider.prewarm(extension_root, python_paths)
    runner = JobRunner(implementations())
    write_lock = threading.Lock()
    stop = threading.Event()

    def send(message: dict) -> None:
        with write_lock:
            protocol.write(ipc.dumps(message))

    def pump() -> None:
        last_sent = time.monotonic()
        while not stop.is_set() or runner.running_ids():
            runner.wait_for_event(0.2)
            for event in runner.drain():
                send({"event": ipc.encode_event(event)})
                last_sent = time.monotonic()
            for probe_id, result in runner.drain_probes():
                send({"probe": {"id": probe_id, **result.to_dict()}})
                last_sent = time.monotonic()
            for measure_id, answer in runner.drain_measures():
                send({"measured": {"id": measure_id, **answer}})
                last_sent = time.monotonic()
            if time.monotonic() - last_sent >= ipc.BEAT_S and runner.running_ids():
                send({"beat": 1})  # alive: Blender replaces a host that falls silent
                last_sent = time.monotonic()

    pumper = threading.Thread(target=pump, name="retopo-hub-host-pump", daemon=True)
    pumper.start()
    try:
        for raw in sys.stdin.buffer:
            try:
                message = json.loads(raw)
                if _handle(message, runner):
                    break
            except Exception as exc:  # one bad message must not take every running job down
                log.exception("bad message from Blender")
                job_id = message.get("spec", {}).get("job_id") if isinstance(message, dict) else None
                if isinstance(message, dict) and message.get("op") == "measure" and message.get("id"):
                    reason = f"the worker could not measure the result ({type(exc).__name__})"
                    send({"measured": {"id": str(message["id"]), "error": reason}})
                elif job_id and message.get("op") == "probe":  # answered, so the button does not wait it out
                    reason = f"the worker could not run the test ({type(exc).__name__}); see the console"
                    send({"probe": {"id": job_id, "outcome": "unexpected", "message": reason}})
                elif job_id:
                    reason = f"the worker could not start this job ({type(exc).__name__}); see the console"
                    failed = JobEvent(job_id, state=State.FAILED, message=reason, error=reason)
                    send({"event": ipc.encode_event(failed)})
    finally:
        runner.shutdown()
        ENGINES.close()  # idle engine children end now and are waited for (their CPU counts as ours)
        stop.set()
        runner.wake()
        pumper.join(timeout=5)
    return 0


def _handle(message: dict, runner: JobRunner) -> bool:
    op = message.get("op")
    if op == "start":
        runner.start(ipc.decode_spec(message["spec"]))
    elif op == "probe":
        runner.probe(ipc.decode_spec(message["spec"]), float(message.get("timeout_s") or 10.0))
    elif op == "measure":
        runner.measure(str(message["id"]), str(message["source"]), dict(message["results"]))
    elif op == "confirm":
        runner.confirm(str(message.get("job_id")))
    elif op == "cancel":
        runner.cancel(str(message.get("job_id")))
    elif op == "limit":
        limit = message.get("limit")
        runner.set_limit(str(message.get("provider")), None if limit is None else int(limit))
    elif op == "spares":
        set_spares = getattr(runner.provider(str(message.get("provider"))), "set_spares", None)
        if set_spares is not None:
            set_spares(int(message["count"]))
    elif op == "prewarm":
        prewarm = getattr(runner.provider(str(message.get("provider"))), "prewarm", None)
        if prewarm is not None:
            prewarm(str(message["extension_root"]), list(message["python_paths"]))
    elif op == "shutdown":
        return True
    return False
