# SPDX-License-Identifier: GPL-3.0-or-later
"""sboxcool Model Importer (s&box): decimation, an LoD chain, optional PBR maps and a ``.vmdl`` manifest.

Contract: ``run`` (inherited from ``CloudProvider``) executes in a thread of the worker host process; this
module never imports bpy and touches only the frozen ``JobSpec``. The upload is written here from its
``MeshSnapshot`` (``formats.fbx`` or ``formats.obj``), except for a rigged mesh's FBX: bones and skin
weights need Blender's exporter, so the main thread exported that one (``JobSpec.input_file``).

Documented behaviour followed (sboxcool-model-importer.txt, NOTES.md section 3):

* ``Authorization: Bearer <key>``; ``POST /api/tools/model`` multipart (``file`` FBX/OBJ up to 100 MB plus
  the fields built in ``sboxcool_form``) answers 202 ``{ok, jobId, statusUrl, message}``.
* ``GET statusUrl`` (``/api/tools/model/{jobId}``): ``queued`` / ``running`` / ``done`` / ``error`` with a
  ``progress`` log; the docs poll every 3 s. A rigged model without a usable mapping ends in ``error`` with
  ``result.availableMappings``: they are emitted (``ctx.emit(mappings=...)``, kept in the job record's
  details for the panel and the CLI) before the job fails with a one-line "pick a mapping" message.
* At most 5 concurrent model jobs per user; more get 429 "until a slot opens". A 429 is never a failure
  while the deadline allows waiting: the submit is repeated with growing waits (a 429 means nothing was
  created, so repeating cannot make a second paid job).
* ``downloads`` (``lod0..lodN`` GLBs, ``vmdl``, ``pbrTextures`` zip) are site-relative temp links that need
  no auth and expire after an hour: all are fetched as soon as the job is done, without the key.
* Test Connection: ``GET /api/tools/v1/queue/my-jobs`` ("Your active jobs"), read-only and free.

Inferences (undocumented):

* Relative links resolve against the configured base URL's host (default https://sboxcool.com), as the
  docs' Python example does with ``statusUrl``.
* The status answer has no numeric progress; the latest ``progress`` line is the message. A status outside
  the documented four is treated as still running (the deadline bounds it); ``failed`` reads as ``error``.
* A LoD link with a ``.obj``/``.fbx`` suffix keeps it ("standard pipeline: output is the same format as
  input"); otherwise LoDs are GLB. Unknown ``downloads`` keys are fetched too (they expire) but not imported.
* Switch thresholds come from ``result.lods[].threshold``, else from the ``.vmdl``, else the documented
  linear spread up to ``lodMaxThreshold``. A 401/403 on a key-less temp link means the link is gone.
"""

from __future__ import annotations

import json
import logging
import math
import mimetypes
import re
import shutil
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ..core.errors import (
    AuthError,
    InputError,
    JobFailed,
    MalformedResponse,
    NetworkError,
    RateLimitError,
    ResultExpired,
    ServiceError,
    one_line,
    redact,
    remote_text,
)
from ..core.files import human_bytes, safe_extract_zip
from ..core.jobs import JobSpec, ResultFile, State
from ..core.options import validate
from ..formats.fbx import write_fbx
from ..formats.obj import write_obj
from ..formats.vmdl import parse_vmdl_lods
from ..worker.runner import WorkerContext
from .cloud import (
    CloudProvider,
    Poll,
    time_scale,
    undocumented_status,
    unreadable_submit_answer,
    unsure_submit,
)
from .http import HttpClient
from .sboxcool_form import (
    build_form,
    clean_mappings,
    mapping_required_message,
    option,
    safe_name,
    texture_fields,
)

log = logging.getLogger(__name__)

API_PATH = "/api/tools/model"
MY_JOBS_PATH = "/api/tools/v1/queue/my-jobs"  # Test Connection's read-only request
MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # documented: "Max 100MB"
SLOT_WAIT_MAX_S = 60.0  # longest pause between submits while every sboxcool slot is taken
_LOD_KEY = re.compile(r"lod(\d+)")
_MESH_SUFFIXES = (".glb", ".obj", ".fbx")
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class SboxcoolProvider(CloudProvider):
    submit_waits_for_slots = True  # its 5-jobs-per-key slots: submit() waits them out
    name = "sboxcool"
    max_concurrent = 5  # documented per-user limit; the runner queues the rest without contacting sboxcool
    poll_min_s = 3.0  # the docs poll every 3 s
    poll_max_s = 15.0

    def __init__(self) -> None:
        # statusUrl of each job submitted by this process, by local job id (one provider serves all threads).
        self._status_urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def run(self, spec: JobSpec, ctx: WorkerContext) -> list[ResultFile]:
        try:
            return super().run(spec, ctx)
        finally:
            with self._lock:
                self._status_urls.pop(spec.job_id, None)

    def auth_headers(self, spec: JobSpec) -> dict[str, str]:
        return {"Authorization": f"Bearer {spec.credentials.get('api_key')}"}

    def check_key(self, client: HttpClient) -> None:
        """Test Connection: ``GET /api/tools/v1/queue/my-jobs`` ("Your active jobs", Queue API page; every
        tools endpoint requires the key). Read-only and free; it submits nothing and takes no job slot. Its
        answer's shape is undocumented, so any JSON object or list is taken as proof the key was accepted."""
        resp = client.request("GET", MY_JOBS_PATH)
        try:
            body = json.loads(resp.content)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, (dict, list)):
            status = resp.status_code
            raise MalformedResponse(service=self.service_name, status=status, remote_message="not JSON")

    def _redact(self, spec: JobSpec, text: str) -> str:
        return redact(text, self._secrets(spec))

    # -- submit ------------------------------------------------------------------------------------

    def submit(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient) -> str:
        validate(self.name, spec.options)  # again here: scripts and resumed specs bypass the UI
        form = build_form(spec)
        upload = self._upload_file(spec, ctx, form["format"])
        textures = texture_fields(spec.snapshot.textures if spec.snapshot is not None else ())
        size = upload.stat().st_size
        low, high = self.poll_bounds(spec)
        delay, refused = low, 0
        while True:
            ctx.check_cancelled()
            self.sending_paid_submit(ctx, 0.05, f"uploading {human_bytes(size)} to sboxcool")
            try:
                body = self._post(spec, client, form, upload, textures)
                break
            except RateLimitError as err:
                refused += 1
                left = ctx.time_left()
                hint = (err.retry_after or 0.0) * time_scale()
                if left <= max(delay, hint):  # the next try would come at or after the deadline
                    raise RateLimitError(
                        f"sboxcool had no free job slot before the deadline ({refused} tries): let your "
                        "other sboxcool jobs finish, then submit again",
                        status=429, service=self.service_name,
                    ) from err  # fmt: skip
                wait = max(delay, hint)
                log.info("sboxcool refused the submit of job %s with 429 (%d); next try in %.1f s",
                         spec.job_id, refused, wait)  # fmt: skip
                # A 429 proves nothing was created: no submit is in doubt while waiting for the next try.
                ctx.emit(State.QUEUED, None, f"waiting for a free sboxcool slot (try {refused + 1} next)",
                         submit_sent=0)  # fmt: skip
                ctx.sleep(wait)
                delay = min(max(high, SLOT_WAIT_MAX_S * time_scale()), delay * self.POLL_GROWTH)
        job_id = body.get("jobId")
        if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
            raise unreadable_submit_answer(
                MalformedResponse(service=self.service_name, remote_message="the submit answer has no jobId"),
                "check your sboxcool jobs before submitting again",
            )
        status_url = body.get("statusUrl")
        if isinstance(status_url, str) and status_url and client.same_origin(client.url_for(status_url)):
            with self._lock:
                self._status_urls[spec.job_id] = status_url
        log.info("sboxcool job %s accepted as %s", spec.job_id, job_id)
        return job_id

    def _upload_file(self, spec: JobSpec, ctx: WorkerContext, fmt: str) -> Path:
        snap = spec.snapshot
        if fmt == "fbx" and (spec.input_file or (snap is not None and snap.has_armature)):
            # A rigged mesh: Blender's exporter wrote it with its armature on the main thread.
            if not spec.input_file or not Path(spec.input_file).is_file():
                raise InputError("the FBX export of this object is missing: submit it again from Blender")
            path = Path(spec.input_file)
        else:
            if snap is None:
                raise InputError("nothing to upload: the job has no mesh snapshot")
            ctx.emit(State.EXPORTING, 0.02, f"writing the {fmt.upper()} upload")
            path = Path(spec.work_dir) / f"upload.{fmt}"
            names = snap.material_names
            if fmt == "obj":  # spelled as the tex_{name}_{slot} fields spell them, so the two always match
                names = tuple(safe_name(name, "material") if name else "" for name in names)
            writer = write_fbx if fmt == "fbx" else write_obj
            try:
                writer(path, snap.verts, snap.face_sizes, snap.corner_verts, corner_uvs=snap.corner_uvs,
                       face_materials=snap.face_materials, material_names=names,
                       object_name=spec.source_name)  # fmt: skip
            except ValueError as exc:
                raise InputError(f"'{spec.source_name}' cannot be written as {fmt.upper()}: {exc}") from exc
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InputError(
                f"the {fmt.upper()} upload of '{spec.source_name}' is {human_bytes(size)}, over sboxcool's "
                f"{human_bytes(MAX_UPLOAD_BYTES)} limit: reduce it (e.g. a Decimate modifier) and submit "
                "again"
            )
        return path

    def _post(self, spec: JobSpec, client: HttpClient, form: dict[str, str], upload: Path,
              textures: list[tuple[str, Path]]) -> dict[str, Any]:  # fmt: skip
        # Files are opened per attempt; HttpClient rewinds them for its own retries.
        with ExitStack() as stack:
            name = f"{safe_name(spec.source_name)}.{form['format']}"
            files: dict[str, tuple[str, Any, str]] = {
                "file": (name, stack.enter_context(upload.open("rb")), "application/octet-stream")
            }
            for field, path in textures:
                ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                tex_name = safe_name(path.stem, "texture") + path.suffix.lower()
                files[field] = (tex_name, stack.enter_context(path.open("rb")), ctype)
            try:
                return client.json("POST", API_PATH, data=form, files=files, expected=(200, 202))
            except (ServiceError, NetworkError) as exc:
                raise unsure_submit(exc, "check your sboxcool jobs before submitting again") from exc

    # -- poll --------------------------------------------------------------------------------------

    def poll(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str) -> Poll:
        with self._lock:
            url = self._status_urls.get(spec.job_id) or f"{API_PATH}/{quote(remote_id, safe='')}"
        try:
            body = client.json("GET", url)
        except RateLimitError:
            # The job keeps running remotely; a throttled status check only delays the next look.
            return Poll(message="sboxcool is limiting requests; checking again shortly")
        lines = body.get("progress")
        last = next((s for s in reversed(lines) if isinstance(s, str) and s.strip()), "") if isinstance(
            lines, list) else ""  # fmt: skip
        message = self._redact(spec, one_line(last, 200))
        status = str(body.get("status", "")).lower()
        if status == "done":
            return Poll(done=True, progress=1.0, message=message, payload=body)
        if status in ("error", "failed"):
            reason = remote_text(body.get("error")) or message or "no reason given"
            error = self._redact(spec, one_line(reason))
            result = body.get("result") if isinstance(body.get("result"), dict) else {}
            mappings = clean_mappings(result.get("availableMappings"), lambda s: self._redact(spec, s))
            if mappings:
                ctx.emit(mappings=mappings)
                raise JobFailed(mapping_required_message(result, error), remote_id=remote_id,
                                remote_message=error)  # fmt: skip
            return Poll(failed=error)
        if status == "queued":
            return Poll(progress=0.0, message=message or "queued at sboxcool")
        if status != "running" and (stopped := undocumented_status("sboxcool", status, self._secrets(spec))):
            return stopped
        return Poll(message=message or "sboxcool is processing the model")

    # -- collect -----------------------------------------------------------------------------------

    def collect(self, spec: JobSpec, ctx: WorkerContext, client: HttpClient, remote_id: str,
                poll: Poll) -> list[ResultFile]:  # fmt: skip
        body = poll.payload
        result = body.get("result") if isinstance(body.get("result"), dict) else {}
        links = self._links(body)
        work = Path(spec.work_dir)
        plan = [(key, url, self._destination(work, spec, key, url)) for key, url in links.items()]
        written: list[Path] = []
        public = self.make_client(spec, ctx, authorized=False)  # temp links need no key: never send it
        try:
            for number, (key, url, dest) in enumerate(plan):
                ctx.check_cancelled()
                ctx.emit(State.DOWNLOADING, 0.9 + 0.08 * number / len(plan), f"downloading {key}")
                try:
                    self.download_to(public, url, dest)
                except AuthError as exc:
                    raise ResultExpired(status=exc.status) from exc
                written.append(dest)
            results = self._results(spec, result, plan)
            pbr = next((dest for key, _url, dest in plan if key == "pbrTextures"), None)
            if pbr is not None:
                results += self._textures(ctx, pbr, work / "pbr")
        except BaseException:
            # A job that cannot deliver everything delivers nothing: no half set of LoDs to import.
            for path in written:
                path.unlink(missing_ok=True)
            shutil.rmtree(work / "pbr", ignore_errors=True)
            raise
        finally:
            public.close()
        details = {
            k: result[k] for k in ("originalFaces", "resultFaces", "boneMappingApplied") if k in result
        }
        if details:
            ctx.emit(sboxcool=details)
        return results

    @staticmethod
    def _textures(ctx: WorkerContext, archive: Path, folder: Path) -> list[ResultFile]:
        """The unpacked PBR maps; a refused archive (damaged, unsafe, a zip bomb) costs the maps only, never
        the paid LoD meshes: the job ends with a one-line warning instead."""
        try:
            safe_extract_zip(archive, folder)
        except ServiceError as exc:
            warning = f"the PBR maps were not imported: {exc}"
            log.warning("sboxcool: %s", warning)
            ctx.emit(warnings=[warning])
            return []
        finally:
            archive.unlink(missing_ok=True)
        return [ResultFile(path=str(folder), kind="textures")]

    def _links(self, body: dict[str, Any]) -> dict[str, str]:
        downloads = body.get("downloads")
        links = {str(k): v for k, v in downloads.items() if isinstance(v, str) and v} if isinstance(
            downloads, dict) else {}  # fmt: skip
        if "lod0" not in links and isinstance(body.get("downloadUrl"), str) and body["downloadUrl"]:
            links["lod0"] = body["downloadUrl"]  # documented as the LOD0 file
        if "lod0" not in links:
            raise MalformedResponse(
                service=self.service_name, remote_message="the finished job has no LOD0 link"
            )
        return links

    @staticmethod
    def _destination(work: Path, spec: JobSpec, key: str, url: str) -> Path:
        # Our names, never the service's: a link cannot choose where a file lands.
        suffix = Path(urlsplit(url).path).suffix.lower()
        match = _LOD_KEY.fullmatch(key)
        if match:
            return work / f"sbox_lod{int(match[1])}{suffix if suffix in _MESH_SUFFIXES else '.glb'}"
        if key == "vmdl":
            return work / f"{safe_name(spec.source_name)}.vmdl"
        if key == "pbrTextures":
            return work / "sbox_pbr_textures.zip"
        tail = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ".bin"
        return work / f"sbox_{safe_name(key, 'extra')}{tail}"

    def _results(self, spec: JobSpec, result: dict[str, Any],
                 plan: list[tuple[str, str, Path]]) -> list[ResultFile]:  # fmt: skip
        lods = sorted((int(m[1]), dest) for key, _u, dest in plan if (m := _LOD_KEY.fullmatch(key)))
        vmdl = next((dest for key, _u, dest in plan if key == "vmdl"), None)
        thresholds = self._thresholds(spec, result, vmdl, [level for level, _ in lods])
        out = [ResultFile(path=str(dest), kind="mesh", lod=level, switch_threshold=thresholds[level])
               for level, dest in lods]  # fmt: skip
        if vmdl is not None:
            out.append(ResultFile(path=str(vmdl), kind="vmdl"))
        wanted = int(option(spec.options, "lod_levels"))
        if len(lods) != wanted + 1:
            log.warning("sboxcool returned %d LoD file(s) for %d requested level(s)", len(lods), wanted)
        return out

    def _thresholds(self, spec: JobSpec, result: dict[str, Any], vmdl: Path | None,
                    levels: list[int]) -> dict[int, float]:  # fmt: skip
        found: dict[int, float] = {}
        for lod in result.get("lods") or []:
            if isinstance(lod, dict) and isinstance(lod.get("level"), int):
                try:
                    threshold = float(lod["threshold"])
                except (KeyError, TypeError, ValueError):
                    continue
                if math.isfinite(threshold):  # a NaN or inf is no answer: the documented spread applies
                    found[lod["level"]] = threshold
        if vmdl is not None and any(level not in found for level in levels if level):
            try:
                for index, (name, threshold, _file) in enumerate(parse_vmdl_lods(vmdl.read_text("utf-8"))):
                    match = re.search(r"(\d+)$", name)
                    if math.isfinite(threshold):
                        found.setdefault(int(match[1]) if match else index, threshold)
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                log.warning("could not read LoD thresholds from the .vmdl: %s", exc)
        count = max(max(levels, default=0), 1)
        top = float(option(spec.options, "lod_max_threshold"))
        # Documented: "Each LoD gets a switch threshold distributed linearly up to lodMaxThreshold".
        return {level: 0.0 if level == 0 else found.get(level, top * level / count) for level in levels}
