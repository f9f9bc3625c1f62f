# SPDX-License-Identifier: GPL-3.0-or-later
"""CSM.ai (Cube) v3 retopology sessions: one session per job, OBJ variations plus PNG previews back.

Contract: ``run`` (inherited from ``CloudProvider``) executes in a thread of the worker host process; this
module never imports bpy and touches no Blender data, only the frozen ``JobSpec`` and its ``MeshSnapshot``.

Documented behaviour followed (docs.csm.ai retopology create/get session, see NOTES.md section 1):

* ``x-api-key`` header; ``POST /v3/sessions`` with ``{"type": "retopology", "input": {"mesh", "model",
  "quads"}}`` where ``mesh`` is a GLB URL or an ``ASSET_`` id; the answer's ``_id`` names the session.
* ``GET /v3/sessions/{id}``: session ``status`` is ``incomplete``, ``complete`` or ``failed``; every
  ``output.meshes[i]`` has its own ``status`` and ``data.obj_url`` / ``data.image_url`` (Azure blobs that
  need no key; ``HttpClient`` never sends the key off the API origin).

Inferences (undocumented, marked so they are easy to revisit):

* Without ``csm_mesh_url`` the snapshot goes inline as a ``data:model/gltf-binary;base64,`` URI, as CSM's
  image inputs do; whether ``input.mesh`` takes it is untested against the live service.
* Create may answer 200 or 201. A session is done only when every output mesh is complete with an OBJ link;
  if the session says complete while some meshes failed, the usable ones are kept (none usable: failed).
* The failure reason is read from ``error`` / ``message`` (CSM's own scripts read ``message``).
* Poll every 10..30 s for swift and 30..60 s for precision (NOTES.md's suggestion); at most 3 sessions at a
  time per user, since CSM's own eval script spaces submissions out "to avoid rate limiting".
* A preview that cannot be downloaded is logged and skipped: the meshes are what the user paid for.
* Test Connection reads ``GET /user/userdata`` (see ``check_key``): CSM's own code, not its docs, shows it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..core.errors import (
    Cancelled,
    InputError,
    MalformedResponse,
    NetworkError,
    RetopoError,
    ServiceError,
    one_line,
    redact,
    remote_text,
)
from ..core.jobs import JobSpec, ResultFile, State
from ..core.options import mesh_reference, request_fields
from ..formats.glb import glb_data_uri
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

# A JSON body far past this is more likely to be cut off by a proxy than accepted; CSM publishes no limit.
MAX_INLINE_BYTES = 64 << 20
POLL_BOUNDS = {"swift": (10.0, 30.0), "precision": (30.0, 60.0)}


class CsmProvider(CloudProvider):
    name = "csm"
    max_concurrent = 3

    def malformed(self, what: str) -> MalformedResponse:
        return MalformedResponse(service=self.service_name, remote_message=what)

    def auth_headers(self, spec: JobSpec) -> dict[str, str]:
        return {"x-api-key": spec.credentials.get("api_key")}

    def poll_bounds(self, spec: JobSpec) -> tuple[float, float]:
        low, high = POLL_BOUNDS.get(str(spec.options.get("csm_model")), POLL_BOUNDS["swift"])
        return low * time_scale(), high * time_scale()

    def check_key(self, client: HttpClient) -> None:
        """Test Connection: ``GET /user/userdata``, the account endpoint CSM's own Blender add-on
        (blender-mcp) reads the plan tier from with the same ``x-api-key``. It is read-only and free and
        touches no session; the docs publish no account or listing endpoint (the v3 session list is
        third-party only, and whether ``GET /v3/sessions/{id}`` checks the key before the lookup is
        undocumented)."""
        account = client.json("GET", "user/userdata")
        if not isinstance(account.get("data"), dict):
            raise self.malformed("the account answer has no data")

    # -- submit ------------------------------------------------------------------------------------

    def submit(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient) -> str:
        mesh = self._mesh_input(spec, ctx)
        body = {
            "type": "retopology",
            "input": {"mesh": mesh, **request_fields(self.name, spec.options)},  # model, quads
        }
        ctx.check_cancelled()
        self.sending_paid_submit(ctx, 0.06, "creating the CSM session")
        try:
            session = client.json("POST", "v3/sessions", json=body, expected=(200, 201))
        except (ServiceError, NetworkError) as exc:
            raise unsure_submit(exc, "check your CSM.ai sessions before submitting again") from exc
        session_id = session.get("_id")
        if not isinstance(session_id, str) or not session_id.strip():
            raise unreadable_submit_answer(
                self.malformed("the new session has no _id"),
                "check your CSM.ai sessions before submitting again",
            )
        log.info("csm: job %s created session %s", spec.job_id, session_id)
        return session_id.strip()

    def _mesh_input(self, spec: JobSpec, ctx: WorkerContext) -> str:
        given = str(spec.options.get("csm_mesh_url") or "").strip()
        if given:
            return mesh_reference(given)
        if spec.snapshot is None:
            raise InputError("nothing to send: the job has no mesh snapshot and no CSM mesh URL")
        glb = export_glb(spec, ctx)
        if len(glb) > MAX_INLINE_BYTES:
            raise InputError(
                f"'{spec.source_name}' exports to {len(glb) >> 20} MB, too large to send inline: decimate it "
                "first or give a public GLB URL or ASSET_ id as the CSM mesh URL"
            )
        log.debug("csm: sending %d bytes of GLB inline", len(glb))
        return glb_data_uri(glb)

    # -- poll --------------------------------------------------------------------------------------

    def poll(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str) -> Poll:
        session = client.json("GET", f"v3/sessions/{quote(remote_id, safe='')}")
        status = str(session.get("status") or "").lower()
        meshes = _output_meshes(session)
        ready = [m for m in meshes if _usable(m)]
        if status == "failed":
            return Poll(failed=self._reason(spec, session), payload=session)
        if status == "complete":
            if meshes and len(ready) == len(meshes):
                return Poll(done=True, progress=1.0, payload=session)
            pending = [m for m in meshes if str(m.get("status") or "").lower() not in ("complete", "failed")]
            if not pending:  # complete and nothing more will come: keep whatever is usable
                if not ready:
                    return Poll(failed="the session completed without a usable mesh", payload=session)
                log.warning("csm: session %s kept %d of %d variations", remote_id, len(ready), len(meshes))
                return Poll(done=True, progress=1.0, payload=session)
        elif status != "incomplete" and (
            stopped := undocumented_status("CSM.ai", status, self._secrets(spec))
        ):
            return stopped
        progress = len(ready) / len(meshes) if meshes else None
        message = f"{len(ready)} of {len(meshes)} variations ready" if meshes else "waiting for CSM"
        return Poll(progress=progress, message=message, payload=session)

    def _reason(self, spec: JobSpec, session: dict[str, Any]) -> str:
        reason = remote_text({k: session.get(k) for k in ("error", "message", "detail")})
        return (
            one_line(redact(reason, self._secrets(spec)))
            or "CSM reported the session as failed without a reason"
        )

    # -- collect -----------------------------------------------------------------------------------

    def collect(
        self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str, poll: Poll
    ) -> list[ResultFile]:
        work = Path(spec.work_dir)
        meshes = _output_meshes(poll.payload)
        wanted = [(n, m) for n, m in enumerate(meshes, 1) if _usable(m)]
        if not wanted:
            raise self.malformed("the session lists no OBJ to fetch")
        results: list[ResultFile] = []
        for done, (number, mesh) in enumerate(wanted):
            ctx.check_cancelled()
            ctx.emit(State.DOWNLOADING, 0.9 + 0.09 * done / len(wanted), f"downloading variation {number}")
            data = mesh["data"]
            obj_path = self.download_to(client, data["obj_url"], work / f"csm_{number}.obj")
            results.append(ResultFile(path=str(obj_path), kind="mesh", lod=0, variant=number))
            preview = self._preview(client, data.get("image_url"), work / f"csm_{number}.png")
            if preview is not None:
                results.append(ResultFile(path=str(preview), kind="preview", lod=0, variant=number))
        return results

    def _preview(self, client: HttpClient, url: object, dest: Path) -> Path | None:
        if not isinstance(url, str) or not url:
            return None
        try:
            return self.download_to(client, url, dest)
        except Cancelled:
            raise
        except RetopoError as exc:
            log.warning("csm: preview %s not downloaded: %s", dest.name, exc)
            return None


def _output_meshes(session: dict[str, Any]) -> list[dict[str, Any]]:
    output = session.get("output")
    meshes = output.get("meshes") if isinstance(output, dict) else None
    return [m for m in meshes if isinstance(m, dict)] if isinstance(meshes, list) else []


def _usable(mesh: dict[str, Any]) -> bool:
    data = mesh.get("data")
    url = data.get("obj_url") if isinstance(data, dict) else None
    return str(mesh.get("status") or "").lower() == "complete" and isinstance(url, str) and bool(url.strip())
