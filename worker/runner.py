# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs jobs in worker threads and hands their events on; it lives in the worker host process.

Threading rules (the contract of this module; everything that starts work goes through it):

1. Worker threads never import or touch ``bpy``. They receive a frozen ``JobSpec`` (settings, credentials and
   plain numpy arrays snapshotted on Blender's main thread) and talk back only through ``JobEvent``s on a
   ``queue.Queue``. These threads run in the worker host (``worker.host``), never inside Blender: Blender's
   operators release the GIL, and Python threads running meanwhile crash it (Blender's docs say so, and our
   tests saw it). The host pumps the queue to Blender over a pipe.
2. Only Blender's main thread applies events to Blender data (job records, imports, redraws), through the
   step function ``jobs.step.step``: the UI calls it from a timer (``operators.watch``), headless runs from
   a blocking loop (``jobs.step.run_blocking``), so there is one implementation with two drivers.
3. Cancellation is a ``threading.Event`` per job: workers check it between requests and sleep on it, so a
   cancel wakes them at once; the local engine's child process is killed.
4. Per-provider concurrency limits (sboxcool allows 5 model jobs per key) are enforced here with slots:
   extra jobs wait in the QUEUED state without contacting the service. A caller that bounds its own jobs
   (the CLI's ``--jobs N``) may change a provider's limit with ``set_limit``.
5. Test Connection (``probe``) runs the provider's one read-only request (``providers.probe``) in a thread
   of its own, outside the job slots, and hands its one-line result on through ``drain_probes``.
6. Measuring finished results against their source (``measure``, ``engines.report``) runs in a thread of its
   own too, on the arrays Blender wrote into the job's folder, and hands its report on through
   ``drain_measures``: Blender's process never does that geometry work. The thread hands the work to an
   idle warm engine child when there is one (``worker.engine_pool``): measurements in this process's
   threads would share its GIL, and two at once took twice as long as one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..core.errors import Cancelled, RetopoError
from ..core.jobs import JobEvent, JobSpec, ResultFile, State
from ..core.journal import Journal
from ..providers import probe as connection
from .engine_pool import ENGINES

log = logging.getLogger(__name__)


class Provider(Protocol):
    name: str
    max_concurrent: int

    def run(self, spec: JobSpec, ctx: WorkerContext) -> list[ResultFile]: ...


@dataclass
class WorkerContext:
    """What a provider's ``run`` may use: report progress, honour cancel, sleep, and respect the deadline."""

    job_id: str
    cancel_event: threading.Event
    emit_event: Callable[[JobEvent], None]
    deadline: float  # time.monotonic() value
    clock: Callable[[], float] = time.monotonic
    confirm_event: threading.Event | None = None  # set when the user accepts the job's quote

    def emit(
        self,
        state: State | None = None,
        progress: float | None = None,
        message: str | None = None,
        **extra: object,
    ) -> None:
        remote_id = extra.pop("remote_id", None)
        self.emit_event(
            JobEvent(
                self.job_id,
                state=state,
                progress=progress,
                message=message,
                remote_id=remote_id if isinstance(remote_id, str) else None,
                extra=dict(extra),
            )
        )

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def wait_for_confirmation(self) -> None:
        """Block until the user accepts this job's quote (``JobRunner.confirm``) or cancels it. The wait is
        the user's, not the service's: the job's deadline moves on by as long as it took."""
        event = self.confirm_event or threading.Event()
        started = self.clock()
        while not event.wait(0.2):
            self.check_cancelled()
        self.deadline += self.clock() - started

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled("cancelled by the user")

    def sleep(self, seconds: float) -> None:
        """Sleep that a cancel interrupts at once."""
        if self.cancel_event.wait(max(0.0, seconds)):
            raise Cancelled("cancelled by the user")

    def time_left(self) -> float:
        return self.deadline - self.clock()


class _Slots:
    """A counting semaphore whose limit can change while jobs hold slots (they keep theirs)."""

    def __init__(self, limit: int) -> None:
        self.default = self.limit = max(1, limit)
        self._used = 0
        self._changed = threading.Condition()

    def acquire(self, timeout: float) -> bool:
        with self._changed:
            if self._used >= self.limit:
                self._changed.wait(timeout)
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    def release(self) -> None:
        with self._changed:
            self._used -= 1
            self._changed.notify()

    def set_limit(self, limit: int | None) -> None:
        with self._changed:
            self.limit = self.default if limit is None else max(1, limit)
            self._changed.notify_all()


class JobRunner:
    """Owns worker threads, their cancel events and the event queue; used from the host process's own
    main thread (``worker.host``), which is not Blender's."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)
        self._events: queue.Queue[JobEvent] = queue.Queue()
        self._threads: dict[str, threading.Thread] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._confirm: dict[str, threading.Event] = {}
        # Made on first use: reading a provider's max_concurrent may import it (registry.implementations).
        self._slots: dict[str, _Slots] = {}
        self._lock = threading.Lock()
        self._closing = False  # set by shutdown(): stopped jobs stay resumable in the journal
        self._probes: queue.Queue[tuple[str, connection.Result]] = queue.Queue()
        self._measures: queue.Queue[tuple[str, dict]] = queue.Queue()

    # -- main thread -------------------------------------------------------------------------------

    def start(self, spec: JobSpec) -> None:
        provider = self._providers.get(spec.provider)
        if provider is None:
            raise RetopoError(f"unknown provider {spec.provider!r}: pick one of {', '.join(self._providers)}")
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._work,
            args=(provider, spec, cancel),
            name=f"retopo-hub-{spec.provider}-{spec.job_id}",
            daemon=True,
        )
        with self._lock:
            self._cancel[spec.job_id] = cancel
            self._confirm[spec.job_id] = threading.Event()
            self._threads[spec.job_id] = thread
        thread.start()

    def probe(self, spec: JobSpec, timeout_s: float) -> None:
        """Test ``spec.provider``'s connection (``spec.job_id`` names the probe) in a thread of its own."""
        thread = threading.Thread(
            target=self._probe, args=(spec, timeout_s), name=f"retopo-hub-probe-{spec.provider}", daemon=True
        )
        thread.start()

    def measure(self, measure_id: str, source: str, results: Mapping[str, str]) -> None:
        """Measure result meshes against the job's source snapshot (``engines.report``) in a thread."""
        thread = threading.Thread(
            target=self._measure, args=(measure_id, source, dict(results)),
            name=f"retopo-hub-measure-{measure_id}", daemon=True,
        )  # fmt: skip
        thread.start()

    def drain_measures(self) -> list[tuple[str, dict]]:
        """The finished measurements' (id, ``{"results": {...}}`` or ``{"error": line}``), each once."""
        found: list[tuple[str, dict]] = []
        while True:
            try:
                found.append(self._measures.get_nowait())
            except queue.Empty:
                return found

    def drain_probes(self) -> list[tuple[str, connection.Result]]:
        """The finished probes' (probe id, result) pairs, each once."""
        found: list[tuple[str, connection.Result]] = []
        while True:
            try:
                found.append(self._probes.get_nowait())
            except queue.Empty:
                return found

    def set_limit(self, provider: str, limit: int | None) -> None:
        """At most ``limit`` jobs of ``provider`` at once from now on (None: the provider's own limit)."""
        if provider in self._providers:
            slot = self._slot(provider)
            slot.set_limit(limit)
            if hook := getattr(self._providers[provider], "on_limit", None):
                hook(slot.limit)

    def _slot(self, provider: str) -> _Slots:
        with self._lock:
            if provider not in self._slots:
                self._slots[provider] = _Slots(self._providers[provider].max_concurrent)
            return self._slots[provider]

    def wake(self) -> None:
        """End a ``wait_for_event`` at once (the host is shutting down)."""
        with self._events.not_empty:
            self._events.not_empty.notify_all()

    def provider(self, name: str) -> Provider | None:
        return self._providers.get(name)

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            event = self._cancel.get(job_id)
        if event is None:
            return False
        event.set()
        return True

    def confirm(self, job_id: str) -> bool:
        """The user accepted the job's quote: a job waiting for that goes on."""
        with self._lock:
            event = self._confirm.get(job_id)
        if event is None:
            return False
        event.set()
        return True

    def is_running(self, job_id: str) -> bool:
        with self._lock:
            thread = self._threads.get(job_id)
        return thread is not None and thread.is_alive()

    def running_ids(self) -> list[str]:
        with self._lock:
            return [job_id for job_id, t in self._threads.items() if t.is_alive()]

    def drain(self, max_events: int = 1000) -> list[JobEvent]:
        events: list[JobEvent] = []
        while len(events) < max_events:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        self._forget_finished()
        return events

    def wait_for_event(self, timeout: float) -> bool:
        """Block until an event is queued or the timeout passes, without taking it: events keep their order
        (taking one and putting it back would move a 'cancelled' behind a stale progress event)."""
        events = self._events
        with events.not_empty:
            if not events.queue:
                events.not_empty.wait(timeout)
            return bool(events.queue)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every worker (add-on disabled, Blender quitting). Unlike a cancel, the journal keeps the
        jobs as they were, so the next session resumes them instead of losing a paid job."""
        self._closing = True
        with self._lock:
            events = list(self._cancel.values())
            threads = list(self._threads.values())
        for event in events:
            event.set()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _forget_finished(self) -> None:
        with self._lock:
            for job_id in [j for j, t in self._threads.items() if not t.is_alive() and t.ident is not None]:
                del self._threads[job_id]
                self._cancel.pop(job_id, None)
                self._confirm.pop(job_id, None)

    # -- worker thread -----------------------------------------------------------------------------

    def _probe(self, spec: JobSpec, timeout_s: float) -> None:
        provider = self._providers.get(spec.provider)
        try:
            if not hasattr(provider, "check_key"):
                raise RetopoError(f"{spec.provider!r} is not a cloud provider: it has no connection to test")
            ctx = WorkerContext(
                job_id=spec.job_id,
                cancel_event=threading.Event(),
                emit_event=lambda _event: None,
                deadline=time.monotonic() + 2 * timeout_s + 1.0,
            )
            result = connection.run(provider, spec, ctx, timeout_s=timeout_s)
        except RetopoError as exc:
            result = connection.Result(connection.Outcome.UNEXPECTED, str(exc))
        except Exception as exc:
            log.exception("connection test %s crashed", spec.job_id)
            text = f"internal error ({type(exc).__name__}); see the log and report it"
            result = connection.Result(connection.Outcome.UNEXPECTED, text)
        self._probes.put((spec.job_id, result))
        self.wake()

    def _measure(self, measure_id: str, source: str, results: dict[str, str]) -> None:
        answer = ENGINES.measure(source, results)
        if answer is None:  # no idle engine child: measure here
            try:
                from ..engines.report import measure_answer  # numpy-heavy: only when something is measured

                answer, _crashed = measure_answer(source, results)
            except Exception as exc:  # numpy itself would not load
                log.exception("measuring %s crashed", measure_id)
                answer = {"error": f"internal error while measuring ({type(exc).__name__}); see the log"}
        self._measures.put((measure_id, answer))
        self.wake()  # the host's pump waits for job events: without this it saw the answer up to 0.2 s late

    def _emitter(self, spec: JobSpec) -> Callable[[JobEvent], None]:
        """Queue events for the main thread, journaling what must survive a crash first (worker thread)."""
        journal = Journal(spec.journal_dir) if spec.journal_dir else None

        def emit(event: JobEvent) -> None:
            if journal is not None and not (self._closing and event.state is State.CANCELLED):
                changes: dict[str, object] = {}
                if event.remote_id:
                    changes["remote_id"] = event.remote_id
                if event.state is not None:
                    changes["state"] = event.state.value
                if event.results is not None:
                    changes["results"] = [r.to_dict() for r in event.results]
                if "submit_sent" in event.extra:  # on disk before the paid request; 0: it proved harmless
                    changes["submit_sent"] = event.extra["submit_sent"] or None
                if event.extra.get("warnings"):  # a re-run that reuses the results still reports them
                    changes["warnings"] = list(event.extra["warnings"])
                if event.message is not None and event.state is not None:
                    changes["message"] = event.message
                if changes:
                    try:
                        journal.update(spec.job_id, **changes)
                    except OSError:
                        log.warning("could not journal job %s", spec.job_id, exc_info=True)
            self._events.put(event)

        return emit

    def _work(self, provider: Provider, spec: JobSpec, cancel: threading.Event) -> None:
        emit = self._emitter(spec)
        with self._lock:
            confirm = self._confirm.get(spec.job_id)
        ctx = WorkerContext(
            job_id=spec.job_id,
            cancel_event=cancel,
            emit_event=emit,
            deadline=time.monotonic() + spec.deadline_s,
            confirm_event=confirm,
        )
        slot = self._slot(spec.provider)
        acquired = False
        try:
            # Wait for a free slot without blocking cancel: queued jobs never contact the service.
            while not (acquired := slot.acquire(timeout=0.1)):
                ctx.check_cancelled()
            ctx.check_cancelled()
            results = provider.run(spec, ctx)
            emit(  # journaled: results downloaded before a crash are imported from disk, not fetched again
                JobEvent(
                    spec.job_id,
                    state=State.IMPORTING,
                    progress=1.0,
                    message="ready to import",
                    results=tuple(results),
                )
            )
        # Journaled like every other state (a failed remote job is terminal: a re-run submits anew rather
        # than polling a dead session forever), except a cancel caused by this host shutting down.
        except Cancelled:
            emit(JobEvent(spec.job_id, state=State.CANCELLED, message="cancelled"))
        except RetopoError as exc:
            emit(JobEvent(spec.job_id, state=State.FAILED, message=str(exc), error=str(exc)))
        except Exception as exc:
            log.exception("job %s crashed", spec.job_id)
            message = f"internal error ({type(exc).__name__}); see the log and report it"
            emit(JobEvent(spec.job_id, state=State.FAILED, message=message, error=message))
        finally:
            if acquired:
                slot.release()
