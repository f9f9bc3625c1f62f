# SPDX-License-Identifier: GPL-3.0-or-later
"""The CLI on many inputs (``jobs.batch``): folders, skipping finished inputs, ``--jobs``, progress, the
summary table and ``--dry-run``, in process as ``blender -c retopo_hub`` runs it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import bpy
import pytest
from emulators import CsmEmulator
from emulators.remote import Remote

from tests.support.cloud import configure, reset
from tests.support.scene import ico_sphere

KEY = "csm-secret-key-0123456789"
EXPORTERS = {
    ".obj": lambda p: bpy.ops.wm.obj_export(filepath=p, export_selected_objects=True, export_materials=False),
    ".glb": lambda p: bpy.ops.export_scene.gltf(filepath=p, use_selection=True),
    ".fbx": lambda p: bpy.ops.export_scene.fbx(filepath=p, use_selection=True),
    ".ply": lambda p: bpy.ops.wm.ply_export(filepath=p, export_selected_objects=True),
    ".stl": lambda p: (
        bpy.ops.wm.stl_export(filepath=p, export_selected_objects=True)
        if hasattr(bpy.ops.wm, "stl_export")
        else bpy.ops.export_mesh.stl(filepath=p, use_selection=True)
    ),
}


def _write(path: Path) -> Path:
    """A small bumpy sphere (1,280 triangles) in ``path``'s format, written by Blender's own exporter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    ico_sphere(path.stem, subdivisions=4, location=(0, 0, 0))
    bpy.ops.object.shade_smooth()  # flat shading makes glTF split every vertex: a triangle soup
    if path.suffix == ".blend":
        bpy.ops.wm.save_as_mainfile(filepath=str(path))
    else:
        EXPORTERS[path.suffix](str(path))
    return path


def _run(addon, argv, capsys):
    code = addon.jobs.cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _summary(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def assets(blank, tmp_path) -> Path:
    """A folder tree with one input per supported format (and a file of another type)."""
    root = tmp_path / "assets"
    for name in (
        "rock.obj",
        "props/crate.glb",
        "props/deep/barrel.fbx",
        "scan.ply",
        "print.stl",
        "set.blend",
    ):
        _write(root / name)
    (root / "props" / "notes.txt").write_text("not a mesh")
    bpy.ops.wm.read_homefile(use_empty=True)
    return root


def test_a_folder_runs_every_supported_file_and_a_rerun_skips_them(addon, assets, tmp_path, capsys):
    out_dir, cache = tmp_path / "out", tmp_path / "cache"
    argv = [assets, "--out", out_dir, "--faces", 300, "--cache", cache, "--json"]
    code, out, err = _run(addon, argv, capsys)
    assert code == 0, err
    summary = _summary(out)
    ran = sorted(Path(r["input"]).name for r in summary["results"])
    assert ran == ["barrel.fbx", "crate.glb", "print.stl", "rock.obj", "scan.ply", "set.blend"]
    assert summary["skipped"] == [] and summary["errors"] == []
    assert "ignored 1 file(s) of other types" in err
    for result in summary["results"]:
        (lod0,) = result["outputs"]
        assert Path(lod0["path"]).is_file() and abs(lod0["faces"] - 300) <= 30
        quality = lod0["quality"]
        assert 0 < quality["mean_distance_pct"] <= quality["hausdorff_pct"] < 5, quality
    # The summary table: a header, one row per input with LoD0's figures, then the counts.
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("input "))
    assert lines[header].split() == ["input", "status", "faces", "quads", "max", "dist", "%", "mean", "dist",
                                     "%", "time", "s"]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines[header + 1 : header + 7]}
    assert set(rows) == set(ran) and all(row[1] == "done" for row in rows.values())
    assert lines[header + 7] == "6 input(s): 6 done, 0 skipped, 0 failed"
    assert "\r" not in err and "ETA" not in err, "no progress line when stderr is not a terminal"
    jobs_made = sorted(p.name for p in cache.iterdir() if p.name.startswith("local-"))

    # The same command again: every input is complete and unchanged, so nothing runs.
    code, out, err = _run(addon, argv, capsys)
    assert code == 0, err
    summary = _summary(out)
    assert summary["results"] == [] and len(summary["skipped"]) == 6
    assert "6 input(s): 0 done, 6 skipped, 0 failed" in out
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith("local-")) == jobs_made

    # Changed bytes run again (only that input); a changed option runs every input again.
    rock = assets / "rock.obj"
    rock.write_text(rock.read_text() + "\n# touched\n")
    code, out, err = _run(addon, argv, capsys)
    assert code == 0, err
    summary = _summary(out)
    assert [Path(r["input"]).name for r in summary["results"]] == ["rock.obj"]
    assert len(summary["skipped"]) == 5
    code, out, err = _run(addon, [*argv[:-1], "--faces", 320, "--json"], capsys)
    assert code == 0, err
    assert len(_summary(out)["results"]) == 6 and _summary(out)["skipped"] == []


def test_a_deleted_output_or_another_format_is_not_skipped(addon, blank, tmp_path, capsys):
    rock = _write(tmp_path / "in" / "rock.obj")
    argv = [rock, "--out", tmp_path / "out", "--faces", 300, "--json"]
    assert _run(addon, argv, capsys)[0] == 0
    (tmp_path / "out" / "rock_retopo.obj").unlink()
    code, out, err = _run(addon, argv, capsys)
    assert code == 0 and len(_summary(out)["results"]) == 1, err
    code, out, err = _run(addon, [*argv, "--format", "glb"], capsys)
    assert code == 0 and len(_summary(out)["results"]) == 1, err


@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_bounds_the_inputs_in_flight(addon, blank, tmp_path, capsys, monkeypatch, jobs):
    """Every input in flight has an unfinished journal entry (marked done once its outputs are written):
    counted at each start, there are never ``jobs`` of them already."""
    folder = tmp_path / "in"
    for i in range(5):
        _write(folder / f"rock{i}.obj")
    cache = tmp_path / "cache"
    cli = addon.jobs.cli
    start = cli.start_input
    in_flight_at_start = []

    def unfinished() -> list[dict]:
        entries = (json.loads(p.read_text()) for p in (cache / "journal").glob("*.json"))
        return [e for e in entries if e.get("state") != "done"]

    def counting_start(*args, **kwargs):
        in_flight_at_start.append(len(unfinished()))
        return start(*args, **kwargs)

    monkeypatch.setattr(cli, "start_input", counting_start)
    argv = [folder, "--out", tmp_path / "out", "--faces", 300, "--cache", cache, "--jobs", jobs, "--json"]
    code, out, err = _run(addon, argv, capsys)
    assert code == 0, err
    assert len(_summary(out)["results"]) == 5
    assert len(in_flight_at_start) == 5 and max(in_flight_at_start) == jobs - 1, in_flight_at_start
    assert unfinished() == [], "every finished input's entry is done"


def test_bad_jobs_and_empty_folders_are_refused(addon, blank, tmp_path, capsys):
    rock = _write(tmp_path / "rock.obj")
    code, _, err = _run(addon, [rock, "--out", tmp_path / "o", "--jobs", 0], capsys)
    assert code == 2 and "--jobs must be a whole number between 1 and 64" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    code, _, err = _run(addon, [tmp_path / "empty", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "no .glb .gltf .fbx .obj .ply .stl .blend file in" in err


def test_the_progress_line_on_a_terminal(addon):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = addon.jobs.batch.Progress(3, stream)
    progress.finished(ran=True)
    progress.show(["b.obj", "c.obj"], force=True)
    line = stream.getvalue()
    assert line.startswith("\r\x1b[K[retopo-hub] 1/3 done, running: b.obj, c.obj, ETA ")
    progress.clear()
    assert stream.getvalue().endswith("\r\x1b[K")
    quiet = io.StringIO()
    silent = addon.jobs.batch.Progress(3, quiet)
    silent.show(["b.obj"], force=True)
    assert quiet.getvalue() == ""


def test_dry_run_sends_nothing(addon, blank, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CSM_API_KEY", raising=False)
    rock = _write(tmp_path / "rock.obj")
    crate = _write(tmp_path / "crate.glb")
    with Remote(CsmEmulator, KEY) as emu:
        configure(addon, "csm", emu.base_url, api_key=KEY)
        try:
            argv = [rock, crate, "--out", tmp_path / "o", "--provider", "csm", "--dry-run", "--json"]
            code, out, err = _run(addon, argv, capsys)
            assert code == 0, err
            plans = _summary(out)["planned"]
            assert [Path(p["input"]).name for p in plans] == ["rock.obj", "crate.glb"]
            assert plans[0]["provider"] == "csm" and plans[0]["options"]["csm_model"] == "swift"
            assert "expected: CSM credits, price not published; about 5-10 min" in out
            assert "nothing was submitted" in out
            # An option the service refuses is caught without a request too.
            code, _, err = _run(addon, [*argv[:-1], "--model", "nope"], capsys)
            assert code == 2
        finally:
            reset(addon)
            addon.jobs.session.set_online_override(False)
        assert emu.requests == [], [(r.method, r.path) for r in emu.requests]
    assert not (tmp_path / "o" / "rock_report.json").exists()


def test_dry_run_of_local_jobs_starts_no_worker(addon, blank, tmp_path, capsys):
    rock = _write(tmp_path / "rock.obj")
    addon.jobs.session.shutdown()
    code, out, err = _run(addon, [rock, "--out", tmp_path / "o", "--faces", 5000, "--dry-run"], capsys)
    assert code == 1 and "rock.obj: target faces (5000) must be below the source" in err
    code, out, err = _run(addon, [rock, "--out", tmp_path / "o", "--faces", 300, "--dry-run"], capsys)
    assert code == 0, err
    assert "would submit rock.obj (1,280 triangles) to local: mode=quad, target_faces=300" in out
    assert addon.jobs.session._Session.host is None, "no worker host was started"
    assert not list((tmp_path / "jobs").glob("local-*")), "no job folder was made"


def test_the_launcher_starts_the_worker_host_before_bpy(blank, tmp_path):
    """bin/retopo-hub saves Blender's sys.path; the next run starts the worker host and an engine child
    with it while bpy loads, and the CLI takes them over."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    rock = _write(tmp_path / "rock.obj")
    env = dict(os.environ, RETOPO_HUB_PYTHON=sys.executable, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    for run in ("first", "second"):
        argv = [str(root / "bin" / "retopo-hub"), str(rock), "--out", str(tmp_path / run), "--faces", "300",
                "--json"]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert len(_summary(proc.stdout)["results"]) == 1
        saved = json.loads((tmp_path / "user" / "retopo-hub-python-paths.json").read_text())
        assert any("bpy" in path for path in saved), "Blender's own script folders are on it"
