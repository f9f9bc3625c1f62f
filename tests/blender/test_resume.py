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


def _rock_cli(bpy, tmp_path, *extra) -> list[str]:
    sample = tmp_path / "rock.obj"
    if not sample.exists():
        bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=4)
        bpy.ops.wm.obj_export(filepath=str(sample), export_selected_objects=True, export_materials=False)
    return [str(sample), "--out", str(tmp_path / "out"), "--provider", "sboxcool", "--format", "obj",
            "--cache", str(tmp_path / "cli-jobs"), "--online-mode", *extra]  # fmt: skip


def _wait(done, guard_s: float = 30.0) -> None:
    end = time.monotonic() + guard_s
    while not done():
        assert time.monotonic() < end, "never happened"
        time.sleep(0.05)


def _kill_host_once_the_post_arrives(engine, sbox, monkeypatch):
    """Make the step function SIGKILL the worker host once sboxcool has received the paid POST; returns the
    real step function, to put back."""
    real_step = engine.step.step

    def kill_host_once_the_post_arrived(*args, **kwargs):
        host = engine.session.worker_host()
        if host._proc is not None and sbox.count("POST", r"/api/tools/model$"):
            os.kill(host._proc.pid, signal.SIGKILL)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(engine.step, "step", kill_host_once_the_post_arrived)
    return real_step


def test_killed_during_the_submit_post_a_rerun_refuses_until_resubmit(
    addon, blank, sbox, tmp_path, monkeypatch, capsys
):
    """The worker dies while the paid POST is on the wire (the service still creates the job): the run says
    it may exist, a plain re-run refuses to pay again, and only --resubmit submits anew."""
    bpy = blank
    argv = _rock_cli(bpy, tmp_path)
    sbox.inject("POST", r"/api/tools/model$", "slow", seconds=2.0)  # processed after its client is gone
    engine = addon.jobs
    real_step = _kill_host_once_the_post_arrives(engine, sbox, monkeypatch)
    capsys.readouterr()
    assert engine.cli.main(argv) == 1
    first = capsys.readouterr().err
    monkeypatch.setattr(engine.step, "step", real_step)
    (line,) = [x for x in first.splitlines() if x.startswith("retopo-hub: rock.obj")]
    assert "may have reached sboxcool" in line and "--resubmit" in line, line
    _wait(lambda: len(sbox.submissions) == 1)  # the service did create the job

    assert engine.cli.main(argv) == 1
    again = capsys.readouterr().err
    assert "may have reached sboxcool" in again and "--resubmit" in again and "Traceback" not in again
    assert sbox.count("POST", r"/api/tools/model$") == 1, "a plain re-run never pays again"

    assert engine.cli.main([*argv, "--resubmit"]) == 0
    assert "billed too" in capsys.readouterr().err
    assert sbox.count("POST", r"/api/tools/model$") == 2, "--resubmit is the user's explicit choice"
    assert (tmp_path / "out" / "rock_retopo.obj").is_file()


def test_killed_before_the_submit_was_sent_a_rerun_submits_at_once(addon, blank, sbox, tmp_path, monkeypatch):
    """Nothing reached the service (killed while exporting): the re-run just submits, nothing is in doubt."""
    bpy = blank
    argv = _rock_cli(bpy, tmp_path)
    engine = addon.jobs
    journal = addon.core.journal.Journal(tmp_path / "cli-jobs" / "journal")
    real_step = engine.step.step

    def kill_host_at_once(*args, **kwargs):
        host = engine.session.worker_host()
        if host._proc is not None and host.running_ids():
            os.kill(host._proc.pid, signal.SIGSTOP)  # frozen before it can send anything
            os.kill(host._proc.pid, signal.SIGKILL)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(engine.step, "step", kill_host_at_once)
    assert engine.cli.main(argv) == 1
    monkeypatch.setattr(engine.step, "step", real_step)
    (entry,) = journal.entries()
    assert not entry["submit_sent"] and not entry["remote_id"]
    assert sbox.count("POST", r"/api/tools/model$") == 0
    assert engine.cli.main(argv) == 0
    assert sbox.count("POST", r"/api/tools/model$") == 1
    states = sorted(e["state"] for e in journal.entries())
    assert states == ["cancelled", "done"], states


def test_a_second_run_of_the_same_input_waits_and_reuses_the_first(addon, blank, sbox, tmp_path, capsys):
    """Two runs of one command at once: the second waits on the key's lock and then imports the first run's
    downloaded results. One POST."""
    bpy = blank
    argv = _rock_cli(bpy, tmp_path)
    sbox.inject("GET", r"/api/tools/model/", "slow", seconds=1.5, times=2)  # the first run is still busy
    env = dict(os.environ, RETOPO_HUB_PYTHON=sys.executable, BLENDER_USER_RESOURCES=str(tmp_path / "user"),
               SBOXCOOL_BASE_URL=sbox.base_url, SBOXCOOL_API_KEY=KEY)  # fmt: skip
    first = subprocess.Popen(
        [str(HERE.parent / "bin" / "retopo-hub"), *argv],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait(lambda: sbox.count("POST", r"/api/tools/model$") == 1 or first.poll() is not None, 120)
        capsys.readouterr()
        assert addon.jobs.cli.main(argv) == 0
        err = capsys.readouterr().err
    finally:
        _, first_err = first.communicate(timeout=180)
    assert first.returncode == 0, first_err[-2000:]
    assert "waiting for it" in err, err[-2000:]
    assert sbox.count("POST", r"/api/tools/model$") == 1, "the second run reused the first one's job"


def test_a_stopped_worker_host_is_noticed_and_replaced(addon, blank, sbox, tmp_path, monkeypatch):
    """SIGSTOP the worker host mid-job: its silence gives it away, it is replaced, and the job resumes
    polling its remote id (one POST) instead of hanging the CLI forever."""
    bpy = blank
    monkeypatch.setattr(addon.worker.ipc, "SILENCE_LIMIT_S", 3.0)
    argv = _rock_cli(bpy, tmp_path)
    engine = addon.jobs
    real_step = engine.step.step
    stopped = []

    def stop_host_once_submitted(*args, **kwargs):
        busy = real_step(*args, **kwargs)
        record = bpy.context.scene.retopo_hub.jobs[-1]
        host = engine.session.worker_host()
        if record.remote_id and not stopped and host._proc is not None:
            stopped.append(host._proc.pid)
            os.kill(host._proc.pid, signal.SIGSTOP)
        return busy

    monkeypatch.setattr(engine.step, "step", stop_host_once_submitted)
    started = time.monotonic()
    assert engine.cli.main(argv) == 0
    assert stopped and time.monotonic() - started < 120
    with pytest.raises(ProcessLookupError):
        os.kill(stopped[0], 0)
    assert sbox.count("POST", r"/api/tools/model$") == 1


def test_the_panel_offers_attach_or_submit_again_for_a_submit_in_doubt(addon, blank, sbox, monkeypatch):
    """In Blender the same choice is two buttons: Attach Job (the service may have it) or Submit Again."""
    bpy = blank
    from tests.support.layout import draw_panel

    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=3)
    rock = bpy.context.active_object
    rock.name = "Rock"
    rock.retopo_hub.provider = "sboxcool"
    rock.retopo_hub.sbox_format = "obj"
    sbox.inject("POST", r"/api/tools/model$", "slow", seconds=2.0)
    engine = addon.jobs
    real_step = _kill_host_once_the_post_arrives(engine, sbox, monkeypatch)
    with pytest.raises(RuntimeError, match="may have reached sboxcool"):
        bpy.ops.retopo_hub.submit()  # headless: the operator's one-line error
    monkeypatch.setattr(engine.step, "step", real_step)
    (record,) = bpy.context.scene.retopo_hub.jobs
    assert record.state == "failed" and "may have reached sboxcool" in record.message
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    buttons = [entry[1] for entry in log if entry[0] == "operator"]
    assert "retopo_hub.resubmit_job" in buttons and buttons.count("retopo_hub.attach_job") == 2  # + footer
    _wait(lambda: len(sbox.submissions) == 1)
    assert bpy.ops.retopo_hub.resubmit_job(job_id=record.job_id) == {"FINISHED"}
    assert sbox.count("POST", r"/api/tools/model$") == 2
    assert any(o.get("retopo_hub_source") == "Rock" for o in bpy.data.objects)
    old = next(r for r in bpy.context.scene.retopo_hub.jobs if r.job_id == record.job_id)
    assert old.message == "submitted again as a new job"
    assert engine.records.resubmit_offer(old) is None
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    assert "retopo_hub.resubmit_job" not in [entry[1] for entry in log if entry[0] == "operator"]
