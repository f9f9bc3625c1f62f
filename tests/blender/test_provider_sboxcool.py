# SPDX-License-Identifier: GPL-3.0-or-later
"""The sboxcool provider end to end in real Blender against the local sboxcool emulator.

Operator and CLI -> worker -> multipart upload -> polls -> key-less downloads -> LoD objects, .vmdl and
PBR maps; bone mappings, the 5-job limit and 429s, and every refusal that must happen before any upload.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import bpy
import pytest
import requests
from emulators import SboxcoolEmulator, assets
from emulators.remote import Remote

from tests.support.cloud import configure, reset, serving, worker_module
from tests.support.scene import fingerprint, ico_sphere, scene_state

KEY = "sbox_tk_emulated_secret_42"
SUBMIT = r"^/api/tools/model$"
BONES = [f"mixamorig:Bone{i}" for i in range(65)]


@pytest.fixture
def emu(addon, blank):
    with Remote(SboxcoolEmulator, KEY) as emulator, serving(addon, "sboxcool", emulator, api_key=KEY):
        yield emulator
        assert not emulator.credential_leaks(), "the key must never reach a temp download link"


def _posts(emu: SboxcoolEmulator) -> list:
    return [r for r in emu.requests if r.method == "POST" and r.path == "/api/tools/model"]


def _accepted_form(emu: SboxcoolEmulator) -> dict[str, str]:
    (post,) = [r for r in _posts(emu) if r.status == 202][-1:]
    return post.form


def _sboxcool(obj, *, fmt: str = "obj", **settings) -> None:
    obj.retopo_hub.provider = "sboxcool"
    obj.retopo_hub.sbox_format = fmt
    for name, value in settings.items():
        setattr(obj.retopo_hub, name, value)


def _paint(obj, tmp_path: Path, material: str = "CratePaint") -> Path:
    """A material whose Principled BSDF Base Color is fed by an Image Texture of a PNG on disk."""
    png = tmp_path / f"{material.replace(' ', '_')}.png"
    png.write_bytes(assets.base_color_png(16))
    mat = bpy.data.materials.new(material)
    if bpy.app.version < (5, 0, 0):  # node trees are always on from 5.0, where use_nodes is deprecated
        mat.use_nodes = True
    nodes = mat.node_tree.nodes
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(str(png))
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    obj.data.materials.append(mat)
    return png


def _engine(addon):
    return addon.jobs


def _run(addon, objects, options=None):
    engine = _engine(addon)
    kw = {} if options is None else {"provider": "sboxcool", "options": options}
    job_ids = engine.submit.submit_objects(bpy.context, objects, **kw)
    return engine.step.run_blocking(job_ids)


def _options(**overrides) -> dict:
    options = {"sbox_format": "obj", "sbox_pipeline": "standard", "sbox_ratio": 0.5, "lod_levels": 0}
    return options | overrides


# -- operator end to end ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["obj", "fbx"])
def test_operator_builds_lods_vmdl_and_pbr(emu, addon, tmp_path, fmt):
    crate = ico_sphere("Crate", subdivisions=4)
    png = _paint(crate, tmp_path)
    bpy.context.view_layer.update()  # matrix_world is stale until the depsgraph evaluates the new transform
    before = fingerprint(crate)
    _sboxcool(crate, fmt=fmt, lod_levels=2, sbox_pipeline="source1", sbox_ratio=0.3, sbox_generate_pbr=True)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    assert fingerprint(crate) == before, "the source must never be modified"
    coll = bpy.data.collections["Crate_RetopoHub"]
    results = {o.name: o for o in coll.objects}
    assert set(results) == {"Crate_retopo", "Crate_LOD1", "Crate_LOD2"}
    thresholds = [
        results[n]["retopo_hub_switch_threshold"] for n in ("Crate_retopo", "Crate_LOD1", "Crate_LOD2")
    ]
    assert thresholds == [0.0, 25.0, 50.0]
    assert [results[n]["retopo_hub_lod"] for n in ("Crate_retopo", "Crate_LOD1", "Crate_LOD2")] == [0, 1, 2]
    assert all(len(o.data.polygons) > 0 for o in results.values())

    record = bpy.context.scene.retopo_hub.jobs[-1]
    (job_id,) = emu.jobs
    assert record.state == "done" and record.remote_id == job_id
    details = json.loads(record.details_json)["sboxcool"]
    original = len(crate.data.polygons) if fmt == "obj" else emu.default_original_faces  # it cannot read FBX
    assert details == {"originalFaces": original, "resultFaces": round(original * 0.3)}
    work = Path(record.work_dir)
    assert sorted(p.name for p in work.glob("sbox_lod*.glb")) == [f"sbox_lod{i}.glb" for i in range(3)]
    vmdl = work / "Crate.vmdl"
    lods = addon.formats.vmdl.parse_vmdl_lods(vmdl.read_text("utf-8"))
    assert [t for _name, t, _file in lods] == [0.0, 25.0, 50.0]
    pbr = sorted(p.name for p in (work / "pbr").iterdir())
    assert pbr == ["CratePaint_ao.png", "CratePaint_normal.png", "CratePaint_roughness.png"]
    assert not list(work.glob("*.part")) and not (work / "sbox_pbr_textures.zip").exists()
    # The PBR maps were wired into the result's material by the importer.
    images = {Path(n.image.filepath).name for m in results["Crate_retopo"].data.materials if m and m.node_tree
              for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image}  # fmt: skip
    assert "CratePaint_normal.png" in images

    form = _accepted_form(emu)
    assert form == {
        "format": fmt, "pipeline": "source1", "ratio": "0.3", "lodLevels": "2", "lodFinalRatio": "0.15",
        "lodMaxThreshold": "50", "generatePbr": "true", "pbrNormalStrength": "1.5", "pbrRoughnessBase": "180",
        "pbrAoStrength": "0.3", "skipBoneMapping": "true", "useMostPopularBoneMapping": "false",
        "autoMatchThreshold": "80", "skeletonTarget": "citizen",
    }  # fmt: skip
    (post,) = _posts(emu)
    name, data = post.files["file"]
    assert name == f"Crate.{fmt}"
    if fmt == "fbx":
        assert data.startswith(b"Kaydara FBX Binary")
    else:
        assert assets.obj_face_count(data) == len(crate.data.polygons) and b"\nvt " in data
    assert post.files["tex_CratePaint_color"] == (png.name, png.read_bytes())
    api = [r for r in emu.requests if not r.path.startswith("/uploads/temp/")]
    assert api and all(r.headers.get("authorization") == f"Bearer {KEY}" for r in api)
    downloads = [r for r in emu.requests if r.path.startswith("/uploads/temp/")]
    assert len(downloads) == 5 and not any("authorization" in r.headers for r in downloads)


def test_texture_fields_and_pbr_strengths(emu, addon, tmp_path):
    crate = ico_sphere("Crate", subdivisions=2)
    png = _paint(crate, tmp_path, material="Crate Paint.001")
    gone = _paint(crate, tmp_path, material="Lost")
    gone.unlink()  # a texture that vanished from disk is skipped, not fatal
    options = _options(sbox_generate_pbr=True, sbox_pbr_normal_strength=2.5, sbox_pbr_roughness_base=120,
                       sbox_pbr_ao_strength=0.75)  # fmt: skip
    (record,) = _run(addon, [crate], options)
    assert record.state == "done", record.message
    (post,) = _posts(emu)
    assert sorted(k for k in post.files if k.startswith("tex_")) == ["tex_Crate_Paint_001_color"]
    assert post.files["tex_Crate_Paint_001_color"][1] == png.read_bytes()
    form = post.form
    assert (form["pbrNormalStrength"], form["pbrRoughnessBase"], form["pbrAoStrength"]) == (
        "2.5",
        "120",
        "0.75",
    )
    assert (Path(record.work_dir) / "pbr" / "Crate_Paint_001_normal.png").is_file()
    # Without generatePbr the strengths are not sent and no PBR maps come back.
    (plain,) = _run(addon, [crate], _options())
    assert plain.state == "done"
    assert "pbrNormalStrength" not in _posts(emu)[-1].form and not (Path(plain.work_dir) / "pbr").exists()


# -- CLI -------------------------------------------------------------------------------------------


def test_cli_with_environment_credentials(emu, addon, tmp_path, capsys, monkeypatch):
    reset(addon)  # preferences empty: the key and URL must come from the environment
    monkeypatch.setenv("SBOXCOOL_API_KEY", KEY)
    monkeypatch.setenv("SBOXCOOL_BASE_URL", emu.base_url)
    monkeypatch.setenv("RETOPO_HUB_TIME_SCALE", "0.01")
    ico_sphere("Sample", subdivisions=3, location=(0, 0, 0))
    sample = tmp_path / "sample.obj"
    bpy.ops.wm.obj_export(filepath=str(sample), export_selected_objects=True, export_materials=False)
    out = tmp_path / "out"
    argv = [sample, "--out", out, "--provider", "sboxcool", "--lods", "2", "--ratio", "0.3", "--pipeline",
            "source1", "--format", "obj", "--online-mode", "--json"]  # fmt: skip
    code = addon.jobs.cli.main([str(a) for a in argv])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    (result,) = json.loads(stdout.strip().splitlines()[-1])["results"]
    outputs = {Path(o["path"]).name: o for o in result["outputs"]}
    assert set(outputs) == {"sample_retopo.obj", "sample_LOD1.obj", "sample_LOD2.obj"}
    assert [outputs[f"sample_{n}.obj"]["switch_threshold"] for n in ("retopo", "LOD1", "LOD2")] == [0, 25, 50]
    assert all((out / name).stat().st_size > 0 for name in outputs)
    assert result["vmdl"] == str(out / "sample.vmdl") and "LODGroupList" in (out / "sample.vmdl").read_text()
    work = Path(_engine(addon).records.find(result["job_id"]).work_dir)
    assert [p.name for p in work.glob("*.vmdl")] == ["Sample.vmdl"]  # named after the imported object
    assert _accepted_form(emu)["ratio"] == "0.3" and _accepted_form(emu)["lodLevels"] == "2"
    assert KEY not in stdout + stderr


# -- bone mapping ----------------------------------------------------------------------------------


def test_mapping_required_then_resubmit_with_a_mapping(emu, addon):
    emu.rig_bones = list(BONES)
    rig = ico_sphere("Rig", subdivisions=2)
    rig.modifiers.new("Armature", "ARMATURE")  # what marks a snapshot as rigged
    _sboxcool(rig)
    with pytest.raises(RuntimeError, match="no bone mapping was selected"):
        bpy.ops.retopo_hub.submit()
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "failed"
    assert record.message == (
        "the model has 65 bones but no bone mapping was selected: pick one of the suggested mappings in the "
        "panel or pass --mapping-id / --most-popular-mapping / --skip-bone-mapping"
    )
    mappings = json.loads(record.details_json)["mappings"]
    assert [m["publicId"] for m in mappings] == ["map_abc123xyz", "map_def456uvw"]
    assert mappings[0] == {"publicId": "map_abc123xyz", "name": "Mixamo to Citizen", "author": "username",
                           "matchPercent": 72, "upvotes": 42, "downvotes": 2}  # fmt: skip
    assert _accepted_form(emu)["skipBoneMapping"] == "false" and "mappingId" not in _accepted_form(emu)
    assert "Rig_retopo" not in bpy.data.objects

    # The panel's "Use" button: resubmit with the chosen mapping.
    assert bpy.ops.retopo_hub.use_mapping(job_id=record.job_id, mapping_id="map_abc123xyz") == {"FINISHED"}
    assert bpy.context.scene.retopo_hub.jobs[-1].state == "done"
    assert "Rig_retopo" in bpy.data.objects
    assert _accepted_form(emu)["mappingId"] == "map_abc123xyz"


def test_cli_prints_mappings_and_exits_1(emu, addon, tmp_path, capsys):
    emu.rig_bones = list(BONES)
    # A .blend whose mesh is deformed by an armature, so the CLI's object is rigged.
    bpy.ops.object.armature_add()
    arm = bpy.context.active_object
    body = ico_sphere("Body", subdivisions=2, location=(0, 0, 0))
    body.modifiers.new("Armature", "ARMATURE").object = arm
    rigged = tmp_path / "rigged.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(rigged))
    argv = [str(rigged), "--out", str(tmp_path / "out"), "--provider", "sboxcool", "--format", "obj",
            "--online-mode", "--object", "Body"]  # fmt: skip
    code = addon.jobs.cli.main(argv)
    _stdout, stderr = capsys.readouterr()
    assert code == 1
    assert "no bone mapping was selected" in stderr
    assert "map_abc123xyz" in stderr and "map_def456uvw" in stderr


def test_attach_polls_a_job_by_its_id(emu, addon):
    """A job created elsewhere (or timed out here) is attached by its jobId: no statusUrl is known."""
    text, _faces = assets.sphere_obj(600)
    form = {"format": "obj", "pipeline": "source1", "lodLevels": "1", "skipBoneMapping": "true"}
    reply = requests.post(f"{emu.base_url}/api/tools/model", data=form, files={"file": ("a.obj", text)},
                          headers={"Authorization": f"Bearer {KEY}"}, timeout=10)  # fmt: skip
    remote_id = reply.json()["jobId"]
    crate = ico_sphere("Crate", subdivisions=1)
    job_id = addon.jobs.resume.attach(bpy.context.scene, "sboxcool", remote_id, crate, _options(lod_levels=1))
    (record,) = _engine(addon).step.run_blocking([job_id])
    assert record.state == "done", record.message
    assert len(_posts(emu)) == 1, "attaching never submits again"
    assert {"Crate_retopo", "Crate_LOD1"} <= set(bpy.data.objects.keys())
    assert bpy.data.objects["Crate_LOD1"]["retopo_hub_switch_threshold"] == 50.0


# -- concurrency and 429 ---------------------------------------------------------------------------


def _max_overlap(emu: SboxcoolEmulator) -> int:
    """Most jobs active at once on the emulator (a job counts from creation until its terminal poll)."""
    edges = []
    for job in emu.jobs.values():
        assert job.done
        edges += [(job.created, 1), (job.updated, -1)]
    active = peak = 0
    for _when, change in sorted(edges, key=lambda e: (e[0], e[1])):  # ends before starts at equal times
        active += change
        peak = max(peak, active)
    return peak


def test_seven_objects_never_exceed_five_jobs(emu, addon):
    objects = [ico_sphere(f"Box{i}", subdivisions=2, location=(3 * i, 0, 0)) for i in range(7)]
    records = _run(addon, objects, _options())
    assert [r.state for r in records] == ["done"] * 7, [r.message for r in records]
    assert all(f"Box{i}_retopo" in bpy.data.objects for i in range(7))
    assert len(emu.jobs) == 7 and len(emu.submissions) == 7
    assert _max_overlap(emu) <= 5
    assert not [r for r in _posts(emu) if r.status == 429], "the runner itself keeps sboxcool at 5 jobs"


def test_a_429_on_submit_is_waited_out(emu, addon, capfd):
    # More 429s than HttpClient's own retries (4), so the provider's wait-for-a-slot loop takes over.
    emu.inject("POST", SUBMIT, "status", status=429, times=6, body={"error": "Too many concurrent jobs"})
    # A throttled status check is no failure either: the job is still running remotely.
    emu.inject(
        "GET", r"^/api/tools/model/", "status", status=429, times=6, body={"error": "Rate limit exceeded"}
    )
    crate = ico_sphere("Crate", subdivisions=2)
    (record,) = _run(addon, [crate], _options())
    assert record.state == "done", record.message
    assert len(_posts(emu)) == 7 and len(emu.submissions) == 1 and len(emu.jobs) == 1
    assert emu.count("GET", r"^/api/tools/model/") >= 6 + 4  # every refused poll plus the job's 4 steps
    assert "refused the submit" in capfd.readouterr().err  # the worker host logs to Blender's console
    assert "Crate_retopo" in bpy.data.objects


def test_no_free_slot_before_the_deadline(emu, addon, tmp_path):
    emu.inject("POST", SUBMIT, "status", status=429, times=None, body={"error": "Too many concurrent jobs"})
    spec, ctx, events = _direct_spec(addon, emu, tmp_path, _options(), snapshot=_snapshot(addon))
    ctx.deadline = time.monotonic() + 1.0
    with pytest.raises(addon.core.errors.RateLimitError, match="no free job slot before the deadline"):
        worker_module(addon, "providers.sboxcool").SboxcoolProvider().run(spec, ctx)
    assert not emu.jobs and len(_posts(emu)) > 5
    assert any(e.message and "waiting for a free sboxcool slot" in e.message for e in events)


def _snapshot(addon):
    crate = ico_sphere("Crate", subdivisions=1)
    return addon.blender_io.mesh_arrays.snapshot_object(crate, with_uvs=True)


def test_slots_taken_elsewhere_queue_the_jobs(emu, addon):
    emu.max_concurrent = 2  # e.g. the web importer holds the other slots of the account
    objects = [ico_sphere(f"Crate{i}", subdivisions=2, location=(3 * i, 0, 0)) for i in range(4)]
    records = _run(addon, objects, _options())
    assert [r.state for r in records] == ["done"] * 4, [r.message for r in records]
    assert len(emu.jobs) == 4 and _max_overlap(emu) <= 2
    assert all(f"Crate{i}_retopo" in bpy.data.objects for i in range(4))


# -- refusals and failures -------------------------------------------------------------------------

# The one message format of core.options: label, accepted range, the value given.
BAD_OPTIONS = [
    ("sbox_ratio", 0.005, r"sboxcool ratio must be between 0\.01 and 1 \(got 0\.005\)"),
    ("lod_levels", 6, r"LoD Levels must be a whole number between 0 and 5 \(got 6\)"),
    ("lod_final_ratio", 0.0005, r"Final LoD Ratio must be between 0\.001 and 1 \(got 0\.0005\)"),
    ("lod_max_threshold", 600.0, r"Max Switch Distance must be between 1 and 500 \(got 600\.0\)"),
    ("sbox_pbr_normal_strength", 4.5, r"PBR normal strength must be between 0\.5 and 4 \(got 4\.5\)"),
    (
        "sbox_pbr_roughness_base",
        99,
        r"PBR roughness base must be a whole number between 100 and 240 \(got 99\)",
    ),
    ("sbox_pbr_ao_strength", 1.5, r"PBR AO strength must be between 0 and 1 \(got 1\.5\)"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_OPTIONS, ids=[c[0] for c in BAD_OPTIONS])
def test_out_of_range_options_are_refused_before_upload(emu, addon, tmp_path, key, value, message):
    crate = ico_sphere("Crate", subdivisions=1)
    before, jobs = scene_state(), len(bpy.context.scene.retopo_hub.jobs)
    options = _options(sbox_generate_pbr=True, **{key: value})
    with pytest.raises(addon.core.errors.InputError, match=message):
        _engine(addon).submit.submit_objects(bpy.context, [crate], provider="sboxcool", options=options)
    assert scene_state() == before and len(bpy.context.scene.retopo_hub.jobs) == jobs
    # The provider checks again itself (scripts, resumed specs): still nothing is sent.
    spec, ctx, _events = _direct_spec(addon, emu, tmp_path, options)
    with pytest.raises(addon.core.errors.InputError, match=message):
        worker_module(addon, "providers.sboxcool").SboxcoolProvider().run(spec, ctx)
    assert not emu.requests


def _direct_spec(addon, emu, tmp_path: Path, options: dict, *, input_file: str | None = None, snapshot=None):
    """A worker-side spec and context, for driving the provider without Blender's job engine."""
    jobs, runner = addon.core.jobs, worker_module(addon, "worker.runner")
    events: list = []
    spec = jobs.JobSpec(
        job_id="direct", provider="sboxcool", source_name="Crate", options=jobs.freeze(options),
        work_dir=str(tmp_path / "work"), snapshot=snapshot, input_file=input_file,
        credentials=jobs.Credentials({"api_key": KEY}), base_url=emu.base_url, online=True,
    )  # fmt: skip
    ctx = runner.WorkerContext("direct", threading.Event(), events.append, time.monotonic() + 30)
    return spec, ctx, events


def test_uploads_over_the_limit_are_refused(emu, addon, tmp_path, monkeypatch):
    # The documented 100 MB limit, checked before anything is sent (a sparse file costs no disk).
    big = tmp_path / "huge.fbx"
    with big.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024 + 1)
    spec, ctx, _ = _direct_spec(addon, emu, tmp_path, _options(sbox_format="fbx"), input_file=str(big))
    with pytest.raises(addon.core.errors.InputError, match=r"is 100 MB, over sboxcool's 100 MB limit"):
        worker_module(addon, "providers.sboxcool").SboxcoolProvider().run(spec, ctx)
    assert not emu.requests

    # In the real job flow the provider runs in the worker host process, where a lowered limit cannot be
    # patched in; the direct call above covers our own check, the emulator's refusal below the flow.
    crate = ico_sphere("Crate", subdivisions=2)
    bpy.context.view_layer.update()
    before = fingerprint(crate)

    # The service's own refusal (its limit is lower than ours): a clear error, no job, nothing imported.
    emu.max_upload_bytes = 1000
    (record,) = _run(addon, [crate], _options())
    assert record.state == "failed" and "File too large" in record.message, record.message
    assert not emu.jobs and not record.remote_id and "Crate_retopo" not in bpy.data.objects
    assert fingerprint(crate) == before


def test_expired_links_fail_cleanly(emu, addon):
    crate = ico_sphere("Crate", subdivisions=2)
    engine = _engine(addon)
    job_ids = engine.submit.submit_objects(bpy.context, [crate], provider="sboxcool",
                                    options=_options(lod_levels=1, sbox_pipeline="source1"))  # fmt: skip
    emu.expire_links()  # the links are gone by the time the job is done
    (record,) = engine.step.run_blocking(job_ids)
    assert record.state == "failed" and record.message == "the result expired; submit again"
    assert record.remote_id in emu.jobs
    assert not [
        p for p in Path(record.work_dir).iterdir() if p.name.startswith("sbox_") or p.suffix == ".vmdl"
    ]
    assert "Crate_retopo" not in bpy.data.objects


def test_wrong_key_and_service_errors(emu, addon):
    crate = ico_sphere("Crate", subdivisions=2)
    configure(addon, "sboxcool", emu.base_url, api_key="sbox_tk_wrong_key_0000")
    (record,) = _run(addon, [crate], _options())
    assert record.state == "failed"
    assert "sboxcool refused the API key" in record.message and "SBOXCOOL_API_KEY" in record.message
    assert "sbox_tk_wrong_key_0000" not in record.message and not emu.jobs

    configure(addon, "sboxcool", emu.base_url, api_key=KEY)
    emu.fail_next_job("Failed to import model: broken FBX")
    (record,) = _run(addon, [crate], _options())
    assert record.state == "failed" and "Failed to import model: broken FBX" in record.message
    assert record.remote_id in record.message  # the id to quote when asking sboxcool
    assert "Crate_retopo" not in bpy.data.objects


def test_no_key_is_a_config_error(emu, addon, monkeypatch):
    monkeypatch.delenv("SBOXCOOL_API_KEY", raising=False)
    crate = ico_sphere("Crate", subdivisions=1)
    configure(addon, "sboxcool", emu.base_url)
    with pytest.raises(addon.core.errors.InputError, match="no sboxcool credentials"):
        _run(addon, [crate], _options())
    assert len(bpy.context.scene.retopo_hub.jobs) == 0, "refused before any job exists"
    assert not emu.requests and os.environ.get("SBOXCOOL_API_KEY") is None


@pytest.mark.parametrize("status", ["canceled", "cancelled"])
def test_an_undocumented_final_status_ends_the_job_at_once(emu, addon, status):
    """sboxcool documents queued/running/done/error; "cancelled" ends the job with that word, at once."""
    emu.inject("GET", r"/tools/model/", "status", status=200, times=None,
               body={"status": status, "progress": ["stopped"]})  # fmt: skip
    crate = ico_sphere("Crate", subdivisions=2)
    started = time.monotonic()
    (record,) = _run(addon, [crate], _options())
    assert record.state == "failed" and f"reported the job as '{status}'" in record.message, record.message
    assert time.monotonic() - started < 20
    assert "Crate_retopo" not in bpy.data.objects


def test_a_refused_pbr_archive_keeps_the_paid_lods(emu, addon, tmp_path):
    """One bad PBR zip costs the maps only: the LoD meshes are imported and the job says why in a warning."""
    emu.inject("GET", r"_pbr_textures\.zip$", "status", status=200, body=b"this is not a zip",
               times=None)  # fmt: skip
    crate = ico_sphere("Crate", subdivisions=4)
    _paint(crate, tmp_path)
    _sboxcool(crate, fmt="obj", lod_levels=1, sbox_generate_pbr=True)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    assert {"Crate_retopo", "Crate_LOD1"} <= set(bpy.data.objects.keys())
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done" and record.message.startswith("done with warnings: the PBR maps were not")
    assert "refused to unpack" in record.message
