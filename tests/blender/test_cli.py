# SPDX-License-Identifier: GPL-3.0-or-later
"""The headless CLI contract, in process (as ``blender -c retopo_hub``) and through ``bin/retopo-hub``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.support.cli import export_selected_obj, run_cli
from tests.support.scene import ico_sphere

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sample(blank, tmp_path) -> Path:
    """A bumpy sphere exported with Blender's own OBJ exporter."""
    ico_sphere("Sample", location=(0, 0, 0))
    return export_selected_obj(tmp_path / "sample.obj")


def test_linear_switch_rule_is_unchanged(addon, sample, tmp_path, capsys):
    code, out, err = run_cli(addon, [sample, "--out", tmp_path / "out", "--faces", 800, "--lods", 2, "--json",
                                  "--lod-switch", "linear", "--lod-max-threshold", 40,
                                  "--cache", tmp_path / "cache"], capsys)  # fmt: skip
    assert code == 0, err
    (result,) = json.loads(out.strip().splitlines()[-1])["results"]
    levels = sorted(result["outputs"], key=lambda o: o["lod"])
    assert [o["switch_distance"] for o in levels] == pytest.approx([0.0, 20.0, 40.0])
    assert levels[2]["error"] > 0.0  # measured all the same


def test_error_switch_rule_follows_the_screen(addon, sample, tmp_path, capsys):
    """Twice the pixels allowed, half the distance; a wider screen, further away."""
    runs = {}
    for name, flags in (("base", []), ("px2", ["--pixel-error", 2]), ("4k", ["--screen-width", 3840])):
        argv = [sample, "--out", tmp_path / name, "--faces", 800, "--lods", 1, "--json", "--reproducible",
                "--cache", tmp_path / f"cache_{name}", *flags]  # fmt: skip
        code, out, err = run_cli(addon, argv, capsys)
        assert code == 0, err
        (result,) = json.loads(out.strip().splitlines()[-1])["results"]
        runs[name] = max(result["outputs"], key=lambda o: o["lod"])
    assert runs["px2"]["switch_distance"] == pytest.approx(runs["base"]["switch_distance"] / 2, rel=0.05)
    assert runs["4k"]["switch_distance"] == pytest.approx(runs["base"]["switch_distance"] * 2, rel=0.05)


def test_export_writes_an_engine_package_beside_the_outputs(addon, sample, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(addon, [sample, "--out", out_dir, "--faces", 800, "--lods", 2, "--json",
                                  "--export", "gltf", "--cache", tmp_path / "cache"], capsys)  # fmt: skip
    assert code == 0, err
    (result,) = json.loads(out.strip().splitlines()[-1])["results"]
    assert result["export"] == str(out_dir / "sample_gltf")
    assert (out_dir / "sample_gltf" / "sample.glb").is_file()
    assert {Path(o["path"]).name for o in result["outputs"]} == {
        "sample_retopo.obj",
        "sample_LOD1.obj",
        "sample_LOD2.obj",
    }
    code, _, err = run_cli(addon, [sample, "--out", out_dir, "--export", "maya"], capsys)
    assert code == 2 and "--export" in err


def test_local_obj_with_lods_and_json(addon, sample, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(addon, [sample, "--out", out_dir, "--faces", 1500, "--lods", 2, "--json",
                                  "--cache", tmp_path / "cache"], capsys)  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["errors"] == []
    (result,) = summary["results"]
    assert result["provider"] == "local" and result["job_id"]
    outputs = {Path(o["path"]).name: o for o in result["outputs"]}
    assert set(outputs) == {"sample_retopo.obj", "sample_LOD1.obj", "sample_LOD2.obj"}
    lod0 = outputs["sample_retopo.obj"]
    assert abs(lod0["faces"] - 1500) <= 150 and lod0["quads"] >= 0.95 * lod0["faces"]
    # Switch distances from measured error (the default rule): 1 px on a 1920 px, 60 degree view.
    levels = [outputs[f"sample_{n}.obj"] for n in ("retopo", "LOD1", "LOD2")]
    assert [o["lod"] for o in levels] == [0, 1, 2]
    assert levels[0]["error"] == 0.0 and 0.0 < levels[1]["error"] <= levels[2]["error"]
    lodmath = addon.core.lodmath
    for level in levels[1:]:
        expected = lodmath.distance_for_pixel_error(level["error"], 1.0, 1920, 60.0)
        assert level["switch_distance"] >= expected * (1 - 1e-9)
        assert level["switch_threshold"] == level["switch_distance"]
    assert levels[0]["switch_distance"] == 0.0 < levels[1]["switch_distance"] <= levels[2]["switch_distance"]
    coverages = [o["screen_coverage"] for o in levels]
    assert coverages[0] == 1.0 and coverages == sorted(coverages, reverse=True)
    assert [o["triangles"] for o in levels] == sorted((o["triangles"] for o in levels), reverse=True)
    assert lod0["engine"] == "instant-meshes"
    assert outputs["sample_LOD1.obj"]["engine"] == "fast-simplification"
    report = json.loads((out_dir / "sample_report.json").read_text())
    assert report["outputs"] == result["outputs"]
    # The OBJ keeps quads and sits where the input was: re-import it and compare bounds.
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.obj_import(filepath=str(out_dir / "sample_retopo.obj"))
    obj = bpy.context.selected_objects[0]
    assert len(obj.data.polygons) == lod0["faces"]
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    assert np.abs(co.reshape(-1, 3)).max() < 1.6 * 1.1


@pytest.mark.parametrize("fmt", ["glb", "fbx"])
def test_other_formats(addon, sample, tmp_path, capsys, fmt):
    code, out, err = run_cli(
        addon, [sample, "--out", tmp_path, "--faces", 800, "--format", fmt, "--json"], capsys
    )
    assert code == 0, err
    (output,) = json.loads(out.strip().splitlines()[-1])["results"][0]["outputs"]
    path = Path(output["path"])
    assert path.name == f"sample_retopo.{fmt}" and path.stat().st_size > 1000
    if fmt == "glb":  # glTF holds triangles only, and the report says what the file holds
        assert output["quads"] == 0 and output["tris"] == output["faces"] >= 1400
    assert not list(tmp_path.glob("*.part*")), "no half-written files"


def test_errors_and_exit_codes(addon, sample, tmp_path, capsys):
    missing = tmp_path / "nope.obj"
    code, out, err = run_cli(addon, [sample, missing, "--out", tmp_path, "--faces", 700, "--json"], capsys)
    assert code == 1
    summary = json.loads(out.strip().splitlines()[-1])
    assert len(summary["results"]) == 1
    assert summary["errors"] == [
        {"input": str(missing), "message": f"{missing}: no such file; check the path"}
    ]
    assert "nope.obj" in err
    bad_type = tmp_path / "notes.txt"
    bad_type.write_text("hello")
    code, _, err = run_cli(addon, [bad_type, "--out", tmp_path], capsys)
    assert code == 1 and "unsupported file type" in err
    assert "notes.txt: notes.txt" not in err, "the file name is said once"
    code, _, err = run_cli(addon, [sample, "--out", tmp_path, "--lods", 9], capsys)
    assert code == 2 and "LoD Levels must be a whole number between 0 and 5 (got 9)" in err
    code, _, err = run_cli(addon, [sample], capsys)
    assert code == 2 and "--out" in err
    code, _, err = run_cli(addon, [sample, "--out", tmp_path, "--provider", "nope"], capsys)
    assert code == 2


def test_blend_input_with_object_choice(addon, blank, tmp_path, capsys):
    ico_sphere("Keep", location=(0, 0, 0))
    ico_sphere("Skip", location=(5, 0, 0))
    bpy.ops.object.camera_add()
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    argv = [blend, "--out", tmp_path / "o", "--object", "Keep", "--faces", 600, "--json"]
    code, _, err = run_cli(addon, argv, capsys)
    assert code == 0, err
    code, _, err = run_cli(addon, [blend, "--out", tmp_path / "o", "--object", "Camera"], capsys)
    assert code == 1 and "not a mesh" in err


def test_launcher_runs_the_same_cli(sample, tmp_path):
    """bin/retopo-hub in a subprocess: the pinned bpy module running this checkout."""
    env = dict(os.environ, RETOPO_HUB_PYTHON=sys.executable, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    launcher = str(ROOT / "bin" / "retopo-hub")
    argv = [launcher, str(sample), "--out", str(tmp_path / "o"), "--faces", "900", "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["results"][0]["outputs"][0]["faces"] > 800
    proc = subprocess.run([str(ROOT / "bin" / "retopo-hub"), "--bogus"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 2


@pytest.mark.parametrize("suffix", [".glb", ".fbx", ".ply", ".stl"])
def test_every_input_format(addon, blank, tmp_path, capsys, suffix):
    """Inputs written by Blender's own exporters come back retopologized at the input's place."""
    ico_sphere("Part", location=(0, 0, 0))
    path = tmp_path / f"part{suffix}"
    exporters = {
        ".glb": lambda: bpy.ops.export_scene.gltf(filepath=str(path), use_selection=True),
        ".fbx": lambda: bpy.ops.export_scene.fbx(filepath=str(path), use_selection=True),
        ".ply": lambda: bpy.ops.wm.ply_export(filepath=str(path), export_selected_objects=True),
        ".stl": lambda: (
            bpy.ops.wm.stl_export(filepath=str(path), export_selected_objects=True)
            if hasattr(bpy.ops.wm, "stl_export")
            else bpy.ops.export_mesh.stl(filepath=str(path), use_selection=True)
        ),
    }
    exporters[suffix]()
    code, out, err = run_cli(addon, [path, "--out", tmp_path / "o", "--faces", 1000, "--json"], capsys)
    assert code == 0, err
    (output,) = json.loads(out.strip().splitlines()[-1])["results"][0]["outputs"]
    assert abs(output["faces"] - 1000) <= 100


def test_reproducible_runs_give_the_same_mesh(addon, sample, tmp_path, capsys):
    outputs = []
    for run in ("a", "b"):
        out_dir = tmp_path / run
        code, _, err = run_cli(addon, [sample, "--out", out_dir, "--faces", 800, "--reproducible",
                                    "--cache", tmp_path / f"cache-{run}"], capsys)  # fmt: skip
        assert code == 0, err
        outputs.append((out_dir / "sample_retopo.obj").read_bytes())
        # The flag reaches the engine (which then pins Instant Meshes to one core: engines/remesh.py).
        (params,) = (tmp_path / f"cache-{run}").rglob("params.json")
        assert json.loads(params.read_text())["reproducible"] is True
    assert outputs[0] == outputs[1]


def test_the_same_input_twice_is_one_job_and_clashing_stems_are_refused(addon, sample, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(addon, [sample, sample, "--out", out, "--faces", 700, "--json",
                                     "--cache", tmp_path / "cache"], capsys)  # fmt: skip
    assert code == 0, err
    assert len(json.loads(stdout.strip().splitlines()[-1])["results"]) == 1
    other = tmp_path / "b" / sample.name
    other.parent.mkdir()
    other.write_bytes(sample.read_bytes())
    code, _, err = run_cli(addon, [sample, other, "--out", tmp_path / "clash"], capsys)
    assert code == 2 and "would both write sample_retopo" in err
    assert not (tmp_path / "clash").exists(), "refused before anything ran"


def _signed_volume(verts, sizes, corners) -> float:
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    total = 0.0
    for start, size in zip(starts, sizes, strict=True):
        a = verts[corners[start]]
        for k in range(1, size - 1):
            b, c = verts[corners[start + k]], verts[corners[start + k + 1]]
            total += float(np.dot(a, np.cross(b, c))) / 6.0
    return total


@pytest.mark.parametrize("fmt", ["obj", "glb"])
def test_a_mirrored_object_is_written_facing_out(addon, blank, tmp_path, capsys, fmt):
    """Scale -1 on one axis mirrors the mesh; the outputs must not come out inside-out."""
    rock = ico_sphere("Mirror", location=(0, 0, 0))
    rock.scale = (-1.0, 1.0, 1.0)
    blend = tmp_path / "mirror.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    code, _, err = run_cli(addon, [blend, "--out", tmp_path / "o", "--faces", 600, "--format", fmt], capsys)
    assert code == 0, err
    reader = addon.formats.obj.read_obj if fmt == "obj" else addon.formats.glb.read_glb
    data = reader(tmp_path / "o" / f"mirror_retopo.{fmt}")
    volume = _signed_volume(data["verts"], data["face_sizes"], data["corner_verts"])
    assert volume > 3.0, volume  # a unit sphere: 4.19


def test_deadline_flag_ends_a_job_that_runs_longer(addon, sample, tmp_path, capsys):
    code, _, err = run_cli(addon, [sample, "--out", tmp_path, "--faces", 700, "--deadline", 0.001], capsys)
    assert code == 1 and "ran past its deadline" in err and "--deadline" in err
    code, _, err = run_cli(addon, [sample, "--out", tmp_path, "--deadline", 0], capsys)
    assert code == 2 and "--deadline must be more than 0" in err
    help_text = addon.jobs.cli.build_parser().format_help()
    assert "csm 20 (precision 60)" in " ".join(help_text.split())


def test_a_local_rerun_after_an_update_remeshes_again(addon, sample, tmp_path, capsys, monkeypatch):
    """A re-run of the same input and options is skipped (its outputs are there) until the extension's
    version changes: an updated engine may make another mesh, and a re-run must not keep the old one."""
    cli = addon.jobs.cli
    assert cli.extension_version() == addon_version()
    args = [sample, "--out", tmp_path / "out", "--faces", 600, "--json", "--cache", tmp_path / "cache"]

    def summary() -> dict:
        code, stdout, err = run_cli(addon, args, capsys)
        assert code == 0, err
        return json.loads(stdout.strip().splitlines()[-1])

    first = summary()["results"][0]["job_id"]
    again = summary()
    assert again["results"] == [] and len(again["skipped"]) == 1
    monkeypatch.setattr(cli, "extension_version", lambda: "99.0.0")
    (updated,) = summary()["results"]
    assert updated["job_id"] != first


def addon_version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "blender_manifest.toml").read_text())["version"]


def test_symmetry_on_a_source_off_its_plane_ends_with_a_one_line_warning(addon, blank, tmp_path, capsys):
    """A sphere whose middle sits 0.4 from the world's X plane (an OBJ is joined in world space): mirrored
    across X it is far off itself. The job still runs, symmetric, and says what to check."""
    ico_sphere("Offset", subdivisions=4, location=(0.4, 0.0, 0.0))
    path = export_selected_obj(tmp_path / "offset.obj")
    code, stdout, err = run_cli(addon, [path, "--out", tmp_path / "out", "--faces", 600, "--symmetry", "x",
                                        "--json", "--cache", tmp_path / "cache"], capsys)  # fmt: skip
    assert code == 0, err
    (result,) = json.loads(stdout.strip().splitlines()[-1])["results"]
    (warning,) = [w for w in result["warnings"] if "symmetric" in w]
    assert warning.startswith("the source is not symmetric across its local X plane (")
    assert warning.endswith("check the object's origin and rotation, or turn that symmetry off")
    assert "not symmetric across its local X plane" in err  # the status line says it too
    # The same job written into another folder reuses the journaled results, and still says it.
    code, stdout, err = run_cli(addon, [path, "--out", tmp_path / "again", "--faces", 600, "--symmetry", "x",
                                        "--json", "--cache", tmp_path / "cache"], capsys)  # fmt: skip
    assert code == 0, err
    (again,) = json.loads(stdout.strip().splitlines()[-1])["results"]
    assert again["job_id"] == result["job_id"] and again["warnings"] == result["warnings"]
