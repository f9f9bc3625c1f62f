# SPDX-License-Identifier: GPL-3.0-or-later
"""Tripo retopology through Scenario (``model_tripo-retopology``): upload a GLB, run the model, fetch assets.

Contract: ``run`` (inherited from ``CloudProvider``) executes in a thread of the worker host process; this
module never imports bpy and touches no Blender data, only the frozen ``JobSpec`` and its ``MeshSnapshot``.

Documented behaviour followed (docs.scenario.com and the model page, see NOTES.md section 2):

* HTTP Basic auth with base64(``API_KEY:API_SECRET``); every path lives under ``/v1``.
* Upload: ``POST /v1/uploads`` ``{fileName, contentType, fileSize, parts, kind: "3d"}``, a plain PUT of each
  part to its presigned URL (no credentials, no checksum headers), ``POST /v1/uploads/{id}/action
  {"action": "complete"}``, then ``GET /v1/uploads/{id}`` until ``entityId`` (the asset id) is set or the
  status is ``imported`` / ``complete`` / ``failed`` (``errorMessage``), as the SDK's ``wait()`` does.
* ``POST /v1/generate/custom/model_tripo-retopology`` ``{model, faceLimit?, quad, bake}``; ``GET
  /v1/jobs/{jobId}`` until ``success`` (``metadata.assetIds``) or ``failure`` / ``canceled``; ``progress``
  is 0..1. ``GET /v1/assets/{id}`` gives a temporary ``url``, downloaded at once.
* Test Connection: ``GET /v1/models`` (the team's private models), read-only and free (see ``check_key``).
* A free quote first: the same generate call with ``?dryRun=true`` answers ``creativeUnitsCost`` and creates
  nothing (what Scenario's own Blender add-on does before paid runs; its code names the field, the SDK the
  ``dry_run`` query). Above ``JobSpec.quote_limit`` the job waits for the user's answer or fails headless.
  Should an answer carry a job id instead, the service ran the job: it is used, never submitted again.

Inferences (undocumented):

* Parts of 7 MiB (the guide's example), so every part but the last is above S3's 5 MB minimum.
* ``failed`` (what Scenario's Unity plugin checks) and ``cancelled`` count as failures too; the reason is
  read from ``metadata.error``, then the job's own ``error`` / ``message`` fields.
* The generate answer's id is ``job.jobId``, else ``job.id`` (the quick-start shows ``id``).
* The face-limit ranges are Tripo's own smart-low-poly ranges (500..20000, 500..10000 with quads).
* The result format is chosen from ``asset.mimeType``, then the URL's extension, then the file's magic bytes:
  Tripo's own API returns FBX for quad output, so both GLB and FBX are expected.
* Creating an upload costs nothing, so that one POST may be repeated after an unclear failure.
"""

from __future__ import annotations

import base64
import logging
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ..core.errors import (
    InputError,
    MalformedResponse,
    NetworkError,
    ServiceError,
    one_line,
    redact,
    remote_text,
)
from ..core.jobs import JobSpec, ResultFile, State
from ..core.options import BY_NAME, check, request_fields
from ..worker.runner import WorkerContext
from .cloud import (
    CloudProvider,
    Poll,
    export_glb,
    time_scale,
    undocumented_status,
    unreadable_submit_answer,
    unsure_submit,
)
from .http import HttpClient

log = logging.getLogger(__name__)

MODEL_PATH = "v1/generate/custom/model_tripo-retopology"
GLB_MIME = "model/gltf-binary"
PART_BYTES = 7 << 20
UPLOAD_WAIT_S = 300.0  # the SDK's own upload timeout
RUNNING = ("queued", "warming-up", "in-progress", "pending", "processing")
FAILED = ("failure", "failed", "canceled", "cancelled")
IMPORTED = ("imported", "complete")
MESH_TYPES = {"gltf-binary": "glb", "glb": "glb", "fbx": "fbx", "obj": "obj"}
MAGIC = ((b"glTF", "glb"), (b"Kaydara FBX Binary", "fbx"))


def face_limit(options: Any) -> int | None:
    """The ``faceLimit`` to send (None: adaptive), or InputError naming the allowed range."""
    value = options.get("target_faces")
    if value is None:
        return None
    check(BY_NAME["target_faces"], value, "tripo", options)
    return int(value)


class TripoProvider(CloudProvider):
    name = "tripo"
    poll_min_s = 3.0
    poll_max_s = 30.0
    part_bytes = PART_BYTES

    def malformed(self, what: str) -> MalformedResponse:
        return MalformedResponse(service=self.service_name, remote_message=what)

    def auth_headers(self, spec: JobSpec) -> dict[str, str]:
        pair = f"{spec.credentials.get('api_key')}:{spec.credentials.get('api_secret')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}

    def check_key(self, client: HttpClient) -> None:
        """Test Connection: ``GET /v1/models``, the documented listing of the team's private models ("GET and
        Filter Models"; Basic auth required). Read-only and free; a retopology user rarely has private models,
        so the answer is small. No upload, job or asset is created or read."""
        if not isinstance(client.json("GET", "v1/models").get("models"), list):
            raise self.malformed("the model list has no models")

    # -- submit ------------------------------------------------------------------------------------

    def submit(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient) -> str:
        limit = face_limit(spec.options)  # refused before anything is uploaded
        asset_id = self._upload(spec, ctx, client, self._export(spec, ctx))
        fields = request_fields(self.name, spec.options)  # quad, bake, faceLimit
        fields.pop("faceLimit", None)
        body: dict[str, Any] = {"model": asset_id, **fields}
        if limit is not None:
            body["faceLimit"] = limit
        ctx.check_cancelled()
        # Should the service ignore dryRun, this request would start the job: it counts as a paid submit.
        self.sending_paid_submit(ctx, 0.085, "asking Scenario for a quote")
        quote = self._post_generate(client, f"{MODEL_PATH}?dryRun=true", body)
        job_id = _job_id(quote)
        if job_id:
            log.warning("tripo: Scenario started job %s instead of quoting it; using it", job_id)
            return job_id
        self._accept_quote(spec, ctx, quote)
        self.sending_paid_submit(ctx, 0.09, "starting Tripo retopology")
        job_id = _job_id(self._post_generate(client, MODEL_PATH, body))
        if not job_id:
            raise unreadable_submit_answer(
                self.malformed("the new job has no id"), "check your Scenario jobs before submitting again"
            )
        log.info("tripo: job %s started Scenario job %s", spec.job_id, job_id)
        return job_id

    @staticmethod
    def _post_generate(client: HttpClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return client.json("POST", path, json=body)
        except (ServiceError, NetworkError) as exc:
            raise unsure_submit(exc, "check your Scenario jobs before submitting again") from exc

    def _accept_quote(self, spec: JobSpec, ctx: WorkerContext, answer: dict[str, Any]) -> None:
        """Scenario's free quote (``creativeUnitsCost``): within the limit the job goes on; above it the job
        waits for the user (a click in Blender) or, headless, fails before anything is paid."""
        cost = answer.get("creativeUnitsCost")
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0:
            raise self.malformed("the quote has no creativeUnitsCost")
        ctx.emit(None, None, None, quote=float(cost), submit_sent=0)  # a quote created nothing
        if cost <= spec.quote_limit:
            return
        if not spec.quote_can_ask:
            raise InputError(
                f"Scenario quotes {cost:g} credits for this job, above your limit of {spec.quote_limit:g}: "
                "raise it (--max-cost, or Confirm Above in the preferences) and submit again"
            )
        ctx.emit(
            State.WAITING, None, f"Scenario quotes {cost:g} credits: accept or cancel it", awaiting_quote=True
        )
        ctx.wait_for_confirmation()
        ctx.emit(State.UPLOADING, 0.088, f"quote of {cost:g} credits accepted", awaiting_quote=False)

    def _export(self, spec: JobSpec, ctx: WorkerContext) -> bytes:
        return export_glb(spec, ctx)

    def _upload(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, glb: bytes) -> str:
        parts = max(1, math.ceil(len(glb) / self.part_bytes))
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", spec.source_name).strip("._")[:60] or "mesh"
        init = {"fileName": f"{stem}.glb", "contentType": GLB_MIME, "fileSize": len(glb), "parts": parts,
                "kind": "3d"}  # fmt: skip
        ctx.emit(State.UPLOADING, 0.03, f"uploading {len(glb) >> 10} KB in {parts} part(s)")
        # A repeated init only leaves an unused upload behind, nothing billed: safe to retry.
        upload = _upload_of(client.json("POST", "v1/uploads", json=init, idempotent=True))
        upload_id = str(upload.get("id") or "")
        urls = _part_urls(upload)
        if not upload_id or [n for n, _ in urls] != list(range(1, parts + 1)):
            raise self.malformed("the upload lacks its part links")
        view = memoryview(glb)
        for number, url in urls:
            ctx.check_cancelled()
            chunk = view[(number - 1) * self.part_bytes : number * self.part_bytes]
            client.put_bytes(url, bytes(chunk))  # another origin: HttpClient sends no credentials there
            ctx.emit(State.UPLOADING, 0.03 + 0.04 * number / parts, f"uploaded part {number} of {parts}")
        path = f"v1/uploads/{quote(upload_id, safe='')}"
        _upload_of(client.json("POST", f"{path}/action", json={"action": "complete"}))
        return self._wait_for_asset(ctx, client, path)

    def _wait_for_asset(self, ctx: WorkerContext, client: HttpClient, path: str) -> str:
        give_up = ctx.clock() + UPLOAD_WAIT_S
        delay = 1.0
        while True:
            upload = _upload_of(client.json("GET", path))
            status = str(upload.get("status") or "").lower()
            entity = upload.get("entityId")
            if isinstance(entity, str) and entity:
                return entity
            if status == "failed":
                reason = one_line(upload.get("errorMessage")) or "no reason given"
                raise ServiceError(f"Scenario could not import the uploaded mesh ({reason}); check the mesh")
            if status in IMPORTED:
                raise self.malformed("the upload has no asset id")
            if ctx.clock() > give_up or ctx.time_left() <= 0:
                raise ServiceError("Scenario did not finish importing the upload in time; try again later")
            ctx.emit(State.UPLOADING, 0.08, f"Scenario is checking the upload ({status or 'pending'})")
            ctx.sleep(delay * time_scale())
            delay = min(5.0, delay * 1.5)

    # -- poll --------------------------------------------------------------------------------------

    def poll(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str) -> Poll:
        answer = client.json("GET", f"v1/jobs/{quote(remote_id, safe='')}")
        job = answer.get("job") if isinstance(answer.get("job"), dict) else answer
        status = str(job.get("status") or "").lower()
        if status == "success":
            return Poll(done=True, progress=1.0, payload=job)
        if status in FAILED:
            return Poll(failed=self._reason(spec, job, status), payload=job)
        if status not in RUNNING and (stopped := undocumented_status("Tripo", status, self._secrets(spec))):
            return stopped
        raw = job.get("progress")
        progress = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        if progress is not None and progress > 1.0:  # a percentage, should the service ever send one
            progress /= 100.0
        # The status is the service's own text: one short line, with any echoed credential blanked.
        shown = one_line(redact(status, self._secrets(spec)), 40) or "waiting"
        return Poll(progress=progress, message=f"Tripo: {shown}", payload=job)

    def _reason(self, spec: JobSpec, job: dict[str, Any], status: str) -> str:
        metadata = job.get("metadata") if isinstance(job.get("metadata"), dict) else {}
        own = {k: job.get(k) for k in ("error", "message", "errorMessage")}
        reason = redact(remote_text(metadata) or remote_text(own), self._secrets(spec))
        return one_line(reason) or f"the job ended as {status}"

    # -- collect -----------------------------------------------------------------------------------

    def collect(
        self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str, poll: Poll
    ) -> list[ResultFile]:
        metadata = poll.payload.get("metadata")
        ids = metadata.get("assetIds") if isinstance(metadata, dict) else None
        ids = [i for i in ids if isinstance(i, str) and i] if isinstance(ids, list) else []
        if not ids:
            raise self.malformed("the finished job lists no asset")
        results = []
        for number, asset_id in enumerate(ids, 1):
            ctx.check_cancelled()
            ctx.emit(State.DOWNLOADING, 0.9 + 0.09 * (number - 1) / len(ids), f"downloading result {number}")
            path = self._download_asset(client, asset_id, Path(spec.work_dir) / f"tripo_{number}")
            variant = 0 if len(ids) == 1 else number
            results.append(ResultFile(path=str(path), kind="mesh", lod=0, variant=variant))
        return results

    def _download_asset(self, client: HttpClient, asset_id: str, stem: Path) -> Path:
        answer = client.json("GET", f"v1/assets/{quote(asset_id, safe='')}")
        asset = answer.get("asset") if isinstance(answer.get("asset"), dict) else answer
        url = asset.get("url")
        if not isinstance(url, str) or not url:
            raise self.malformed(f"asset {asset_id} has no url")
        props = asset.get("properties")
        size = props.get("size") if isinstance(props, dict) else None
        expected = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None
        ext = _extension(str(asset.get("mimeType") or ""), url)
        # URLs are temporary: fetched now, under a neutral name when the type is unknown, then sniffed.
        path = self.download_to(client, url, stem.with_suffix(f".{ext or 'bin'}"), expected_size=expected)
        if ext is not None:
            return path
        with open(path, "rb") as fh:
            head = fh.read(32)
        sniffed = next((kind for magic, kind in MAGIC if head.startswith(magic)), None)
        if sniffed is None:
            path.unlink(missing_ok=True)
            raise self.malformed("the result is neither GLB nor FBX")
        return path.replace(stem.with_suffix(f".{sniffed}"))


def _upload_of(answer: dict[str, Any]) -> dict[str, Any]:
    upload = answer.get("upload")
    return upload if isinstance(upload, dict) else answer


def _part_urls(upload: dict[str, Any]) -> list[tuple[int, str]]:
    try:
        return sorted((int(p["number"]), str(p["url"])) for p in upload.get("parts") or [] if p.get("url"))
    except (KeyError, TypeError, ValueError, AttributeError):
        return []


def _job_id(answer: dict[str, Any]) -> str:
    """The job id of a generate answer (``job.jobId``, else ``job.id``), or '' when it holds none."""
    job = answer.get("job") if isinstance(answer.get("job"), dict) else answer
    job_id = job.get("jobId") or job.get("id")
    return job_id.strip() if isinstance(job_id, str) else ""


def _extension(mime: str, url: str) -> str | None:
    mime = mime.lower()
    for key, ext in MESH_TYPES.items():
        if mime.endswith(key):
            return ext
    suffix = Path(urlsplit(url).path).suffix.lower().lstrip(".")
    return suffix if suffix in ("glb", "fbx", "obj") else None
