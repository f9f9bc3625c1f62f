# SPDX-License-Identifier: GPL-3.0-or-later
"""The Tripo-through-Scenario provider end to end in real Blender against the Scenario emulator.

Covers the operator and the CLI (GLB upload in parts, generate body, GLB and FBX results) and the failures:
missing credentials, online access off, out-of-range face limits, a failed job, a refused key, 429 and 500
on the paid request. Every test asserts on the emulator's records; the fixture checks that no credential
reached the object store and that the emulator raised nothing.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from pathlib import Path

import bpy
import numpy as np
import pytest
from emulators import ScenarioEmulator
from emulators.checks import glb_stats
from emulators.remote import Remote

from tests.support.cloud import configure, low_poly_fbx, reset, worker_module
from tests.support.scene import fingerprint, ico_sphere

KEY, SECRET = "scn-key-0123456789", "scn-secret-9876543210"
BASIC = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
UPLOADS = r"^/v1/uploads$"
GENERATE = r"^/v1/generate/custom/model_tripo-retopology$"
ENV = ("SCENARIO_SDK_API_KEY", "SCENARIO_SDK_API_SECRET", "SCENARIO_BASE_URL")


@pytest.fixture
def scenario(addon, blank, monkeypatch):
    """Start a Scenario emulator (keyword options as ScenarioEmulator's) and point the add-on at it."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    addon.jobs.session.set_online_override(False)  # other suites' CLI runs leave it on
    started: list[ScenarioEmulator] = []

    def start(**options) -> ScenarioEmulator:
        emu = Remote(ScenarioEmulator, KEY, SECRET, **options).start()
        started.append(emu)
        configure(addon, "tripo", emu.base_url, api_key=KEY, api_secret=SECRET)
        return emu

    try:
        yield start
    finally:
        reset(addon)
        addon.jobs.session.set_online_override(False)
        addon.jobs.session.set_cache_dir(None)
        for emu in started:
            emu.stop()
    for emu in started:
        assert not emu.internal_errors, emu.internal_errors
        assert not emu.credential_leaks(), [(r.method, r.path) for r in emu.credential_leaks()]


def _only(emu: ScenarioEmulator, method: str, pattern: str):
    import re

    requests = emu.requests
    found = [r for r in requests if r.method == method and re.search(pattern, r.path)]
    if pattern == GENERATE:
        found = [r for r in found if "dryRun" not in r.query]
    assert len(found) == 1, [(r.method, r.path) for r in found]
    if pattern == GENERATE:  # the free quote went first, with the same body
        quotes = [r for r in requests if re.search(pattern, r.path) and r.query.get("dryRun") == "true"]
        assert [q.json for q in quotes] == [found[0].json]
    return found[0]


def _submit_fails(match: str) -> str:
    with pytest.raises(RuntimeError, match=match) as info:
        bpy.ops.retopo_hub.submit()
    message = str(info.value).strip().splitlines()[-1]
    assert KEY not in message and SECRET not in message
    return message


def _tripo(obj, **settings) -> None:
    obj.retopo_hub.provider = "tripo"
    for name, value in settings.items():
        setattr(obj.retopo_hub, name, value)


def test_operator_uploads_glb_and_imports_the_baked_result(scenario, addon):
    emu = scenario()
    rock = ico_sphere("Rock")
    bpy.context.view_layer.update()  # ico_sphere leaves matrix_world stale until the next depsgraph update
    before = fingerprint(rock)
    _tripo(rock, target_faces=3000, quads=False, tripo_bake=True)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    assert fingerprint(rock) == before, "the original must never be modified"
    results = {o.name: o for o in bpy.data.collections["Rock_RetopoHub"].objects}
    assert set(results) == {"Rock_retopo"}
    result = results["Rock_retopo"]
    (job,) = [j for j in emu.jobs.values() if j.kind == "job"]
    assert len(result.data.polygons) == job.data["faces"] > 2500
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done" and record.remote_id == job.id
    # The baked texture came embedded in the GLB and stays on the imported material.
    images = [n.image for m in result.data.materials for n in m.node_tree.nodes if n.type == "TEX_IMAGE"]
    assert images and images[0].size[0] == 64

    init = _only(emu, "POST", UPLOADS)
    size = init.json["fileSize"]
    assert init.json == {"fileName": "Rock.glb", "contentType": "model/gltf-binary", "fileSize": size,
                         "parts": 1, "kind": "3d"}  # fmt: skip
    put = _only(emu, "PUT", r"^/multipart/")
    assert put.server == "cdn" and len(put.body) == size
    assert not {"authorization", "content-md5"} & set(put.headers)
    assert not any(h.startswith("x-amz-checksum") for h in put.headers)
    sent = addon.formats.glb.read_glb(put.body)
    assert len(np.unique(sent["verts"], axis=0)) == len(rock.data.vertices)
    assert len(sent["face_sizes"]) == len(rock.data.polygons)
    assert _only(emu, "POST", r"^/v1/uploads/[^/]+/action$").json == {"action": "complete"}
    generate = _only(emu, "POST", GENERATE)
    asset_id = generate.json["model"]
    assert emu.assets[asset_id]["source"] == put.path.split("/")[2], "the uploaded asset is the model"
    assert generate.json == {"model": asset_id, "quad": False, "bake": True, "faceLimit": 3000}

    api = [r for r in emu.requests if r.server == "api"]
    assert all(r.headers.get("authorization") == BASIC for r in api)
    cdn = [r for r in emu.requests if r.server == "cdn"]
    assert [r.method for r in cdn] == ["PUT", "GET"]
    assert Path(record.work_dir, "tripo_1.glb").is_file()


def test_large_mesh_goes_up_in_7_mib_parts(scenario, addon):
    emu = scenario()
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=520, y_subdivisions=520, size=4)
    grid = bpy.context.active_object
    grid.name = "Terrain"
    _tripo(grid, target_faces=20000, quads=False, tripo_bake=False)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    init = _only(emu, "POST", UPLOADS)
    size, parts = init.json["fileSize"], init.json["parts"]
    assert parts == math.ceil(size / (7 << 20)) >= 2
    puts = sorted((r for r in emu.requests if r.method == "PUT"), key=lambda r: int(r.path.rsplit("/", 1)[1]))
    assert [int(r.path.rsplit("/", 1)[1]) for r in puts] == list(range(1, parts + 1))
    assert all(len(r.body) == 7 << 20 for r in puts[:-1]) and 0 < len(puts[-1].body) <= 7 << 20
    assert glb_stats(b"".join(r.body for r in puts)).triangles == 2 * len(grid.data.polygons)
    assert _only(emu, "POST", GENERATE).json["faceLimit"] == 20000
    assert "Terrain_retopo" in bpy.data.objects


def _sample_obj(tmp_path: Path) -> Path:
    ico_sphere("Sample", subdivisions=3, location=(0, 0, 0))
    path = tmp_path / "sample.obj"
    bpy.ops.wm.obj_export(filepath=str(path), export_selected_objects=True, export_materials=False)
    return path


def test_cli_quads_without_bake_brings_back_fbx(scenario, addon, tmp_path, capsys, monkeypatch):
    # A generic MIME type: the provider must fall back on the URL's extension to know it is FBX.
    emu = scenario(fbx_bytes=low_poly_fbx(), fbx_mime="application/octet-stream")
    sample = _sample_obj(tmp_path)
    reset(addon)  # the preferences stay empty: everything comes from the environment
    monkeypatch.setenv("SCENARIO_SDK_API_KEY", KEY)
    monkeypatch.setenv("SCENARIO_SDK_API_SECRET", SECRET)
    monkeypatch.setenv("SCENARIO_BASE_URL", emu.base_url)
    monkeypatch.setenv("RETOPO_HUB_TIME_SCALE", "0.01")
    cache = tmp_path / "cache"
    files = [sample, "--out", tmp_path / "out", "--cache", cache]
    base = [*files, "--provider", "tripo", "--online-mode", "--json"]

    code = addon.jobs.cli.main([str(a) for a in [*base, "--faces", 3000, "--no-tripo-bake", "--quads"]])
    out, err = capsys.readouterr()
    assert code == 0, err
    (result,) = json.loads(out.strip().splitlines()[-1])["results"]
    (output,) = result["outputs"]
    assert Path(output["path"]).name == "sample_retopo.obj" and output["quads"] > 200
    generate = _only(emu, "POST", GENERATE)
    assert generate.json == {"model": generate.json["model"], "quad": True, "bake": False, "faceLimit": 3000}
    fbx = cache / f"tripo-{result['job_id']}" / "tripo_1.fbx"
    assert fbx.read_bytes().startswith(b"Kaydara FBX Binary")

    code = addon.jobs.cli.main([str(a) for a in [*base, "--no-quads"]])  # no --faces: adaptive
    _, err = capsys.readouterr()
    assert code == 0, err
    assert len(emu.submissions) == 2 and emu.submissions[1]["faceLimit"] is None
    last = [r for r in emu.requests if r.method == "POST" and "generate" in r.path][-1]
    assert "faceLimit" not in last.json

    monkeypatch.delenv("SCENARIO_SDK_API_SECRET")
    sent = len(emu.requests)
    code = addon.jobs.cli.main([str(a) for a in base])
    _, err = capsys.readouterr()
    assert code == 1
    (line,) = [ln for ln in err.splitlines() if ln.startswith("retopo-hub: sample.obj:")]
    assert "SCENARIO_SDK_API_SECRET" in line and "Preferences" in line
    assert len(emu.requests) == sent, "nothing may be sent without credentials"


def test_refusals_before_anything_is_sent(scenario, addon, tmp_path):
    emu = scenario()
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=5000)
    configure(addon, "tripo", emu.base_url, api_key=KEY, api_secret="")
    message = _submit_fails("no Scenario credentials")
    assert "SCENARIO_SDK_API_KEY" in message and "Preferences > Add-ons > Retopo Hub" in message

    configure(addon, "tripo", emu.base_url, api_key=KEY, api_secret=SECRET)
    bpy.context.preferences.system.use_online_access = False
    assert "--online-mode" in _submit_fails("Allow Online Access")
    bpy.context.preferences.system.use_online_access = True

    # The panel's own range check (core/options.py) ...
    _tripo(rock, target_faces=20001, quads=False)
    _submit_fails(r"between 500 and 20000 \(got 20001\)")
    _tripo(rock, target_faces=10001, quads=True)
    _submit_fails(r"between 500 and 10000 \(got 10001\)")
    # ... and the provider's own, for specs built some other way (attach, scripts).
    core = addon.core
    snap = core.jobs.MeshSnapshot(
        np.eye(3, dtype=np.float32), np.array([3], np.int32), np.arange(3, dtype=np.int32)
    )
    for faces, quads, bounds in (
        (20001, False, "500 and 20000"),
        (10001, True, "500 and 10000"),
        (499, False, ""),
    ):
        spec = core.jobs.JobSpec(
            job_id="direct", provider="tripo", source_name="Tri", work_dir=str(tmp_path / "direct"),
            options=core.jobs.freeze({"target_faces": faces, "quads": quads}), snapshot=snap,
            credentials=core.jobs.Credentials({"api_key": KEY, "api_secret": SECRET}),
            base_url=emu.base_url, online=True,
        )  # fmt: skip
        ctx = worker_module(addon, "worker.runner").WorkerContext(
            "direct", threading.Event(), lambda _e: None, time.monotonic() + 30
        )
        with pytest.raises(core.errors.InputError, match=f"must be a whole number between {bounds}"):
            worker_module(addon, "providers.tripo").TripoProvider().run(spec, ctx)
    assert emu.requests == [], "nothing may reach the service"


@pytest.mark.parametrize("status", ["failure", "failed"])
def test_failed_job_reports_the_reason_and_imports_nothing(scenario, status):
    emu = scenario(failure_status=status)
    emu.fail_next_job("Model has too many disconnected parts")
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=3000)
    _submit_fails("Model has too many disconnected parts")
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "failed" and not record.imported and record.remote_id in record.message
    assert "Rock_RetopoHub" not in bpy.data.collections
    assert emu.count("GET", r"^/v1/assets/") == 0


def test_wrong_secret_is_reported_as_a_key_problem(scenario, addon):
    emu = scenario()
    configure(addon, "tripo", emu.base_url, api_key=KEY, api_secret="wrong-secret-000")
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=3000)
    message = _submit_fails("Scenario refused the API key")
    assert "SCENARIO_SDK_API_KEY" in message and "wrong-secret-000" not in message
    assert len(emu.requests) == 1, "a refused key is not retried and nothing is uploaded"


def test_rate_limited_generate_is_retried_and_creates_one_job(scenario):
    emu = scenario(job_id_field="id")  # the quick-start's {"job": {"id": ...}} shape
    details = {"actionName": "model_run", "actionLimit": 5}
    emu.inject("POST", GENERATE, "status", status=429, body={"message": "Too many jobs", "details": details})
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=3000)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    # The 429 met the free quote, which is asked again; then the one paid run.
    assert emu.count("POST", GENERATE) == 3 and emu.quotes == 1 and len(emu.submissions) == 1
    assert emu.count("POST", UPLOADS) == 1 and emu.count("PUT", "^/multipart/") == 1
    assert bpy.context.scene.retopo_hub.jobs[-1].remote_id == emu.submissions[0]["id"]
    assert "Rock_retopo" in bpy.data.objects


def test_server_error_on_generate_is_not_retried(scenario):
    emu = scenario()
    emu.inject("POST", GENERATE, "status", status=500, times=None)
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=3000)
    message = _submit_fails("Scenario had an internal error")
    assert "HTTP 500" in message and "may have been created anyway" in message
    assert emu.count("POST", GENERATE) == 1 and not emu.submissions
    assert "Rock_RetopoHub" not in bpy.data.collections


def test_result_type_comes_from_mime_then_url(addon):
    ext = worker_module(addon, "providers.tripo")._extension
    assert ext("model/gltf-binary", "https://cdn.example.com/a") == "glb"
    assert ext("model/fbx", "https://cdn.example.com/a.glb") == "fbx"
    assert ext("application/octet-stream", "https://cdn.example.com/r.FBX?Expires=1&Signature=x") == "fbx"
    assert ext("", "https://cdn.example.com/asset") is None  # downloaded as .bin, then sniffed


def test_the_source_color_texture_travels_with_the_upload(scenario, addon, tmp_path):
    """Tripo bakes textures onto the low-poly mesh: the PNG base color of the source goes into the GLB."""
    emu = scenario()
    rock = ico_sphere("Rock", subdivisions=3)
    bpy.ops.mesh.uv_texture_add()
    image = bpy.data.images.new("rock_color", 4, 4)
    image.filepath_raw = str(tmp_path / "rock_color.png")
    image.file_format = "PNG"
    image.save()
    material = bpy.data.materials.new("RockPaint")
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    tex = material.node_tree.nodes.new("ShaderNodeTexImage")
    tex.image = image
    bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    material.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    rock.data.materials.append(material)
    _tripo(rock, target_faces=1000, quads=False, tripo_bake=True)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    glb = _only(emu, "PUT", r"^/multipart/").body
    png = (tmp_path / "rock_color.png").read_bytes()
    assert png in glb, "the base color PNG is embedded in the uploaded GLB"


def test_a_401_that_echoes_the_key_and_secret_shows_neither(scenario, addon):
    """Scenario's 401 body can echo what it was sent: the message, the record and the log blank both."""
    emu = scenario()
    echo = {"message": f"Invalid credentials {KEY}:{SECRET}", "details": {"key": KEY, "secret": SECRET}}
    emu.inject("POST", UPLOADS, "status", status=401, body=echo)
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=3000)
    _submit_fails("Scenario refused the API key")  # asserts neither value is in it
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert KEY not in record.message and SECRET not in record.message


@pytest.mark.parametrize("status", ["expired", "aborted"])
def test_an_undocumented_final_status_ends_the_job_at_once(scenario, status):
    """Real services send statuses they do not document ("canceled" is already a failure here); one that
    does not mean "running" ends the job."""
    emu = scenario()
    emu.inject("GET", r"^/v1/jobs/", "status", status=200, times=None,
               body={"job": {"jobId": "job-x", "status": status, "progress": 0.2}})  # fmt: skip
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=3000)
    started = time.monotonic()
    message = _submit_fails(f"reported the job as '{status}'")
    assert time.monotonic() - started < 20, "it must not wait out the deadline"
    assert "submit again" in message


def test_a_key_pasted_with_smart_quotes_is_refused_in_one_line(scenario, addon):
    emu = scenario()
    configure(addon, "tripo", emu.base_url, api_key=f"\u2018{KEY}\u2019", api_secret=SECRET)
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=3000)
    message = _submit_fails("Scenario API Key has a character no key has")
    assert "SCENARIO_SDK_API_KEY" in message and "\u2018" not in message
    assert emu.requests == [], "nothing is sent"


def test_a_quote_above_the_limit_fails_headless_before_anything_is_paid(scenario, addon, tmp_path, capsys):
    emu = scenario(quote_cost=80)  # the preferences' limit is 50 credits out of the box
    rock = ico_sphere("Rock")
    _tripo(rock, target_faces=3000)
    message = _submit_fails("Scenario quotes 80 credits for this job, above your limit of 50")
    assert "--max-cost" in message and not emu.submissions and emu.quotes == 1
    sample = tmp_path / "rock.obj"
    bpy.ops.wm.obj_export(filepath=str(sample), export_selected_objects=True, export_materials=False)
    base = [str(a) for a in [sample, "--out", tmp_path / "out", "--provider", "tripo", "--online-mode",
                             "--faces", 3000, "--cache", tmp_path / "c"]]  # fmt: skip
    capsys.readouterr()
    assert addon.jobs.cli.main([*base, "--max-cost", "10"]) == 1
    assert "above your limit of 10" in capsys.readouterr().err and not emu.submissions
    assert addon.jobs.cli.main([*base, "--max-cost", "100"]) == 0
    assert len(emu.submissions) == 1
    assert addon.jobs.cli.main([*base, "--max-cost", "-1"]) == 2


def test_in_blender_a_quote_above_the_limit_waits_for_accept(scenario, addon):
    """A click: the jobs wait with their quotes, nothing is paid until Accept; a batch accepts at once, and a
    cancelled wait costs nothing."""
    from tests.support.layout import draw_panel

    emu = scenario(quote_cost=80)
    rocks = [ico_sphere(f"Rock{i}", location=(3.0 * i, 0, 0)) for i in range(3)]
    for rock in rocks:
        _tripo(rock, target_faces=3000)
    engine = addon.jobs
    job_ids = engine.submit.submit_objects(bpy.context, rocks, interactive=True)
    records = engine.records

    def waiting() -> list:
        return [j for j in job_ids if records.awaiting_quote(records.find(j)) is not None]

    end = time.monotonic() + 120
    while len(waiting()) < 3:
        assert time.monotonic() < end, [(r.state, r.message) for r in map(records.find, job_ids)]
        engine.step.step(bpy.context.scene)
        engine.session.worker_host().wait_for_event(0.05)
    assert not emu.submissions and emu.quotes == 3, "nothing is paid before Accept"
    assert records.awaiting_quote(records.find(job_ids[0])) == 80.0
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    assert ("operator_prop", "retopo_hub.accept_quote", "job_id", "") in log, "Accept All for the batch"
    labels = [e for e in log if e[0] == "operator" and e[1] == "retopo_hub.accept_quote"]
    assert len(labels) == 4  # one per job, and Accept All
    assert bpy.ops.retopo_hub.cancel_job(job_id=job_ids[2]) == {"FINISHED"}
    assert bpy.ops.retopo_hub.accept_quote(job_id="") == {"FINISHED"}
    done = engine.step.run_blocking(job_ids)
    assert [r.state for r in done] == ["done", "done", "cancelled"]
    assert len(emu.submissions) == 2, "the cancelled job was never paid"
