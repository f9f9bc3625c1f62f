# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenario (api.cloud.scenario.com/v1) uploads, ``model_tripo-retopology`` jobs and assets, emulated.

Reproduced from the documentation (docs.scenario.com uploads / jobs / assets pages, the model's markdown
page):
- HTTP Basic auth with base64(``API_KEY:API_SECRET``); the API lives under ``/v1`` (``api_root``).
- Upload flow: ``POST /v1/uploads`` ``{fileName, contentType, fileSize, parts, kind: "3d"}`` → ``{"upload":
  {id, status: "pending", parts: [{number, url, expires}], partsCount, fileSize, kind}}``; PUT each part's
  bytes to its presigned URL (on the CDN server); ``POST /v1/uploads/{id}/action {"action": "complete"}``;
  poll ``GET /v1/uploads/{id}`` through ``validating`` → ``validated`` → ``imported`` with ``entityId`` (the
  new ``asset_…`` id), or ``failed`` with ``errorMessage``.
- ``POST /v1/generate/custom/model_tripo-retopology`` ``{model, faceLimit?, quad? = false, bake? = true}``
  → ``{"job": {...}}``; ``GET /v1/jobs/{jobId}`` → ``{"job": {jobId, status, progress 0..1, jobType,
  metadata: {assetIds}, statusHistory, createdAt, updatedAt}}``; terminal ``success`` / ``failure``.
- ``GET /v1/assets/{id}`` → ``{"asset": {id, url, kind: "3d", mimeType, properties: {size}}}``; asset URLs are
  temporary.
- ``GET /v1/models`` (docs.scenario.com "GET and Filter Models", api/resources/models/methods/list): with
  credentials, the team's private models, ``{"models": [...], "nextPaginationToken"?}``. This emulator
  trains no model, so the list is empty; nothing is created.
- 429 for the per-team concurrency ceiling with ``details`` naming ``actionName`` / ``actionLimit``.

INFERRED (undocumented) choices, most of them switchable:
- Error envelope ``{"message": ..., "details"?: {...}}``; 401 for missing/wrong credentials; 404 for unknown
  ids; 400 for validation errors and for a ``model`` that is no known asset.
- faceLimit bounds come from Tripo's smart-low-poly docs: 500..20000, 500..10000 with ``quad``.
- ``job_id_field``: "jobId" (default, as the model page), "id" (as the quick-start) or "both".
- ``failure_status``: "failure" (documented) or "failed" (what the Unity plugin checks).
- Job walk: created ``queued`` → ``warming-up`` → ``in-progress`` (progress 0.25, 0.5, 0.75) → ``success``
  (progress 1.0). The relative order of ``queued`` and ``warming-up`` is undocumented: ``status_walk`` sets
  the non-terminal statuses seen on each poll, e.g. ``("warming-up", "queued", "in-progress")``. ``jobType``
  is "custom-model"; ``statusHistory`` items are ``{status, date}``.
- The 429 ``details`` are ``{"actionName": "model_run", "actionLimit": max_concurrent}``; a job stays active
  until it is polled (or ``complete_all()``-ed) to a terminal status.
- Result: FBX when ``quad`` is true (``fbx_bytes``; without it a GLB is served and ``log`` says so), else a
  GLB with about ``faceLimit`` triangles (``default_faces`` when adaptive), UVs + an embedded base-colour PNG
  when ``bake``. FBX ``mimeType`` is ``fbx_mime`` (default "model/fbx").
- Part URLs are S3-like presigned URLs: a request carrying ``Authorization`` answers 400 (S3 refuses two auth
  mechanisms) and one carrying ``Content-MD5`` / ``x-amz-checksum-*`` answers 403 SignatureDoesNotMatch
  (Scenario's skill says to PUT parts "with no added checksum headers"). CDN errors are S3-style XML.
- File type check at validation: GLB by magic, FBX by magic, OBJ / glTF by extension; else ``failed``.
- ``require_project_id`` makes every ``/v1`` call demand ``?projectId=`` (400 without it).
- ``?dryRun=true`` on the generate call validates the body and answers ``{"creativeUnitsCost": quote_cost}``
  without creating a job (Scenario's own Blender add-on asks this free quote before paid runs; the field
  name is from its code, the query name from the SDK's ``dry_run``: [CODE official scenario-labs
  blender-plugin, scenario/core/api/sdk_adapter.py]). ``quotes`` counts them.
- Expired asset URLs (``expire_links()`` or older than ``asset_url_ttl``) answer 403 ``AccessDenied``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from . import assets
from .base import Job, Recorded, Reply, iso_now, json_reply
from .scenario_uploads import ScenarioBase

__all__ = ("ScenarioEmulator",)

MODEL_PATH = "/v1/generate/custom/model_tripo-retopology"


class ScenarioEmulator(ScenarioBase):
    def __init__(
        self,
        api_key: str = "scn-test-key",
        api_secret: str = "scn-test-secret",
        *,
        max_concurrent: int = 5,
        job_id_field: str = "jobId",
        failure_status: str = "failure",
        status_walk: tuple[str, ...] = ("warming-up", "in-progress", "in-progress", "in-progress"),
        default_faces: int = 4000,
        fbx_bytes: bytes | None = None,
        fbx_mime: str = "model/fbx",
        asset_url_ttl: float = 3600.0,
        require_project_id: bool = False,
        polls_per_step: int = 1,
        quote_cost: float = 10.0,
    ) -> None:
        super().__init__(
            api_key, api_secret, require_project_id=require_project_id, polls_per_step=polls_per_step
        )
        if job_id_field not in ("jobId", "id", "both"):
            raise ValueError("job_id_field must be 'jobId', 'id' or 'both'")
        self.max_concurrent = max_concurrent
        self.job_id_field = job_id_field
        self.failure_status = failure_status
        self.status_walk = status_walk
        self.default_faces = default_faces
        self.fbx_bytes = fbx_bytes
        self.fbx_mime = fbx_mime
        self.asset_url_ttl = asset_url_ttl
        self.quote_cost = quote_cost
        self.quotes = 0
        self.route("api", "POST", MODEL_PATH, self._generate)
        self.route("api", "GET", r"/v1/jobs/(?P<jid>[^/]+)", self._get_job)
        self.route("api", "GET", r"/v1/assets/(?P<aid>[^/]+)", self._get_asset)
        self.route("api", "GET", r"/v1/models", self._list_models)
        self.route("cdn", "GET", r"/assets/(?P<aid>[^/]+)/(?P<name>[^/]+)", self._cdn_asset)

    # ------------------------------------------------------------------ helpers
    def _active_jobs(self) -> int:
        return sum(1 for j in self.jobs.values() if j.kind == "job" and not j.done)

    # ------------------------------------------------------------------ generate
    def _validate(self, body: Any) -> dict[str, Any] | Reply:
        if not isinstance(body, dict):
            return self.bad("Request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self.bad("model is required (an asset id)")
        if model not in self.assets:
            return self.bad(f"model: asset {model} not found")
        quad, bake = body.get("quad", False), body.get("bake", True)
        for name, value in (("quad", quad), ("bake", bake)):
            if not isinstance(value, bool):
                return self.bad(f"{name} must be a boolean")
        limit = body.get("faceLimit")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, (int, float)) or int(limit) != limit:
                return self.bad("faceLimit must be an integer")
            top = 10000 if quad else 20000
            if not 500 <= limit <= top:
                return self.bad(
                    f"faceLimit must be between 500 and {top}" + (" when quad is true" if quad else "")
                )
            limit = int(limit)
        return {"model": model, "faceLimit": limit, "quad": quad, "bake": bake}

    def _generate(self, req: Recorded, _m: re.Match[str]) -> Reply:
        denied = self.auth(req)
        if denied:
            return denied
        params = self._validate(req.json)
        if isinstance(params, Reply):
            return params
        if req.query.get("dryRun", "").lower() == "true":
            self.quotes += 1
            return json_reply(200, {"creativeUnitsCost": self.quote_cost})
        if self._active_jobs() >= self.max_concurrent:
            return self.bad(
                "Too many concurrent jobs: wait for a running job to finish",
                429,
                actionName="model_run",
                actionLimit=self.max_concurrent,
            )
        failure = self.take_failure()
        job_id = f"job_{self.new_serial():04d}{int(time.time()) % 1000000:06d}"
        stages = 2 if failure else len(self.status_walk) + 1
        job = self.add_job(Job(job_id, "job", stages, failure=failure))
        job.data.update(
            params=params, history=[{"status": "queued", "date": iso_now(job.created)}], assets=[]
        )
        self.submissions.append({"id": job_id, **params, "projectId": req.query.get("projectId")})
        return json_reply(200, {"job": self._job_json(job)})

    def _status(self, job: Job) -> str:
        if job.done:
            return self.failure_status if job.failure else "success"
        return "queued" if job.stage == 0 else self.status_walk[min(job.stage, len(self.status_walk)) - 1]

    def on_stage(self, job: Job) -> None:
        if job.kind == "upload":
            self.upload_stage(job)
            return
        job.data["history"].append({"status": self._status(job), "date": iso_now(job.updated)})
        if job.done and not job.failure:
            job.data["assets"].append(self._make_result(job))

    def _make_result(self, job: Job) -> str:
        params = job.data["params"]
        target = params["faceLimit"] or self.default_faces
        if params["quad"] and self.fbx_bytes is not None:
            asset_id = self.add_asset(self.fbx_bytes, "retopology.fbx", self.fbx_mime, job.id)
            job.data["faces"] = None
            self.log.append(f"scenario: {job.id} -> FBX result {asset_id} (faces as in the supplied FBX)")
            return asset_id
        if params["quad"]:
            self.log.append(f"scenario: {job.id} quad result wanted FBX but no fbx_bytes given; serving GLB")
        data, faces = assets.sphere_glb(target, uvs=params["bake"], texture=params["bake"])
        job.data["faces"] = faces
        self.log.append(f"scenario: {job.id} -> GLB with {faces} triangles (faceLimit {params['faceLimit']})")
        return self.add_asset(data, "retopology.glb", "model/gltf-binary", job.id)

    def _job_json(self, job: Job) -> dict[str, Any]:
        status = self._status(job)
        if job.done:
            progress = 1.0 if not job.failure else 0.5
        else:
            progress = round(max(0, job.stage - 1) / len(self.status_walk), 2)
        metadata: dict[str, Any] = {
            "assetIds": list(job.data["assets"]),
            "modelId": "model_tripo-retopology",
            "input": {k: v for k, v in job.data["params"].items() if v is not None},
        }
        if job.failure and job.done:
            metadata["error"] = job.failure
        body: dict[str, Any] = {
            "status": status,
            "progress": progress,
            "jobType": "custom-model",
            "metadata": metadata,
            "statusHistory": list(job.data["history"]),
            "createdAt": iso_now(job.created),
            "updatedAt": iso_now(job.updated),
        }
        if self.job_id_field in ("jobId", "both"):
            body = {"jobId": job.id, **body}
        if self.job_id_field in ("id", "both"):
            body = {"id": job.id, **body}
        return body

    def _get_job(self, req: Recorded, m: re.Match[str]) -> Reply:
        denied = self.auth(req)
        if denied:
            return denied
        job = self.jobs.get(m["jid"])
        if job is None or job.kind != "job":
            return self.bad(f"Job {m['jid']} not found", 404)
        self.poll(job)
        return json_reply(200, {"job": self._job_json(job)})

    def _list_models(self, req: Recorded, _m: re.Match[str]) -> Reply:
        denied = self.auth(req)
        return denied or json_reply(200, {"models": []})

    # ------------------------------------------------------------------ assets
    def asset_url(self, asset_id: str) -> str:
        entry = self.assets[asset_id]
        expires = int(entry["created"] + self.asset_url_ttl)
        return f"{self.cdn_url}/assets/{asset_id}/{entry['name']}?Expires={expires}&Signature=emulated"

    def _get_asset(self, req: Recorded, m: re.Match[str]) -> Reply:
        denied = self.auth(req)
        if denied:
            return denied
        entry = self.assets.get(m["aid"])
        if entry is None:
            return self.bad(f"Asset {m['aid']} not found", 404)
        asset = {
            "id": m["aid"],
            "url": self.asset_url(m["aid"]),
            "kind": "3d",
            "mimeType": entry["mime"],
            "name": entry["name"],
            "properties": {"size": len(entry["data"])},
            "metadata": {
                "kind": "3d",
                "type": "retopology" if entry["source"].startswith("job_") else "upload",
            },
            "createdAt": iso_now(entry["created"]),
        }
        return json_reply(200, {"asset": asset})

    def _cdn_asset(self, req: Recorded, m: re.Match[str]) -> Reply:
        entry = self.assets.get(m["aid"])
        if entry is None or entry["name"] != m["name"]:
            return self.error_reply("cdn", 404, "The specified key does not exist.")
        expires = int(req.query["Expires"]) if req.query.get("Expires", "").isdigit() else 0
        if self.links_expired or time.time() > expires:
            return self.error_reply("cdn", 403, "Request has expired")
        return Reply(200, entry["data"], {"Content-Type": entry["mime"], "ETag": f'"{m["aid"]}"'})
