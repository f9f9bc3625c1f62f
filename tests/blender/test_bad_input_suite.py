# SPDX-License-Identifier: GPL-3.0-or-later
"""The bad-input suite: every refusal is one clear line, and nothing is left behind, in real Blender.

It proves: every option of every provider is accepted at both ends of its documented range and refused just
beyond it (and for NaN, infinity, wrong types), through ``jobs.submit.submit_objects`` (nothing started, the
scene and the job folder untouched) and through the CLI (exit 2 before anything runs); wrong and broken input
files fail one by one with a line each; an upload over sboxcool's 100 MB limit is refused before it is sent;
empty, face-less and NaN meshes are refused for every provider, and a bad object in a selection starts no
job at all; non-manifold meshes go through every provider; a source under a sheared parent gets every
provider's results where it is in world space; a source of many small parts keeps them all, or the job says
how many were too small to keep; a source renamed or deleted while its job runs still gets its results
once; reloading the .blend mid-job neither loses nor doubles the import; unusable output and job folders
and a full disk give one-line errors and no half-written files.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import bpy
import pytest

from tests.suites.services import (
    cloud_services,
    drive,
    job_folder,
    part_files,
    sphere,
    step_until,
    submitted_names,
    unclear,
    worker_patches,
)
from tests.support.cloud import configure, reset
from tests.support.scene import parts_of, scattered_parts, scene_state, world_distances

ALL = ("local", "csm", "tripo", "sboxcool")
LODS = ("local", "sboxcool")
SBOX = ("sboxcool",)
NAN, INF = math.nan, math.inf
# (providers, option, accepted at the bounds, refused beyond them, CLI flag, words the error must contain)
RANGES = [
    (("local",), "target_faces", (4, 1279), (3, 1280, 1_000_001, "5000"), "--faces", "target faces"),
    (("tripo",), "target_faces", (500, 10_000), (499, 10_001, 2.5), "--faces", "Tripo face limit"),
    (LODS, "lod_levels", (0, 5), (-1, 6, 2.5, True), "--lods", "LoD levels"),
    (LODS, "lod_final_ratio", (0.001, 1.0), (0.0009, 1.01, NAN, INF), "--lod-final-ratio", "final LoD ratio"),
    (LODS, "lod_max_threshold", (1.0, 500.0), (0.99, 500.5, NAN), "--lod-max-threshold", "switch distance"),
    (("local",), "mode", ("quad", "decimate"), ("voxel",), "--mode", "mode"),
    (("local",), "lod_switch", ("error", "linear"), ("cubic",), "--lod-switch", "switch rule"),
    (("local",), "pixel_error", (0.05, 100.0), (0.04, 100.5, NAN), "--pixel-error", "pixel error"),
    (("local",), "screen_width", (64, 16384), (63, 16385, 2.5), "--screen-width", "screen width"),
    (("local",), "fov", (1.0, 179.0), (0.5, 179.5, NAN), "--fov", "FOV"),
    (("local",), "sharp_angle", (0.0, 180.0), (-0.1, 180.1, NAN), "--sharp-angle", "hard edges"),
    (("csm",), "csm_model", ("swift", "precision"), ("turbo",), "--model", "CSM model"),
    (("csm",), "csm_mesh_url", ("https://example.com/rock.glb", "ASSET_01abc"),
     ("http://example.com/rock.glb", "https://example.com/a.obj", "ASSET_bad id"), "--mesh-url", "mesh URL"),
    (SBOX, "sbox_ratio", (0.01, 1.0), (0.0099, 1.01), "--ratio", "sboxcool ratio"),
    (SBOX, "sbox_pbr_normal_strength", (0.5, 4.0), (0.49, 4.01), "--pbr-normal-strength", "normal strength"),
    (SBOX, "sbox_pbr_roughness_base", (100, 240), (99, 241), "--pbr-roughness-base", "roughness base"),
    (SBOX, "sbox_pbr_ao_strength", (0.0, 1.0), (-0.01, 1.01), "--pbr-ao-strength", "PBR AO strength"),
    (SBOX, "sbox_auto_match_threshold", (50, 100), (49, 101), "--auto-match-threshold", "auto-match"),
    (SBOX, "sbox_pipeline", ("standard", "source1"), ("source2",), "--pipeline", "pipeline"),
    (SBOX, "sbox_skeleton_target", ("citizen", "human"), ("robot",), "--skeleton-target", "skeleton"),
    (SBOX, "sbox_format", ("fbx", "obj"), ("stl",), "--format", "upload format"),
]  # fmt: skip
CASES = [(p, *row[1:]) for row in RANGES for p in row[0]]
SOURCE_TRIS = 1280  # the test sphere's triangles: a local target must stay below them


@pytest.fixture
def keys(addon, blank):
    """Credentials and online access for every cloud provider; no service behind them (nothing is sent)."""
    for provider in ("csm", "tripo", "sboxcool"):
        configure(addon, provider, "http://127.0.0.1:9", api_key="k-123456", api_secret="s-123456")
    yield
    reset(addon)


# The suite's books, printed as its counting line by the last test (``test_counting_line``).
BOOKS = {"cases": 0, "refusals": 0}


@pytest.fixture(autouse=True)
def _count_case():
    yield
    BOOKS["cases"] += 1  # a case that failed never gets here: the line counts passed cases only


def _one_line(message: str, *words: str) -> None:
    assert unclear(message) is None, f"not a clear error ({unclear(message)}): {message!r}"
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    BOOKS["refusals"] += 1


def _cli_value(option: str, value) -> str | None:
    """The value as typed on the command line, or None where the CLI cannot express it."""
    if isinstance(value, bool) or (option == "target_faces" and value in ("5000", SOURCE_TRIS)):
        return None
    return str(value)


@pytest.mark.parametrize(("provider", "option", "good", "bad", "flag", "words"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])  # fmt: skip
def test_option_range(addon, keys, tmp_path, monkeypatch, capsys, provider, option, good, bad, flag, words):
    engine, cli = addon.jobs, addon.jobs.cli
    rock = sphere("Rock", provider, subdivisions=4)  # 1280 triangles
    base = engine.specs.options_from_object(rock)
    started = []
    # Nothing is started (nor exported for upload): this test is about what is refused.
    monkeypatch.setattr(engine.submit, "_prepare", lambda *_a, **_k: {})
    monkeypatch.setattr(
        engine.submit, "_start_job", lambda _s, _p, _o, _v, opts, *_a, **_k: started.append(opts)
    )
    monkeypatch.setattr(cli, "run_all", lambda *_a: {"results": [], "errors": []})
    for value in good:
        engine.submit.submit_objects(bpy.context, [rock], provider=provider, options=base | {option: value})
        assert started.pop()[option] == value
        argv = ["in.obj", "--out", str(tmp_path / "ok"), "--provider", provider, flag, str(value)]
        assert cli.main(argv) == 0, capsys.readouterr().err
    before, jobs = scene_state(), len(bpy.context.scene.retopo_hub.jobs)
    for value in bad:
        with pytest.raises(addon.core.errors.InputError) as refused:
            engine.submit.submit_objects(
                bpy.context, [rock], provider=provider, options=base | {option: value}
            )
        _one_line(str(refused.value), words)
        assert not started, f"{option}={value!r} was accepted"
        text = _cli_value(option, value)
        if text is not None:
            capsys.readouterr()
            out = tmp_path / "refused"
            assert cli.main(["in.obj", "--out", str(out), "--provider", provider, flag, text]) == 2, text
            (line,) = capsys.readouterr().err.strip().splitlines()
            _one_line(line, "error")
            assert not out.exists(), "refused before anything ran"
    assert scene_state() == before and len(bpy.context.scene.retopo_hub.jobs) == jobs
    assert not [p for p in job_folder(addon).rglob("*") if p.is_file()]


def test_wrong_and_broken_input_files(addon, blank, tmp_path, capsys):
    inputs = {
        "notes.txt": b"hello",
        "noise.obj": random.Random(7).randbytes(4096),
        "text.glb": b"this is not a binary glTF",
        "ascii.fbx": b"; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n",
        "empty.stl": b"",
        "fake.blend": b"BLENDER-v999 not really",
        "missing.gltf": None,
    }
    for name, data in inputs.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.ply").mkdir()
    paths = [str(tmp_path / n) for n in [*inputs, "folder.ply"]]
    out = tmp_path / "out"
    code = addon.jobs.cli.main([*paths, "--out", str(out), "--json", "--cache", str(tmp_path / "jobs")])
    stdout, stderr = capsys.readouterr()
    assert code == 1
    errors = json.loads(stdout.strip().splitlines()[-1])["errors"]
    assert [Path(e["input"]).name for e in errors] == [Path(p).name for p in paths]
    for error in errors:
        _one_line(error["message"], Path(error["input"]).name)
    assert "Traceback" not in stderr
    assert not [p for p in out.rglob("*") if p.is_file()] and not part_files(out, tmp_path / "jobs")


@pytest.fixture
def services(addon, blank):
    with cloud_services(addon) as emus:
        yield emus


def test_upload_over_sboxcool_limit_is_refused_before_sending(addon, services, monkeypatch):
    def sparse_fbx(_obj, path):  # what a 150 MB export would leave, without writing 150 MB
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.truncate(150 << 20)
        return Path(path)

    monkeypatch.setattr(addon.jobs.submit, "export_fbx", sparse_fbx)
    huge = sphere("Huge", "sboxcool", sbox_format="fbx")
    huge.modifiers.new("Armature", "ARMATURE")  # rigged: its FBX is the one the main thread exports
    before = scene_state()
    (record,) = drive(addon.jobs, addon.jobs.submit.submit_objects(bpy.context, [huge]))
    assert record.state == "failed"
    _one_line(record.message, "150 MB", "100 MB limit")
    assert not services["sboxcool"].requests, "nothing was sent"
    assert scene_state() == before and not part_files(job_folder(addon))


def _broken(name: str, kind: str, provider: str):
    obj = sphere(name, provider)
    mesh = obj.data
    if kind == "empty":
        mesh.clear_geometry()
    elif kind == "loose":
        verts = [v.co.copy() for v in mesh.vertices[:3]]
        mesh.clear_geometry()
        mesh.from_pydata(verts, [], [])
    elif kind == "nan":
        mesh.vertices[0].co = (math.nan, 0.0, 0.0)
    else:  # every face welded away by a modifier
        obj.modifiers.new("Weld", "WELD").merge_threshold = 1000.0
    mesh.update()
    return obj


BROKEN = {"empty": "is empty", "loose": "has vertices but no faces", "nan": "NaN", "welded": "no faces after"}


@pytest.mark.parametrize("provider", ALL)
def test_empty_and_broken_meshes_start_nothing(addon, keys, provider):
    engine = addon.jobs
    good = sphere("Good", provider, index=1)
    started = []
    for kind, words in BROKEN.items():
        bad = _broken(f"Bad_{kind}", kind, provider)
        before = scene_state()
        for selection in ([bad], [good, bad]):  # a bad object anywhere in the selection starts no job
            jobs = len(bpy.context.scene.retopo_hub.jobs)
            with pytest.raises(addon.core.errors.InputError) as refused:
                engine.submit.submit_objects(bpy.context, selection)
            _one_line(str(refused.value), bad.name, words)
            started += [f"{kind}: {[o.name for o in selection]} started a job for {r.source_name}"
                        for r in list(bpy.context.scene.retopo_hub.jobs)[jobs:]]  # fmt: skip
            assert scene_state() == before
    engine.session.shutdown()
    assert not started, "\n".join(started)
    assert not [p for p in job_folder(addon).rglob("*") if p.is_file()], "nothing written for refused input"


def _non_manifold(name: str, provider: str, index: int):
    """An open grid (boundary edges) with a fin on an interior edge (three faces share it)."""
    n = 20
    verts = [(x / n, y / n, 0.05 * ((x * y) % 7) / 7) for y in range(n + 1) for x in range(n + 1)]
    faces = [(y * (n + 1) + x, y * (n + 1) + x + 1, (y + 1) * (n + 1) + x + 1, (y + 1) * (n + 1) + x)
             for y in range(n) for x in range(n)]  # fmt: skip
    mid = (n // 2) * (n + 1) + n // 2
    verts.append((0.5, 0.5, 0.5))
    faces.append((mid, mid + 1, len(verts) - 1))
    obj = sphere(name, provider, index=index, target_faces=100 if provider == "local" else 500)
    obj.data.clear_geometry()
    obj.data.from_pydata(verts, [], faces)
    obj.data.update()
    return obj


def test_non_manifold_meshes_go_through_every_provider(addon, services):
    engine = addon.jobs
    objects = [_non_manifold(f"Sheet_{p}", p, i) for i, p in enumerate(ALL)]
    for record in drive(engine, engine.submit.submit_objects(bpy.context, objects)):
        assert record.state == "done" and record.imported, record.message


def test_source_renamed_or_deleted_while_its_job_runs(addon, services):
    engine = addon.jobs
    objects = [sphere(f"{role}_{p}", p, index=i + 4 * j) for j, role in enumerate(("Ren", "Del"))
               for i, p in enumerate(ALL)]  # fmt: skip
    job_ids = engine.submit.submit_objects(bpy.context, objects)
    for p in ALL:
        moved = bpy.data.objects[f"Ren_{p}"]
        moved.name, moved.location = f"Moved_{p}", (0.0, 10.0, 0.0)
        bpy.ops.mesh.primitive_cube_add(location=(0.0, -10.0, 0.0))
        bpy.context.active_object.name = f"Ren_{p}"  # a decoy under the old name
        bpy.data.objects.remove(bpy.data.objects[f"Del_{p}"], do_unlink=True)
    bpy.context.view_layer.update()
    records = drive(engine, job_ids)
    for record in records:
        assert record.state == "done" and record.imported, f"{record.source_name}: {record.message}"
    names = [n for r in records for n in json.loads(r.result_objects)]
    assert not [n for n in names if n[-4:-3] == "." and n[-3:].isdigit()], f"imported twice: {names}"
    for p in ALL:
        moved = bpy.data.objects[f"Moved_{p}"]
        followed = [bpy.data.objects[n] for n in names if n.startswith(f"Moved_{p}_")]
        assert followed and all(o.matrix_world == moved.matrix_world for o in followed), p
        assert not [n for n in names if n.startswith(f"Ren_{p}_")], "the decoy got nothing"
        orphans = [bpy.data.objects[n] for n in names if n.startswith(f"Del_{p}_")]
        assert orphans and all(o.location.length == 0.0 for o in orphans), "deleted source: at the origin"


def test_a_source_under_a_sheared_parent_gets_results_on_it(addon, services):
    """A rotated child of a non-uniformly scaled, rotated parent: its world matrix is sheared, which a
    result's location/rotation/scale cannot hold. Every provider's result must still sit on the source."""
    engine = addon.jobs
    parent = bpy.data.objects.new("Shearing", None)
    bpy.context.scene.collection.objects.link(parent)
    parent.rotation_euler, parent.scale = (0.4, -0.3, 0.9), (3.0, 1.0, 0.5)
    objects = []
    for i, p in enumerate(ALL):
        obj = sphere(f"Shear_{p}", p, index=i, subdivisions=3)
        obj.parent, obj.rotation_euler = parent, (0.7, 0.2, -0.5)
        objects.append(obj)
    bpy.context.view_layer.update()
    for record in drive(engine, engine.submit.submit_objects(bpy.context, objects)):
        assert record.state == "done" and record.imported, record.message
    for source in objects:
        results = [o for o in bpy.data.objects if o.get("retopo_hub_source") == source.name]
        assert results, source.name
        for result in results:
            size = max(source.dimensions)
            if source.retopo_hub.provider == "local":  # remeshed from the source itself: on its surface
                assert world_distances(result, source).max() < 0.005 * size, result.name
                continue
            # The services' emulators return a sphere of radius 0.5 in the source's object space.
            to_source = source.matrix_world.inverted() @ result.matrix_world
            radii = [(to_source @ v.co).length for v in result.data.vertices]
            assert max(abs(r - 0.5) for r in radii) < 1e-3, result.name


def test_many_small_parts_are_kept_or_reported(addon, blank):
    """Parts too small for the budget's share each are still kept (300 parts at 5 faces each); parts that
    cannot all keep the least a part costs (400 parts at 100 faces) are dropped with a warning on the job."""
    engine = addon.jobs
    kept, crowd = scattered_parts("Kept", 300), scattered_parts("Crowd", 400)
    crowd.location.y = 40.0
    kept.retopo_hub.target_faces, crowd.retopo_hub.target_faces = 1500, 100
    records = drive(engine, engine.submit.submit_objects(bpy.context, [kept, crowd]))
    assert [r.state for r in records] == ["done", "done"], [r.message for r in records]
    assert not records[0].message.startswith("done with warnings"), records[0].message
    assert parts_of(addon, bpy.data.objects["Kept_retopo"]) == 300
    _one_line(records[1].message, "done with warnings", "363 of 400 separate parts", "raise the target")
    assert parts_of(addon, bpy.data.objects["Crowd_retopo"]) == 37


RELOADS = [
    ("sboxcool", "with the job"),
    ("local", "with the job"),
    ("sboxcool", "before the job"),
    ("local", "before the job"),
    ("sboxcool", "before the job, reloaded once it had its id"),
]


@pytest.mark.parametrize(("provider", "saved"), RELOADS, ids=[f"{p}-{s}" for p, s in RELOADS])
def test_blend_reloaded_mid_job(addon, services, tmp_path, provider, saved):
    """Open the same saved .blend while its job runs: the job finishes and is imported exactly once."""
    engine = addon.jobs
    services["sboxcool"].polls_per_step = 6  # still running when the file comes back
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    rock = sphere("Rock", provider, subdivisions=3, target_faces=300)
    (job_id,) = engine.submit.submit_objects(bpy.context, [rock])
    engine.step.step(bpy.context.scene)
    if saved == "with the job":
        bpy.ops.wm.save_mainfile()
    if saved.endswith("its id"):
        step_until(engine, lambda: engine.records.find(job_id).remote_id)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    drive(engine, [job_id, *engine.step.active_job_ids()], guard_s=60)
    record = engine.records.find(job_id)
    assert record is not None, "the running job was dropped with the old file"
    assert record.state == "done" and record.imported, record.message
    results = [o.name for o in bpy.data.objects if o.get("retopo_hub_job_id") == job_id]
    assert len(results) == 1 and results[0].startswith("Rock"), f"imported {results}"
    assert [r.job_id for r in bpy.context.scene.retopo_hub.jobs].count(job_id) == 1
    if provider != "local":
        assert submitted_names(services)["Rock"] == 1


def test_unusable_output_folder(addon, blank, tmp_path, capsys):
    afile = tmp_path / "a_file.txt"
    afile.write_text("not a folder")
    readonly = tmp_path / "readonly"
    readonly.mkdir(mode=0o500)
    # chmod does not stop root, so the folders no one can use come first: under a file, and a file itself.
    for out in [afile / "out", afile] + ([readonly] if os.geteuid() != 0 else []):
        assert addon.jobs.cli.main(["in.obj", "--out", str(out)]) == 2, out
        (line,) = capsys.readouterr().err.strip().splitlines()
        _one_line(line, "--out")
    assert afile.read_text() == "not a folder" and not list(readonly.iterdir())


def test_unusable_job_folder(addon, blank, tmp_path, capsys):
    afile = tmp_path / "a_file.txt"
    afile.write_text("not a folder")
    sample = tmp_path / "in.obj"
    sphere("Sample", "local", subdivisions=3)
    bpy.ops.wm.obj_export(filepath=str(sample), export_selected_objects=True, export_materials=False)
    argv = [str(sample), "--out", str(tmp_path / "o"), "--faces", "100", "--cache", str(afile / "jobs")]
    code = addon.jobs.cli.main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2) and lines, "a one-line error, not a crash"
    _one_line(lines[-1], "jobs")
    # The same job folder in the preferences: a one-line error and no job record.
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.preferences.addons[addon.__name__].preferences.cache_dir = str(afile / "jobs")
    rock = sphere("Rock", "local", subdivisions=3, target_faces=300)
    with pytest.raises(addon.core.errors.RetopoError) as refused:
        addon.jobs.submit.submit_objects(bpy.context, [rock])
    _one_line(str(refused.value), "jobs")
    assert not bpy.context.scene.retopo_hub.jobs and not part_files(tmp_path)


def test_full_disk_fails_downloads_cleanly(addon, services):
    engine = addon.jobs
    objects = [sphere(f"Full_{p}", p, index=i) for i, p in enumerate(("csm", "tripo", "sboxcool"))]
    before = scene_state()
    with worker_patches(addon, free_bytes=1000):
        records = drive(engine, engine.submit.submit_objects(bpy.context, objects))
    for record in records:
        assert record.state == "failed", f"{record.source_name}: {record.message}"
        _one_line(record.message, "not enough disk space", "free space")
    assert scene_state() == before, "nothing imported"
    assert not part_files(job_folder(addon))


def test_counting_line(capsys):
    """Last in the file: the suite's counting line (cases that passed, refusals checked as one clear line;
    each case also asserts that nothing was left behind: scene, job folder, output folder, partial files)."""
    with capsys.disabled():
        print(
            f"\nbad-input suite: {BOOKS['cases']} cases passed, {BOOKS['refusals']} refusals, each one clear "
            "line, nothing left behind"
        )
