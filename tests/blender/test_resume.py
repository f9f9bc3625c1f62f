# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing lost, nothing paid twice: a Blender killed mid-job resumes its remote job on reopening, whether
the file was saved or never saved, and a re-run CLI command attaches instead of submitting again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from emulators import SboxcoolEmulator
from emulators.remote import Remote

from tests.support.cloud import configure, reset

HERE = Path(__file__).resolve().parents[1]
KEY = "sbox_tk_resume_secret_0001"


@pytest.fixture
def sbox(addon, blank):
    with Remote(SboxcoolEmulator, api_key=KEY, polls_per_step=3) as emu:
        configure(addon, "sboxcool", emu.base_url, api_key=KEY)
        yield emu
    reset(addon)


def _submit_and_die(emu, job_dir: Path, blend: Path | None) -> tuple[str, str]:
    argv = [sys.executable, str(HERE / "support" / "submit_and_die.py"), "sboxcool", emu.base_url, KEY,
            str(job_dir), str(blend) if blend else "-"] + (["save"] if blend else [])  # fmt: skip
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=180, env=dict(os.environ), check=False
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("REMOTE "))
    _, remote_id, job_id = line.split()
    return remote_id, job_id


def _finish_resumed(bpy, addon):
    records = [r for r in bpy.context.scene.retopo_hub.jobs if not addon.jobs.records.terminal(r.state)]
    assert records, "nothing was resumed"
    done = addon.jobs.step.run_blocking([r.job_id for r in records])
    return done


def test_killed_after_submit_saved_file_resumes_on_open(addon, blank, sbox, tmp_path):
    bpy = blank
    job_dir = bpy.context.preferences.addons[addon.__name__].preferences.cache_dir
    blend = tmp_path / "scene.blend"
    remote_id, job_id = _submit_and_die(sbox, Path(job_dir), blend)
    assert sbox.count("POST", r"/api/tools/model$") == 1
    bpy.ops.wm.open_mainfile(filepath=str(blend))  # load_post resumes
    (record,) = _finish_resumed(bpy, addon)
    assert record.job_id == job_id and record.remote_id == remote_id
    assert record.state == "done", record.message
    assert "Rock_retopo" in bpy.data.objects
    assert sbox.count("POST", r"/api/tools/model$") == 1, "a resumed job is never submitted twice"
    # Imported once: opening again does not import a second copy.
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    assert [o.name for o in bpy.data.objects].count("Rock_retopo") == 1
    assert not [r for r in bpy.context.scene.retopo_hub.jobs if not addon.jobs.records.terminal(r.state)]


def test_killed_before_any_save_resumes_from_the_journal(addon, blank, sbox):
    bpy = blank
    job_dir = Path(bpy.context.preferences.addons[addon.__name__].preferences.cache_dir)
    remote_id, job_id = _submit_and_die(sbox, job_dir, None)
    entry = json.loads((job_dir / "journal" / f"{job_id}.json").read_text())
    assert entry["remote_id"] == remote_id and KEY not in json.dumps(entry)
    bpy.ops.wm.read_homefile(use_empty=True)  # the unsaved file's jobs come back with the startup file
    (record,) = _finish_resumed(bpy, addon)
    assert record.state == "done", record.message
    assert "Rock_retopo" in bpy.data.objects
    assert sbox.count("POST", r"/api/tools/model$") == 1
    assert not (job_dir / "journal" / f"{job_id}.json").exists(), "imported jobs leave the journal"


def test_attach_by_remote_id(addon, blank, sbox):
    bpy = blank
    job_dir = Path(bpy.context.preferences.addons[addon.__name__].preferences.cache_dir)
    remote_id, _ = _submit_and_die(sbox, job_dir, None)
    for entry in (job_dir / "journal").glob("*.json"):
        entry.unlink()  # as if the journal were lost: only the id is left
    bpy.ops.mesh.primitive_cube_add()
    assert bpy.ops.retopo_hub.attach_job(provider="sboxcool", remote_id=remote_id) == {"FINISHED"}
    assert "Cube_retopo" in bpy.data.objects
    assert sbox.count("POST", r"/api/tools/model$") == 1


def _ctrl_c() -> None:
    raise KeyboardInterrupt


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # the CLI's handler turns it into an interrupt
    time.sleep(1.0)  # the handler runs at the next bytecode; never reached


@pytest.mark.parametrize(("interrupt", "code"), [(_ctrl_c, 130), (_sigterm, 143)], ids=["ctrl-c", "sigterm"])
def test_interrupted_cli_run_resumes_instead_of_resubmitting(
    addon, blank, sbox, tmp_path, monkeypatch, capsys, interrupt, code
):
    bpy = blank
    sample = tmp_path / "rock.obj"
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=4)
    bpy.ops.wm.obj_export(filepath=str(sample), export_selected_objects=True, export_materials=False)
    argv = [str(sample), "--out", str(tmp_path / "out"), "--provider", "sboxcool", "--format", "obj",
            "--cache", str(tmp_path / "cli-jobs"), "--online-mode", "--json"]  # fmt: skip
    engine = addon.jobs
    real_step = engine.step.step
    calls = {"n": 0}

    def crash_after_submit(*args, **kwargs):
        calls["n"] += 1
        busy = real_step(*args, **kwargs)
        record = bpy.context.scene.retopo_hub.jobs[-1]
        if record.remote_id:
            interrupt()  # once the service has the job
        return busy

    monkeypatch.setattr(engine.step, "step", crash_after_submit)
    capsys.readouterr()
    assert addon.jobs.cli.main(argv) == code
    err = capsys.readouterr().err
    assert err.strip().endswith("interrupted; re-run the same command to resume") and "Traceback" not in err
    monkeypatch.setattr(engine.step, "step", real_step)
    assert sbox.count("POST", r"/api/tools/model$") == 1
    assert addon.jobs.cli.main(argv) == 0
    assert sbox.count("POST", r"/api/tools/model$") == 1, "the re-run attached to the recorded job"
    assert (tmp_path / "out" / "rock_retopo.obj").is_file()
