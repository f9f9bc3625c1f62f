# SPDX-License-Identifier: GPL-3.0-or-later
"""CSM.ai (Cube) v3 retopology sessions, emulated from docs.csm.ai/retopology/{create,get}-session.

Reproduced from the documentation:
- Header ``x-api-key``; ``POST /v3/sessions`` (also ``/v3/sessions/``) with
  ``{"type": "retopology", "input": {"mesh", "model": "swift"|"precision", "quads"?: bool = true}}``.
- Response shape: ``_id`` ``SESSION_<epoch>_<n>``, ``user_id``, ``status: "incomplete"``, ``created_at``,
  ``updated_at``, ``type``, ``input.mesh`` expanded to an asset ``{_id: ASSET_…, name, status,
  data.glb_url}``, ``input.model``, ``input.quads``, ``output.meshes[]`` of ``{_id, name, status, data:
  {obj_url, image_url}}`` with empty URLs while incomplete.
- ``GET /v3/sessions/{id}``: session status ``incomplete`` → ``complete`` | ``failed`` (docs.csm.ai sessions
  overview); each output mesh carries its own status, and meshes complete one poll apart. Complete meshes
  point at ``<cdn>/inference-outputs/<user>/<SESSION>/retopo_mesh_<i>.obj`` and ``retopo_render_<i>.png``
  (Azure blob in the docs: a foreign host that needs no auth; the CDN records headers so tests can check no
  key leaks there).
- ``quads=false`` gives a triangle OBJ; ``swift`` ~2000 faces, ``precision`` ~6000 (configurable); no
  face-count parameter exists.

INFERRED (undocumented) choices:
- Errors are ``{"message": ...}`` (CSM's own eval script reads ``message``); 401 for a missing or wrong key
  (``wrong_key_status`` switches the wrong-key case, e.g. to 403 as blender-mcp expects); 400 for bad bodies.
- Create answers ``create_status`` (default 201).
- ``input.mesh`` accepts an http(s) URL whose path ends in ``.glb`` (nothing is fetched), an ``ASSET_…`` id
  (checked against ``known_assets`` when that is set, else any), or ``data:model/gltf-binary;base64,…`` whose
  bytes must start with ``glTF`` (the data-URI form is an open question in NOTES.md; ``accept_data_uri=False``
  rejects it). ``max_mesh_bytes`` caps a data URI's decoded size (413).
- A data-URI input is stored and its ``glb_url`` points at ``<cdn>/inference-inputs/...``.
- ``DELETE /v3/sessions/{id}`` (third-party openapi only) answers 405; ``GET /v3/sessions/`` (list) too.
- A failed session (``fail_next_job``) fails on its second poll, every mesh ``failed``, ``error`` = the
  message.
- ``enterprise=False`` refuses retopology with 403 ``{"message": ...}``.
- ``GET /user/userdata`` (the account endpoint CSM's own Blender add-on, blender-mcp, reads the plan tier
  from): the same ``x-api-key`` check, then the legacy envelope ``{"error": "", "message": "Retrieved",
  "statusCode": 200, "data": {"_id", "email", "tier"}}`` (its shape from the v2 docs; blender-mcp reads
  ``data.tier``). ``tier`` is "enterprise", or "free" with ``enterprise=False``. It creates nothing.
- Expired/removed blobs (``expire_links()``) answer 404 with Azure's ``BlobNotFound`` XML.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Any
from urllib.parse import urlsplit

from . import assets
from .base import Emulator, Job, Recorded, Reply, iso_now, json_reply

__all__ = ("CsmEmulator",)

_DATA_URI = "data:model/gltf-binary;base64,"


class CsmEmulator(Emulator):
    service = "csm"
    expired_status = 404

    def __init__(
        self,
        api_key: str = "csm-test-key",
        *,
        variations: int = 2,
        swift_faces: int = 2000,
        precision_faces: int = 6000,
        create_status: int = 201,
        wrong_key_status: int = 401,
        enterprise: bool = True,
        accept_data_uri: bool = True,
        max_mesh_bytes: int | None = None,
        known_assets: set[str] | None = None,
        user_email: str = "retopo-tests@example.com",
        polls_per_step: int = 1,
    ) -> None:
        super().__init__(polls_per_step=polls_per_step)
        if variations < 1:
            raise ValueError("variations must be >= 1")
        self.api_key = api_key
        self.variations = variations
        self.faces = {"swift": swift_faces, "precision": precision_faces}
        self.create_status = create_status
        self.wrong_key_status = wrong_key_status
        self.enterprise = enterprise
        self.accept_data_uri = accept_data_uri
        self.max_mesh_bytes = max_mesh_bytes
        self.known_assets = known_assets
        self.user_email = user_email
        self.user_id = "65dcb52836eacb7fb01df627"
        self.files: dict[str, tuple[bytes, str]] = {}
        self.route("api", "POST", r"/v3/sessions/?", self._create)
        self.route("api", "GET", r"/v3/sessions/(?P<sid>[^/]+)", self._get)
        self.route("api", "GET", r"/user/userdata", self._userdata)
        self.route("cdn", "GET", r"/inference-(?:outputs|inputs)/.+", self._cdn_file)

    # ------------------------------------------------------------------ helpers
    def _asset_id(self) -> str:
        return f"ASSET_{int(time.time())}_{1000000 + self.new_serial()}"

    def _auth(self, req: Recorded) -> Reply | None:
        key = req.headers.get("x-api-key")
        if not key:
            return json_reply(401, {"message": "Missing API key: send it in the x-api-key header"})
        if key != self.api_key:
            return json_reply(self.wrong_key_status, {"message": "Invalid API key"})
        return None

    def _bad(self, message: str, status: int = 400) -> Reply:
        return json_reply(status, {"message": message})

    def _parse_mesh(self, mesh: str, sid: str) -> tuple[dict[str, Any], bytes | None] | Reply:
        """Return (input asset object, decoded bytes or None) or an error reply."""
        asset: dict[str, Any] = {"_id": self._asset_id(), "name": "input mesh name", "status": "complete"}
        if mesh.startswith("data:"):
            data = self._decode_data_uri(mesh)
            if isinstance(data, Reply):
                return data
            path = f"/inference-inputs/{self.user_email}/{sid}/input_mesh.glb"
            self.files[path] = (data, "model/gltf-binary")
            asset["data"] = {"glb_url": self.cdn_url + path}
            return asset, data
        if mesh.startswith("ASSET_"):
            if not re.fullmatch(r"ASSET_[A-Za-z0-9_]+", mesh):
                return self._bad("input.mesh is not a valid asset ID")
            if self.known_assets is not None and mesh not in self.known_assets:
                return self._bad(f"Asset {mesh} not found", 404)
            asset["_id"] = mesh
            asset["data"] = {"glb_url": f"{self.cdn_url}/inference-inputs/{self.user_email}/{mesh}/mesh.glb"}
            return asset, None
        split = urlsplit(mesh)
        if (
            split.scheme not in ("http", "https")
            or not split.netloc
            or not split.path.lower().endswith(".glb")
        ):
            return self._bad("input.mesh must be a GLB URL or a Cube asset ID")
        asset["name"] = split.path.rsplit("/", 1)[-1][:-4] or "input mesh name"
        asset["data"] = {"glb_url": mesh}
        return asset, None

    def _decode_data_uri(self, mesh: str) -> bytes | Reply:
        if not self.accept_data_uri or not mesh.startswith(_DATA_URI):
            return self._bad("input.mesh must be a GLB URL or a Cube asset ID")
        try:
            data = base64.b64decode(mesh[len(_DATA_URI) :], validate=True)
        except (binascii.Error, ValueError):
            return self._bad("input.mesh data URI is not valid base64")
        if self.max_mesh_bytes is not None and len(data) > self.max_mesh_bytes:
            return self._bad("input.mesh is too large", 413)
        if not assets.is_glb(data):
            return self._bad("input.mesh is not a GLB file")
        return data

    def _validate(self, body: Any) -> dict[str, Any] | Reply:
        if not isinstance(body, dict):
            return self._bad("Request body must be a JSON object")
        if body.get("type") != "retopology":
            return self._bad('type must be "retopology"')
        inp = body.get("input")
        if not isinstance(inp, dict):
            return self._bad("input is required")
        if not isinstance(inp.get("mesh"), str) or not inp["mesh"]:
            return self._bad("input.mesh is required")
        if inp.get("model") not in ("swift", "precision"):
            return self._bad('input.model must be "swift" or "precision"')
        quads = inp.get("quads", True)
        if not isinstance(quads, bool):
            return self._bad("input.quads must be a boolean")
        return {"mesh": inp["mesh"], "model": inp["model"], "quads": quads}

    # ------------------------------------------------------------------ API
    def _create(self, req: Recorded, _m: re.Match[str]) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        if not self.enterprise:
            return self._bad("Retopology is available on Enterprise plans only", 403)
        params = self._validate(req.json)
        if isinstance(params, Reply):
            return params
        sid = f"SESSION_{int(time.time())}_{1000000 + self.new_serial()}"
        parsed = self._parse_mesh(params["mesh"], sid)
        if isinstance(parsed, Reply):
            return parsed
        input_asset, data = parsed
        failure = self.take_failure()
        job = Job(sid, "session", 2 if failure else 1 + self.variations, failure=failure)
        job.data.update(params=params, input_asset=input_asset, input_bytes=data, faces=[])
        job.data["mesh_ids"] = [self._asset_id() for _ in range(self.variations)]
        self.add_job(job)
        kind = "data" if data is not None else ("asset" if params["mesh"].startswith("ASSET_") else "url")
        self.submissions.append({"id": sid, **params, "mesh_kind": kind, "mesh_bytes": len(data or b"")})
        return json_reply(self.create_status, self._session_json(job))

    def _get(self, req: Recorded, m: re.Match[str]) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        job = self.jobs.get(m["sid"])
        if job is None:
            return self._bad(f"Session {m['sid']} not found", 404)
        self.poll(job)
        return json_reply(200, self._session_json(job))

    def _userdata(self, req: Recorded, _m: re.Match[str]) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        tier = "enterprise" if self.enterprise else "free"
        account = {"_id": self.user_id, "email": self.user_email, "tier": tier}
        return json_reply(200, {"error": "", "message": "Retrieved", "statusCode": 200, "data": account})

    def on_stage(self, job: Job) -> None:
        if job.failure:
            return
        model = job.data["params"]["model"]
        quads = job.data["params"]["quads"]
        for i in range(min(job.stage - 1, self.variations)):
            path = self._output_path(job, i, "obj")
            if path in self.files:
                continue
            text, faces = assets.sphere_obj(int(self.faces[model] * (1 - 0.1 * i)), quads=quads)
            self.files[path] = (text.encode(), "application/octet-stream")
            self.files[self._output_path(job, i, "png")] = (assets.render_png(), "image/png")
            job.data["faces"].append(faces)
            self.log.append(f"csm: {job.id} mesh {i} complete with {faces} faces")

    def _output_path(self, job: Job, index: int, ext: str) -> str:
        name = f"retopo_mesh_{index}.obj" if ext == "obj" else f"retopo_render_{index}.png"
        return f"/inference-outputs/{self.user_email}/{job.id}/{name}"

    def _session_json(self, job: Job) -> dict[str, Any]:
        params = job.data["params"]
        meshes = []
        for i, mesh_id in enumerate(job.data["mesh_ids"]):
            complete = not job.failure and job.stage - 1 > i
            status = "failed" if job.failure and job.done else ("complete" if complete else "incomplete")
            urls = {"obj_url": "", "image_url": ""}
            if complete:
                urls = {
                    "obj_url": self.cdn_url + self._output_path(job, i, "obj"),
                    "image_url": self.cdn_url + self._output_path(job, i, "png"),
                }
            name = f"{job.data['input_asset']['name']} retopo {i + 1}"
            meshes.append({"_id": mesh_id, "name": name, "status": status, "data": urls})
        status = ("failed" if job.failure else "complete") if job.done else "incomplete"
        session: dict[str, Any] = {
            "_id": job.id,
            "user_id": self.user_id,
            "status": status,
            "created_at": iso_now(job.created),
            "updated_at": iso_now(job.updated),
            "type": "retopology",
            "input": {"mesh": job.data["input_asset"], "model": params["model"], "quads": params["quads"]},
            "output": {"meshes": meshes},
        }
        if job.failure and job.done:
            session["error"] = job.failure
        return session

    # ------------------------------------------------------------------ CDN (Azure blob stand-in)
    def error_reply(self, server: str, status: int, message: str) -> Reply:
        if server != "cdn":
            return super().error_reply(server, status, message)
        code = {404: "BlobNotFound", 403: "AuthenticationFailed", 503: "ServerBusy"}.get(
            status, "InternalError"
        )
        xml = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
        xml += "</Error>"
        return Reply(status, xml.encode(), {"Content-Type": "application/xml", "x-ms-error-code": code})

    def _cdn_file(self, req: Recorded, _m: re.Match[str]) -> Reply:
        entry = self.files.get(req.path)
        if entry is None or self.links_expired:
            return self.error_reply("cdn", self.expired_status, "The specified blob does not exist.")
        data, ctype = entry
        return Reply(200, data, {"Content-Type": ctype, "x-ms-blob-type": "BlockBlob"})
