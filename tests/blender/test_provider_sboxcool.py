# SPDX-License-Identifier: GPL-3.0-or-later
"""The sboxcool provider end to end in real Blender against the local sboxcool emulator.

Operator and CLI -> worker -> multipart upload -> polls -> key-less downloads -> LoD objects, .vmdl and
PBR maps; bone mappings, the 5-job limit and 429s, and every refusal that must happen before any upload.
"""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import pytest
from emulators import SboxcoolEmulator, assets
from emulators.remote import Remote

from tests.support.cloud import reset, serving
from tests.support.scene import fingerprint, ico_sphere

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


def _cli_lods(addon, argv, capsys) -> tuple[dict, dict, str]:
    """Run the CLI on a two-LoD sboxcool job: (its --json result, outputs by file name, stderr)."""
    code = addon.jobs.cli.main([str(a) for a in argv])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    (result,) = json.loads(stdout.strip().splitlines()[-1])["results"]
    outputs = {Path(o["path"]).name: o for o in result["outputs"]}
    assert set(outputs) == {"sample_retopo.obj", "sample_LOD1.obj", "sample_LOD2.obj"}
    return result, outputs, stderr


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
    result, outputs, stderr = _cli_lods(addon, argv, capsys)
    assert [outputs[f"sample_{n}.obj"]["switch_threshold"] for n in ("retopo", "LOD1", "LOD2")] == [0, 25, 50]
    assert all((out / name).stat().st_size > 0 for name in outputs)
    # Cloud results are measured against the source too, in the worker: one report per output.
    for output in outputs.values():
        assert output["quality"]["faces"] == output["faces"] and output["quality"]["hausdorff_pct"] >= 0
    assert result["vmdl"] == str(out / "sample.vmdl") and "LODGroupList" in (out / "sample.vmdl").read_text()
    work = Path(_engine(addon).records.find(result["job_id"]).work_dir)
    assert [p.name for p in work.glob("*.vmdl")] == ["Sample.vmdl"]  # named after the imported object
    assert _accepted_form(emu)["ratio"] == "0.3" and _accepted_form(emu)["lodLevels"] == "2"
    assert KEY not in json.dumps(result) + stderr


@pytest.mark.parametrize(("odd", "written"), [(float("nan"), True), (10.0, False)], ids=["nan", "not-rising"])
def test_odd_switch_thresholds_cost_the_vmdl_at_most(emu, addon, tmp_path, capsys, odd, written):
    """NaN thresholds are no answer (the documented spread applies); thresholds that do not rise cannot make
    a .vmdl: the LoD meshes are written without it, with a warning in the report and --json, and the job
    stays reusable (nothing is paid again)."""
    emu.odd_threshold = odd
    ico_sphere("Sample", subdivisions=3, location=(0, 0, 0))
    sample = tmp_path / "sample.obj"
    bpy.ops.wm.obj_export(filepath=str(sample), export_selected_objects=True, export_materials=False)
    out = tmp_path / "out"
    argv = [sample, "--out", out, "--provider", "sboxcool", "--lods", "2", "--pipeline", "source1",
            "--format", "obj", "--online-mode", "--json", "--cache", tmp_path / "c"]  # fmt: skip
    result, outputs, stderr = _cli_lods(addon, argv, capsys)
    assert (out / "sample.vmdl").exists() == written == ("vmdl" in result)
    if written:
        assert [outputs[f"sample_{n}.obj"]["switch_threshold"] for n in ("retopo", "LOD1", "LOD2")] == [
            0,
            25,
            50,
        ]
        assert result["warnings"] == []
    else:
        (warning,) = result["warnings"]
        assert warning.startswith("the .vmdl was not written") and warning in stderr
        assert json.loads((out / "sample_report.json").read_text())["warnings"] == [warning]
    (entry,) = addon.core.journal.Journal(tmp_path / "c" / "journal").entries()
    assert entry["state"] == "done"
    assert len(_posts(emu)) == 1
