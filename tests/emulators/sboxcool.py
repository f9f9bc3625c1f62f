# SPDX-License-Identifier: GPL-3.0-or-later
"""sboxcool Model Importer API (``/api/tools/model``), emulated from the Model Importer and tools-api pages.

Reproduced from the documentation:
- ``Authorization: Bearer <key>`` on submit and poll; errors are always ``{"error": "..."}`` (400/401/429).
- ``POST /api/tools/model`` multipart/form-data (fields: see ``sboxcool_form``) → 202
  ``{"ok": true, "jobId", "statusUrl": "/api/tools/model/<id>", "message"}``.
- At most 5 concurrent (queued + running) model jobs per user; more → 429 ``{"error": "Too many concurrent
  jobs"}`` with no Retry-After. A job counts until it is ``done`` or ``error``.
- ``GET /api/tools/model/{jobId}``: ``queued`` → ``running`` (``progress`` log lines appended, worded as in
  the doc) → ``done`` with ``result {originalFaces, resultFaces, pipeline, lodLevels, lods[]}``, ``downloads``
  (``lod0..lodN`` GLB, ``vmdl`` only for ``pipeline=source1``, ``pbrTextures`` only with ``generatePbr=true``
  and a ``tex_*_color`` file), ``downloadUrl`` (= lod0), ``pipeline``, ``createdAt``/``expiresAt`` (ms epoch,
  ``link_ttl`` apart) — or ``error`` with ``error``.
- Downloads are site-relative ``/uploads/temp/<n>/<jobId>_model_lod0.glb`` on the same host, served WITHOUT
  auth, gone after ``link_ttl`` seconds (default 3600) or ``expire_links()``.
- Bone mapping: set ``rig_bones`` to mark uploads as rigged. Unless ``skipBoneMapping=true``, a ``mappingId``
  from ``mappings``, ``useMostPopularBoneMapping=true`` or a mapping matching >= ``autoMatchThreshold``
  applies, the job ends in ``error`` "Model has N bones but no mapping selected..." with ``result.bones`` and
  ``result.availableMappings``; with a mapping, ``result.boneMappingApplied``.

- ``GET /api/tools/v1/queue/my-jobs`` ("Your active jobs", wiki/tools-api/queue-api; every tools endpoint
  requires the key): the same Bearer check; it creates nothing.

INFERRED choices:
- The my-jobs answer's shape is undocumented: ``{"jobs": [{jobId, toolType: "model", status, createdAt}]}``
  for the jobs still queued or running.
- The docs' cURL posts to ``api.sboxcool.com/tools/model``; the emulator also routes ``/tools/model[/<id>]``.
- ``originalFaces`` is read from an OBJ upload (its ``f`` records), else ``default_original_faces``; an OBJ
  with no faces or an FBX without the FBX magic ends in ``error``. Reported faces are ``round(original *
  ratio)`` (as the doc's example numbers); the served GLBs are cube-spheres quantised near those counts. Both
  are recorded in ``reported_faces`` / ``job.data``.
- Outputs are GLB as documented in ``downloads``; ``lod_format="input"`` instead honours the "Standard
  Pipeline: output is the same format as input" sentence (OBJ generated; FBX = ``fbx_bytes`` or a logged GLB
  fallback).
- The vmdl references ``models/<upload stem>/<file name>``; the PBR zip holds
  ``<mat>_{normal,roughness,ao}.png``.
- An unknown ``mappingId`` ends the job in ``error`` "Bone mapping <id> not found".
- ``rate_limit_per_minute`` (off by default) answers 429 ``{"error": "Rate limit exceeded"}``.
- Walk per poll (``polls_per_step`` = 1): ``queued``, ``running`` (start lines), ``running`` (LoD lines, files
  written), ``done``; an import failure, a missing bone mapping or ``fail_next_job`` gives ``error`` on the
  third poll instead. A 404 for unknown jobs / files is ``{"error": "..."}``.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from . import assets
from .base import Emulator, Job, Recorded, Reply, json_reply
from .sboxcool_form import FormError, choose_mapping, lod_plan, validate_form

__all__ = ("DEFAULT_MAPPINGS", "SboxcoolEmulator")

DEFAULT_MAPPINGS: tuple[dict[str, Any], ...] = (
    {"publicId": "map_abc123xyz", "name": "Mixamo to Citizen", "author": "username", "matchPercent": 72,
     "upvotes": 42, "downvotes": 2},
    {"publicId": "map_def456uvw", "name": "Mixamo to Human", "author": "rigger", "matchPercent": 64,
     "upvotes": 7, "downvotes": 1},
)  # fmt: skip


class SboxcoolEmulator(Emulator):
    service = "sboxcool"
    expired_status = 404
    public_paths = r"^/uploads/temp/"

    def __init__(
        self,
        api_key: str = "sbox_tk_test",
        *,
        max_concurrent: int = 5,
        max_upload_bytes: int = 100 * 1024 * 1024,
        link_ttl: float = 3600.0,
        default_original_faces: int = 15000,
        fbx_bytes: bytes | None = None,
        lod_format: str = "glb",
        rig_bones: list[str] | None = None,
        mappings: list[dict[str, Any]] | None = None,
        rate_limit_per_minute: int | None = None,
        polls_per_step: int = 1,
        odd_threshold: float | None = None,
    ) -> None:
        super().__init__(polls_per_step=polls_per_step)
        if lod_format not in ("glb", "input"):
            raise ValueError("lod_format must be 'glb' or 'input'")
        self.api_key = api_key
        self.max_concurrent = max_concurrent
        self.max_upload_bytes = max_upload_bytes
        self.link_ttl = link_ttl
        self.default_original_faces = default_original_faces
        self.fbx_bytes = fbx_bytes
        self.lod_format = lod_format
        self.rig_bones: list[str] = list(rig_bones or [])
        self.mappings: list[dict[str, Any]] = [dict(m) for m in (mappings or DEFAULT_MAPPINGS)]
        self.rate_limit_per_minute = rate_limit_per_minute
        self.files: dict[str, tuple[bytes, str, float]] = {}
        self.reported_faces: dict[str, dict[str, int]] = {}
        self._submit_times: list[float] = []
        self.peak = 0  # the most jobs ever active (queued or running) at once
        # A service slip the client must survive: every LoD's threshold answered as this (e.g. NaN).
        self.odd_threshold = odd_threshold
        self.route("api", "POST", r"(?:/api)?/tools/model", self._submit)
        self.route("api", "GET", r"(?:/api)?/tools/model/(?P<jid>[^/]+)", self._status)
        self.route("api", "GET", r"/uploads/temp/.+", self._download)
        self.route("api", "GET", r"(?:/api)?/tools/v1/queue/my-jobs", self._my_jobs)

    def error_reply(self, server: str, status: int, message: str) -> Reply:
        return json_reply(status, {"error": message})

    def _auth(self, req: Recorded) -> Reply | None:
        header = req.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return json_reply(401, {"error": "Missing API key. Send Authorization: Bearer <key>"})
        if header[7:].strip() != self.api_key:
            return json_reply(401, {"error": "Invalid API key"})
        return None

    def active_jobs(self) -> int:
        return sum(1 for job in self.jobs.values() if not job.done)

    def add_job(self, job: Job) -> Job:
        job = super().add_job(job)
        self.peak = max(self.peak, self.active_jobs())
        return job

    # ------------------------------------------------------------------ submit
    def _submit(self, req: Recorded, _m: re.Match[str]) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        now = time.time()
        self._submit_times = [t for t in self._submit_times if now - t < 60]
        if self.rate_limit_per_minute is not None and len(self._submit_times) >= self.rate_limit_per_minute:
            return json_reply(429, {"error": "Rate limit exceeded"})
        self._submit_times.append(now)
        if req.files is None or req.form is None:
            return json_reply(400, {"error": "Expected multipart/form-data with a 'file' field"})
        try:
            params = validate_form(req.form, req.files, self.max_upload_bytes)
        except FormError as exc:
            return json_reply(400, {"error": str(exc)})
        if self.active_jobs() >= self.max_concurrent:
            return json_reply(429, {"error": "Too many concurrent jobs"})
        job_id = secrets.token_hex(6)
        job = self.add_job(Job(job_id, "job", 4, failure=self.take_failure()))
        job.data.update(params=params, progress=[], result=None, downloads={}, error=None)
        summary = {k: v for k, v in params.items() if k not in ("data", "textures")}
        summary["textures"] = {mat: sorted(slots) for mat, slots in params["textures"].items()}
        self.submissions.append({"id": job_id, "size": len(params["data"]), **summary})
        return json_reply(
            202,
            {
                "ok": True,
                "jobId": job_id,
                "statusUrl": f"/api/tools/model/{job_id}",
                "message": "Model processing started. Poll statusUrl for progress.",
            },
        )

    # ------------------------------------------------------------------ processing
    def on_stage(self, job: Job) -> None:
        params = job.data["params"]
        if job.stage == 2:
            job.data["progress"] += [
                "Starting model processing pipeline...",
                f"Decimating model (ratio: {params['ratio']:g}, format: {params['format']})...",
            ]
            job.data["error"] = self._precheck(job)
            if job.data["error"]:
                job.last_stage = 3
        elif job.done and job.data["error"]:
            job.data["progress"].append(f"Error: {job.data['error']}")
        elif job.stage == 3:
            self._produce(job)
        elif job.done:
            job.data["progress"].append("Pipeline complete.")

    def _precheck(self, job: Job) -> str | None:
        params = job.data["params"]
        if job.failure:
            return job.failure
        if params["format"] == "obj":
            original = assets.obj_face_count(params["data"])
            if not original:
                return "Failed to import model: the OBJ file has no faces"
        elif not assets.is_fbx(params["data"]):
            return "Failed to import model: not a valid FBX file"
        else:
            original = self.default_original_faces
        job.data["original"] = original
        result: dict[str, Any] = {}
        if self.rig_bones:
            result = {"bones": list(self.rig_bones), "boneCount": len(self.rig_bones)}
        mapping, error = choose_mapping(params, self.rig_bones, self.mappings)
        if mapping is not None:
            keys = ("publicId", "name", "author", "matchPercent")
            result["boneMappingApplied"] = {k: mapping[k] for k in keys if k in mapping}
        if error and "no mapping selected" in error:
            result["availableMappings"] = [dict(m) for m in self.mappings]
        job.data["result"] = result or None
        return error

    def _lod_file(self, params: dict[str, Any], faces: int) -> tuple[bytes, str, str, int]:
        """(bytes, extension, content type, faces in the file) for one LoD."""
        if self.lod_format == "input" and params["format"] == "obj":
            text, written = assets.sphere_obj(faces, quads=False)
            return text.encode(), "obj", "text/plain", written
        if self.lod_format == "input" and self.fbx_bytes is not None:
            return self.fbx_bytes, "fbx", "application/octet-stream", -1
        if self.lod_format == "input":
            self.log.append("sboxcool: FBX output wanted but no fbx_bytes given; serving GLB")
        data, written = assets.sphere_glb(faces, uvs=True)
        return data, "glb", "model/gltf-binary", written

    def _produce(self, job: Job) -> None:
        params = job.data["params"]
        original = job.data["original"]
        folder = f"/uploads/temp/{100 + self.new_serial()}"
        expires = job.created + self.link_ttl
        plan = [
            {"level": 0, "ratio": params["ratio"], "threshold": 0, "faces": round(original * params["ratio"])}
        ]
        plan += lod_plan(original, params)
        if self.odd_threshold is not None:
            for lod in plan[1:]:
                lod["threshold"] = self.odd_threshold
        downloads: dict[str, str] = {}
        written: dict[str, int] = {}
        progress = job.data["progress"]
        for lod in plan:
            level = lod["level"]
            if level:
                progress.append(
                    f"Generating LOD{level} (ratio: {lod['ratio']:.4f}, threshold: {lod['threshold']})..."
                )
            data, ext, ctype, in_file = self._lod_file(params, max(1, lod["faces"]))
            path = f"{folder}/{job.id}_model_lod{level}.{ext}"
            self.files[path] = (data, ctype, expires)
            downloads[f"lod{level}"] = path
            lod["size"] = len(data)
            written[f"lod{level}"] = in_file
            progress.append(f"LOD{level} ready: {max(1, len(data) // 1024)} KB")
        if params["pipeline"] == "source1":
            stem = (
                re.sub(r"[^a-z0-9_]+", "_", params["filename"].rsplit(".", 1)[0].lower()).strip("_")
                or "model"
            )
            refs = [f"models/{stem}/{p.rsplit('/', 1)[-1]}" for p in downloads.values()]
            text = assets.vmdl_text(refs, [float(lod["threshold"]) for lod in plan])
            downloads["vmdl"] = f"{folder}/{job.id}_model.vmdl"
            self.files[downloads["vmdl"]] = (text.encode(), "text/plain", expires)
            progress.append("Writing VMDL manifest...")
        colors = {m: s["color"] for m, s in params["textures"].items() if "color" in s}
        if params["generatePbr"] and colors:
            progress.append("Generating PBR textures...")
            sizes = [(m, *self._texture_size(data)) for m, (_name, data) in colors.items()]
            zipped = assets.pbr_textures_zip(
                sizes,
                normal_strength=params["pbrNormalStrength"],
                roughness_base=int(params["pbrRoughnessBase"]),
                ao_strength=params["pbrAoStrength"],
            )
            downloads["pbrTextures"] = f"{folder}/{job.id}_pbr_textures.zip"
            self.files[downloads["pbrTextures"]] = (zipped, "application/zip", expires)
        result = dict(job.data["result"] or {})
        result.update(
            originalFaces=original,
            resultFaces=plan[0]["faces"],
            pipeline=params["pipeline"],
            lodLevels=params["lodLevels"],
            lods=[{k: lod[k] for k in ("level", "ratio", "threshold", "faces", "size")} for lod in plan[1:]],
        )
        job.data.update(result=result, downloads=downloads, written_faces=written)
        self.reported_faces[job.id] = {f"lod{lod['level']}": lod["faces"] for lod in plan} | {
            "original": original
        }

    @staticmethod
    def _texture_size(data: bytes) -> tuple[int, int]:
        size = assets.png_size(data) or (64, 64)
        return min(size[0], 256), min(size[1], 256)

    # ------------------------------------------------------------------ poll and download
    def _status(self, req: Recorded, m: re.Match[str]) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        job = self.jobs.get(m["jid"])
        if job is None:
            return json_reply(404, {"error": "Job not found"})
        self.poll(job)
        data = job.data
        status = (
            ("error" if data["error"] else "done")
            if job.done
            else ("queued" if job.stage <= 1 else "running")
        )
        body: dict[str, Any] = {"jobId": job.id, "status": status, "progress": list(data["progress"])}
        if status == "done":
            body.update(
                result=data["result"],
                downloads=dict(data["downloads"]),
                downloadUrl=data["downloads"]["lod0"],
                pipeline=data["params"]["pipeline"],
            )
        elif status == "error":
            body["error"] = data["error"]
            if data["result"]:
                body["result"] = data["result"]
        body["createdAt"] = int(job.created * 1000)
        if status == "done":
            body["expiresAt"] = int((job.created + self.link_ttl) * 1000)
        return json_reply(200, body)

    def _my_jobs(self, req: Recorded, _m: re.Match[str]) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        active = [
            {"jobId": job.id, "toolType": "model", "status": "queued" if job.stage <= 1 else "running",
             "createdAt": int(job.created * 1000)}
            for job in self.jobs.values() if not job.done
        ]  # fmt: skip
        return json_reply(200, {"jobs": active})

    def _download(self, req: Recorded, _m: re.Match[str]) -> Reply:
        entry = self.files.get(req.path)
        if entry is None or self.links_expired or time.time() > entry[2]:
            return json_reply(404, {"error": "File not found or expired"})
        data, ctype, _expires = entry
        return Reply(200, data, {"Content-Type": ctype})
