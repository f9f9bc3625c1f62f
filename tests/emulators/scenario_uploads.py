# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenario emulator, part 1: Basic auth, the error envelope, assets storage and the multipart upload flow.

See ``scenario.py`` for the full contract. This module reproduces docs.scenario.com's upload flow: init
(``POST /v1/uploads``), a presigned PUT per part on the object store (the CDN server here), the ``complete``
action and polling ``GET /v1/uploads/{id}`` until ``imported`` (``entityId`` = asset id) or ``failed``
(``errorMessage``). Upload statuses walk ``pending`` → ``validating`` → ``validated`` → ``imported`` |
``failed``, one step per poll after ``complete``.

INFERRED: S3-style XML errors on the object store; 400 when a part PUT carries an ``Authorization`` header;
403 ``SignatureDoesNotMatch`` for checksum headers or a tampered signature; 404 ``NoSuchUpload`` for unknown
or already completed uploads; ``{"url", "kind"}`` uploads are accepted and import a stand-in GLB (nothing is
fetched); ``kind`` must be "3d" (this emulator serves 3D only); at most 10000 parts (S3's limit).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import Any

from . import assets
from .base import Emulator, Job, Recorded, Reply, iso_now, json_reply

__all__ = ("ScenarioBase",)

_EXT_MIME = {"glb": "model/gltf-binary", "gltf": "model/gltf+json", "fbx": "model/fbx", "obj": "model/obj"}


class ScenarioBase(Emulator):
    service = "scenario"
    expired_status = 403

    def __init__(
        self, api_key: str, api_secret: str, *, require_project_id: bool, polls_per_step: int
    ) -> None:
        super().__init__(polls_per_step=polls_per_step)
        self.api_key = api_key
        self.api_secret = api_secret
        self.require_project_id = require_project_id
        self.assets: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.route("api", "POST", r"/v1/uploads", self._create_upload)
        self.route("api", "GET", r"/v1/uploads/(?P<uid>[^/]+)", self._get_upload)
        self.route("api", "POST", r"/v1/uploads/(?P<uid>[^/]+)/action", self._upload_action)
        self.route("cdn", "PUT", r"/multipart/(?P<uid>[^/]+)/(?P<n>\d+)", self._put_part)

    @property
    def api_root(self) -> str:
        return self.base_url + "/v1"

    # ------------------------------------------------------------------ shared helpers
    def auth(self, req: Recorded) -> Reply | None:
        header = req.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        if not header.startswith("Basic "):
            return json_reply(401, {"message": "Unauthorized: Basic authentication required"})
        if header[6:].strip() != expected:
            return json_reply(401, {"message": "Unauthorized: invalid API key or secret"})
        if self.require_project_id and not req.query.get("projectId"):
            return self.bad("projectId query parameter is required")
        return None

    def bad(self, message: str, status: int = 400, **details: Any) -> Reply:
        body: dict[str, Any] = {"message": message}
        if details:
            body["details"] = details
        return json_reply(status, body)

    def add_asset(self, data: bytes, file_name: str, mime: str, source: str) -> str:
        asset_id = f"asset_{self.new_serial():06d}{int(time.time()) % 100000:05d}"
        self.assets[asset_id] = {
            "data": data,
            "name": file_name,
            "mime": mime,
            "source": source,
            "created": time.time(),
        }
        return asset_id

    def error_reply(self, server: str, status: int, message: str) -> Reply:
        if server != "cdn":
            return self.bad(message, status)
        code = {400: "InvalidArgument", 403: "AccessDenied", 404: "NoSuchKey"}.get(status, "InternalError")
        if "signature" in message.lower():
            code = "SignatureDoesNotMatch"
        elif "upload" in message.lower() and status == 404:
            code = "NoSuchUpload"
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        )
        xml += "</Error>"
        return Reply(status, xml.encode(), {"Content-Type": "application/xml"})

    # ------------------------------------------------------------------ uploads
    def _validate_upload(self, body: Any) -> dict[str, Any] | Reply:
        if not isinstance(body, dict):
            return self.bad("Request body must be a JSON object")
        if body.get("kind") != "3d":
            return self.bad('kind must be "3d"')
        if isinstance(body.get("url"), str):
            return {"url": body["url"], "fileName": body["url"].rsplit("/", 1)[-1] or "model.glb", "parts": 0}
        name, size, parts = body.get("fileName"), body.get("fileSize"), body.get("parts")
        if not isinstance(name, str) or not name.strip():
            return self.bad("fileName is required")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            return self.bad("fileSize must be a positive integer")
        if isinstance(parts, bool) or not isinstance(parts, int) or not 1 <= parts <= 10000:
            return self.bad("parts must be an integer between 1 and 10000")
        ctype = body.get("contentType")
        if ctype is not None and not isinstance(ctype, str):
            return self.bad("contentType must be a string")
        return {"fileName": name, "fileSize": size, "parts": parts, "contentType": ctype}

    def _create_upload(self, req: Recorded, _m: re.Match[str]) -> Reply:
        denied = self.auth(req)
        if denied:
            return denied
        params = self._validate_upload(req.json)
        if isinstance(params, Reply):
            return params
        uid = f"upload_{self.new_serial():06d}{int(time.time()) % 100000:05d}"
        expires = time.time() + 3600
        upload: dict[str, Any] = {
            "id": uid,
            "params": params,
            "created": time.time(),
            "expires": expires,
            "signature": hashlib.sha256(f"{uid}:{self.api_secret}".encode()).hexdigest()[:32],
            "received": {},
            "completed": False,
        }
        self.uploads[uid] = upload
        if "url" in params:
            upload["received"] = {1: assets.sphere_glb(2000)[0]}
            self._start_validation(upload)
        return json_reply(200, {"upload": self._upload_json(upload)})

    def part_url(self, upload: dict[str, Any], number: int) -> str:
        return (
            f"{self.cdn_url}/multipart/{upload['id']}/{number}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Expires=3600&X-Amz-Signature={upload['signature']}"
        )

    def _upload_json(self, upload: dict[str, Any]) -> dict[str, Any]:
        params = upload["params"]
        job = self.jobs.get(upload["id"])
        status = "pending" if job is None else ("validating", "validated", "imported")[job.stage]
        if job is not None and job.done and job.data.get("error"):
            status = "failed"
        body: dict[str, Any] = {
            "id": upload["id"],
            "status": status,
            "fileName": params["fileName"],
            "kind": "3d",
            "createdAt": iso_now(upload["created"]),
            "updatedAt": iso_now(job.updated if job else upload["created"]),
        }
        if "url" in params:
            body["url"] = params["url"]
        else:
            body["contentType"] = params["contentType"]
            body["fileSize"] = params["fileSize"]
            body["partsCount"] = params["parts"]
            if status == "pending":
                body["parts"] = [
                    {"number": n, "url": self.part_url(upload, n), "expires": iso_now(upload["expires"])}
                    for n in range(1, params["parts"] + 1)
                ]
        if job is not None and job.data.get("entityId"):
            body["entityId"] = job.data["entityId"]
        if job is not None and job.data.get("error"):
            body["errorMessage"] = job.data["error"]
        return body

    def _get_upload(self, req: Recorded, m: re.Match[str]) -> Reply:
        denied = self.auth(req)
        if denied:
            return denied
        upload = self.uploads.get(m["uid"])
        if upload is None:
            return self.bad(f"Upload {m['uid']} not found", 404)
        job = self.jobs.get(upload["id"])
        if job is not None:
            self.poll(job)
        return json_reply(200, {"upload": self._upload_json(upload)})

    def _upload_action(self, req: Recorded, m: re.Match[str]) -> Reply:
        denied = self.auth(req)
        if denied:
            return denied
        upload = self.uploads.get(m["uid"])
        if upload is None:
            return self.bad(f"Upload {m['uid']} not found", 404)
        action = req.json.get("action") if isinstance(req.json, dict) else None
        if action != "complete":
            return self.bad('action must be "complete"')
        if upload["completed"]:
            return self.bad("Upload is already completed")
        params = upload["params"]
        missing = [n for n in range(1, params["parts"] + 1) if n not in upload["received"]]
        if missing:
            return self.bad(f"Parts not uploaded: {missing}", missing=missing)
        size = sum(len(b) for b in upload["received"].values())
        if size != params["fileSize"]:
            return self.bad(f"Uploaded {size} bytes but fileSize is {params['fileSize']}")
        self._start_validation(upload)
        return json_reply(200, {"upload": self._upload_json(upload)})

    def _start_validation(self, upload: dict[str, Any]) -> None:
        upload["completed"] = True
        self.add_job(Job(upload["id"], "upload", 2))

    def upload_stage(self, job: Job) -> None:
        if not job.done:
            return
        upload = self.uploads[job.id]
        data = b"".join(upload["received"][n] for n in sorted(upload["received"]))
        name = upload["params"]["fileName"]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if assets.is_glb(data):
            kind = "glb"
        elif assets.is_fbx(data):
            kind = "fbx"
        elif ext == "obj" and assets.obj_face_count(data):
            kind = "obj"
        elif ext == "gltf" and data.lstrip()[:1] == b"{":
            kind = "gltf"
        else:
            job.data["error"] = f"Unsupported or corrupt 3D file: {name}"
            return
        job.data["entityId"] = self.add_asset(data, name, _EXT_MIME[kind], upload["id"])

    def _put_part(self, req: Recorded, m: re.Match[str]) -> Reply:
        upload = self.uploads.get(m["uid"])
        if upload is None or upload["completed"]:
            return self.error_reply("cdn", 404, "The specified upload does not exist.")
        if "authorization" in req.headers:
            return self.error_reply(
                "cdn",
                400,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter is supported",
            )
        if "content-md5" in req.headers or any(h.startswith("x-amz-checksum") for h in req.headers):
            return self.error_reply(
                "cdn", 403, "The request signature we calculated does not match (checksum header)"
            )
        if req.query.get("X-Amz-Signature") != upload["signature"]:
            return self.error_reply("cdn", 403, "The request signature we calculated does not match")
        number = int(m["n"])
        if not 1 <= number <= upload["params"]["parts"]:
            return self.error_reply("cdn", 400, "Part number must be within the parts announced")
        if time.time() > upload["expires"]:
            return self.error_reply("cdn", 403, "Request has expired")
        upload["received"][number] = req.body
        return Reply(200, b"", {"ETag": f'"{hashlib.md5(req.body).hexdigest()}"'})
