# SPDX-License-Identifier: GPL-3.0-or-later
"""What every cloud provider shares: online and credential checks, the HTTP client, the submit-once then
poll-then-download skeleton with an adaptive, service-bounded poll interval, and the deadline.

Runs in a thread of the worker host process and never imports bpy. A subclass implements three verbs:

* ``submit(spec, ctx, client) -> remote_id``: upload and create the paid job. Called only when the spec has
  no remote id yet; the id is emitted at once (``ctx.emit(remote_id=...)``) so the job record and journal
  hold it before anything else can fail, and a resumed or attached job never submits again. Right before
  the request that creates the paid job it calls ``sending_paid_submit``: the journal then records that the
  service may have the job even if this process dies before the answer (``core.journal.submit_in_doubt``).
* ``poll(spec, ctx, client, remote_id) -> Poll``: one status request.
* ``collect(spec, ctx, client, remote_id, poll) -> [ResultFile]``: download everything the finished job
  offers, straight away (result links expire).
* ``check_key(client)``: Test Connection's one documented, read-only GET that needs the key and creates
  nothing (never a paid request); raises like any request, or MalformedResponse for an answer of the wrong
  shape. ``providers.probe`` sends it and maps the outcome.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import (
    ONLINE_ACCESS_OFF,
    ConfigError,
    InputError,
    JobFailed,
    JobTimedOut,
    NetworkError,
    RateLimitError,
    RetopoError,
    ServiceError,
    one_line,
    redact,
)
from ..core.jobs import JobSpec, ResultFile, State
from ..formats.glb import write_glb
from ..worker.runner import WorkerContext
from . import registry
from .attributes import carry_attributes
from .http import HttpClient

log = logging.getLogger(__name__)

USER_AGENT = "RetopoHub/0.1 (+Blender extension)"
# What a result file of each kind can reasonably weigh: past it the link is a runaway (an endless chunked
# body) and the download stops. A 1M-face OBJ with UVs is about 100 MB, 4K PBR maps zipped a few hundred MB,
# a preview render a few MB.
MiB = 1 << 20
DOWNLOAD_LIMITS = {
    ".obj": 384 * MiB, ".fbx": 384 * MiB, ".glb": 384 * MiB, ".gltf": 384 * MiB,
    ".zip": 512 * MiB,
    ".png": 64 * MiB, ".jpg": 64 * MiB, ".jpeg": 64 * MiB, ".webp": 64 * MiB,
    ".vmdl": 16 * MiB,
}  # fmt: skip
DEFAULT_DOWNLOAD_LIMIT = 256 * MiB


def time_scale() -> float:
    """Multiplier for poll and backoff delays: 1 in use; the test suite shrinks it to run against the
    emulators in seconds (``RETOPO_HUB_TIME_SCALE``). Never above 1, so it cannot slow the services down."""
    try:
        return min(1.0, max(0.0, float(os.environ.get("RETOPO_HUB_TIME_SCALE", "1"))))
    except ValueError:
        return 1.0


def unsure_submit(exc: RetopoError, advice: str) -> RetopoError:
    """The same error, saying the paid job may exist: a 5xx, a timeout after sending or an unreadable answer
    does not prove the service did not take it. Errors that prove it did not are returned unchanged."""
    if not exc.maybe_processed:
        return exc
    return _reworded(exc, f"{exc.message.rsplit('; ', 1)[0]}; the job may have been created anyway: {advice}")


def attachable(exc: RetopoError, remote_id: str) -> RetopoError:
    """The same error, naming the remote job that may still finish (and be billed) and how to get it back."""
    advice = f"the job {remote_id} may still finish: attach it later (--attach {remote_id}, or Attach Job)"
    return exc if remote_id in exc.message else _reworded(exc, f"{exc.message}; {advice}")


def _reworded(exc: RetopoError, text: str) -> RetopoError:
    """A copy of ``exc`` (same class and fields) with a new one-line message."""
    text = one_line(text, 900)
    again = copy.copy(exc)
    again.message, again.args = text, (text,)
    return again


def unreadable_submit_answer(exc: RetopoError, advice: str) -> RetopoError:
    """A submit the service answered with 2xx but without a usable job id: the service took the request, so
    the paid job most likely exists; never "try again later" without saying so."""
    exc.maybe_processed = True
    return unsure_submit(exc, advice)


def export_glb(spec: JobSpec, ctx: WorkerContext) -> bytes:
    """The snapshot as GLB bytes (worker side), with UVs and, when the source has a PNG base color, that
    texture embedded, so services that bake (Tripo) have something to bake."""
    snap = spec.snapshot
    if snap is None:
        raise InputError("nothing to upload: the job has no mesh snapshot")
    ctx.emit(State.EXPORTING, 0.02, "exporting the mesh as GLB")
    color = next(
        (Path(p) for _m, slot, p in snap.textures if slot == "color" and p.lower().endswith(".png")), None
    )
    png = (
        color.read_bytes() if color is not None and color.is_file() and snap.corner_uvs is not None else None
    )
    try:
        try:
            return write_glb(
                None, snap.verts, snap.face_sizes, snap.corner_verts, corner_uvs=snap.corner_uvs,
                base_color_png=png, object_name=spec.source_name or "mesh",
            )  # fmt: skip
        except ValueError:
            if png is None:
                raise
            log.warning(
                "the base color image of %s is not a usable PNG: sending the mesh without it", spec.job_id
            )
            return write_glb(None, snap.verts, snap.face_sizes, snap.corner_verts, corner_uvs=snap.corner_uvs,
                             object_name=spec.source_name or "mesh")  # fmt: skip
    except ValueError as exc:
        raise InputError(f"could not export '{spec.source_name}' as GLB: {one_line(exc)}") from exc


@dataclass(frozen=True)
class Poll:
    done: bool = False
    failed: str | None = None  # the service's one-line reason when the job failed
    progress: float | None = None  # 0..1 when the service reports it
    message: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    eta_s: float | None = None  # the service's own estimate, when it gives one


# Words by which a status a service does not document still clearly says "working on it". Any other unknown
# status (real services send "canceled", "cancelled", "expired" ...) ends the job at once instead of
# polling a job that will never finish until the deadline.
STILL_RUNNING_WORDS = (
    "queue",
    "pending",
    "process",
    "progress",
    "running",
    "start",
    "wait",
    "warm",
    "upload",
)


def undocumented_status(service: str, status: str, secrets: Any = ()) -> Poll | None:
    """None while an undocumented ``status`` clearly means "still running", else a failed Poll naming it."""
    if not status or any(word in status for word in STILL_RUNNING_WORDS):
        return None
    shown = one_line(redact(status, secrets), 40)
    return Poll(
        failed=f"{service} reported the job as {shown!r}, so it will not finish: submit again if needed"
    )


class CloudProvider:
    name = "cloud"  # a registry entry's name: labels, credentials and the service's name come from it
    # True when ``submit`` waits out the service's 429s itself (sboxcool's job slots), so run() does not.
    submit_waits_for_slots = False
    needs_network = True
    max_concurrent = 5
    poll_min_s = 3.0  # first poll delay; grows by POLL_GROWTH up to poll_max_s
    poll_max_s = 30.0
    POLL_GROWTH = 1.5

    # -- the verbs a service implements ------------------------------------------------------------

    def auth_headers(self, spec: JobSpec) -> dict[str, str]:
        raise NotImplementedError

    def submit(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient) -> str:
        raise NotImplementedError

    def poll(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str) -> Poll:
        raise NotImplementedError

    def collect(
        self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str, poll: Poll
    ) -> list[ResultFile]:
        raise NotImplementedError

    def check_key(self, client: HttpClient) -> None:
        raise NotImplementedError

    def poll_bounds(self, spec: JobSpec) -> tuple[float, float]:
        scale = time_scale()
        return self.poll_min_s * scale, self.poll_max_s * scale

    @staticmethod
    def sending_paid_submit(ctx: WorkerContext, progress: float, message: str) -> None:
        """Say (and journal, before returning) that the request creating the paid job goes out now."""
        ctx.emit(State.UPLOADING, progress, message, submit_sent=time.time())

    # -- the shared skeleton -----------------------------------------------------------------------

    @property
    def entry(self) -> registry.Entry:
        return registry.BY_NAME[self.name]

    @property
    def service_name(self) -> str:
        return self.entry.service

    @staticmethod
    def _secrets(spec: JobSpec) -> tuple[str, ...]:
        """The job's raw credentials: blanked from every service text shown (``core.errors.redact``)."""
        return tuple(spec.credentials.values.values())

    def check_ready(self, spec: JobSpec) -> None:
        if not spec.online:
            raise ConfigError(ONLINE_ACCESS_OFF)
        if problem := registry.credentials_problem(self.entry, spec.credentials.values):
            raise ConfigError(problem)

    def make_client(self, spec: JobSpec, ctx: WorkerContext, *, authorized: bool = True) -> HttpClient:
        """The job's client; ``authorized=False`` for links that need no key (never send it there)."""
        return HttpClient(
            spec.base_url,
            auth_headers=(lambda: self.auth_headers(spec)) if authorized else None,
            user_agent=USER_AGENT,
            cancel_event=ctx.cancel_event,
            service_name=self.service_name,
            key_env_var=self.entry.credentials[0].env if self.entry.credentials else None,
            secrets=self._secrets(spec),
            time_left=ctx.time_left,  # the job's deadline ends a request in progress, whatever it is doing
            backoff_base=1.0 * time_scale(),
            backoff_max=30.0 * max(time_scale(), 0.01),
        )

    def run(self, spec: JobSpec, ctx: WorkerContext) -> list[ResultFile]:
        self.check_ready(spec)
        Path(spec.work_dir).mkdir(parents=True, exist_ok=True)
        client = self.make_client(spec, ctx)
        try:
            remote_id = spec.remote_id
            if not remote_id:
                remote_id = self._submit_when_allowed(spec, ctx, client)
                ctx.emit(State.WAITING, 0.1, f"submitted as {remote_id}", remote_id=remote_id)
            else:
                ctx.emit(State.WAITING, None, f"resuming {remote_id}", remote_id=remote_id)
            final = self.wait(spec, ctx, client, remote_id)
            ctx.emit(State.DOWNLOADING, 0.9, "downloading results")
            # OBJ results get the source's materials per face, vertex groups and hard edges carried over.
            return carry_attributes(spec, ctx, self.collect(spec, ctx, client, remote_id, final))
        finally:
            client.close()

    def _submit_when_allowed(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient) -> str:
        """Submit; a 429 (nothing was created, so repeating never pays twice) is waited out, honouring
        Retry-After, until the job's deadline. The HTTP client has already retried it a few times."""
        while True:
            try:
                return self.submit(spec, ctx, client)
            except RateLimitError as exc:
                wait = exc.retry_after if exc.retry_after is not None else self.poll_bounds(spec)[1]
                if self.submit_waits_for_slots or ctx.time_left() <= wait:
                    raise
                ctx.emit(State.QUEUED, None, f"{self.service_name} is busy; submitting again in {wait:.0f} s")
                ctx.sleep(wait)

    def wait(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str) -> Poll:
        low, high = self.poll_bounds(spec)
        delay = low
        while True:
            ctx.check_cancelled()
            if ctx.time_left() <= 0:
                raise JobTimedOut(remote_id=remote_id)
            try:
                status = self.poll(spec, ctx, client, remote_id)
            except RateLimitError as exc:
                # The job keeps running remotely: a throttled status check only delays the next one.
                ctx.emit(
                    State.RUNNING, None, f"{self.service_name} is limiting requests; checking again shortly"
                )
                ctx.sleep(max(low, min(exc.retry_after or high, max(0.0, ctx.time_left()))))
                continue
            except (ServiceError, NetworkError) as exc:
                raise attachable(exc, remote_id) from exc
            if status.failed is not None:
                raise JobFailed(remote_id=remote_id, remote_message=status.failed)
            if status.done:
                return status
            progress = None if status.progress is None else 0.1 + 0.8 * max(0.0, min(1.0, status.progress))
            ctx.emit(State.RUNNING, progress, status.message or "running")
            if status.eta_s:
                # Tripo's own SDK waits about half the remaining time; never outside the service's bounds.
                delay = status.eta_s * 0.5 * time_scale()
            ctx.sleep(max(low, min(high, delay, max(0.0, ctx.time_left()))))
            delay = min(high, delay * self.POLL_GROWTH)

    def download_to(
        self, client: HttpClient, url: str, dest: Path, *, expected_size: int | None = None
    ) -> Path:
        limit = DOWNLOAD_LIMITS.get(dest.suffix.lower(), DEFAULT_DOWNLOAD_LIMIT)
        return client.download(client.url_for(url), dest, max_bytes=limit, expected_size=expected_size)
