# SPDX-License-Identifier: GPL-3.0-or-later
"""The job runner keeps every job's events in order, whoever waits on the queue meanwhile."""

from __future__ import annotations

import threading

from retopo_hub.core.errors import Cancelled
from retopo_hub.core.jobs import JobSpec, State
from retopo_hub.worker.runner import JobRunner


class _Chatty:
    name, max_concurrent = "chatty", 1

    def __init__(self) -> None:
        self.release = threading.Event()

    def run(self, spec, ctx):
        for i in range(200):
            ctx.emit(State.UPLOADING, i / 200, f"step {i}")
        self.release.wait(5)
        raise Cancelled("cancelled by the user")


def test_waiting_never_reorders_events():
    provider = _Chatty()
    runner = JobRunner({"chatty": provider})
    runner.start(JobSpec(job_id="j", provider="chatty", source_name="s", options={}, work_dir="/nonexistent"))
    seen = []
    for _ in range(50):  # wait a lot while the worker is still emitting, as the worker host's pump does
        runner.wait_for_event(0.01)
    provider.release.set()
    while not seen or seen[-1].state is not State.CANCELLED:
        runner.wait_for_event(1.0)
        seen.extend(runner.drain())
    progress = [e.progress for e in seen if e.state is State.UPLOADING]
    assert progress == sorted(progress) and len(progress) == 200
    assert seen[-1].state is State.CANCELLED
    runner.shutdown()
