# SPDX-License-Identifier: GPL-3.0-or-later
"""No secret in the .blend, the job records, the journal, reports, logs, exceptions or the CLI's JSON."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from emulators import SboxcoolEmulator
from emulators.remote import Remote

from tests.support.cloud import configure, reset
from tests.support.scene import ico_sphere, select_only

KEY = "sbox_tk_SUPERSECRET_4f9a1c"


@pytest.fixture
def sbox(addon, blank):
    with Remote(SboxcoolEmulator, api_key=KEY) as emu:
        configure(addon, "sboxcool", emu.base_url, api_key=KEY)
        yield emu
    reset(addon)


def _grep_tree(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_key_never_lands_in_blend_journal_reports_or_logs(addon, blank, sbox, tmp_path, caplog, capfd):
    bpy = blank
    caplog.set_level(logging.DEBUG)
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "sboxcool"
    rock.retopo_hub.sbox_format = "obj"
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    blend = tmp_path / "after_job.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    assert KEY.encode() not in blend.read_bytes()
    job_dir = Path(bpy.context.preferences.addons[addon.__name__].preferences.cache_dir)
    assert _grep_tree(job_dir, KEY.encode()) == []
    for record in bpy.context.scene.retopo_hub.jobs:
        assert KEY not in "".join(str(getattr(record, p)) for p in record.bl_rna.properties.keys())  # noqa: SIM118 - bpy collection

    out = tmp_path / "out"
    obj = tmp_path / "rock.obj"
    select_only(rock)
    bpy.ops.wm.obj_export(filepath=str(obj), export_selected_objects=True, export_materials=False)
    argv = [str(obj), "--out", str(out), "--provider", "sboxcool", "--format", "obj", "--json"]
    code = addon.jobs.cli.main(argv)
    assert code == 0
    assert _grep_tree(out, KEY.encode()) == []
    captured = capfd.readouterr()
    assert KEY not in captured.out and KEY not in captured.err
    assert KEY not in caplog.text
    assert sbox.credential_leaks() == []


def test_rejected_key_error_names_the_fix_not_the_key(addon, blank, sbox, caplog):
    bpy = blank
    caplog.set_level(logging.DEBUG)
    wrong = "sbox_tk_WRONG_but_still_secret_77"
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    prefs.sboxcool_api_key = wrong
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "sboxcool"
    rock.retopo_hub.sbox_format = "obj"
    with pytest.raises(RuntimeError) as info:
        bpy.ops.retopo_hub.submit()
    message = str(info.value)
    assert "SBOXCOOL_API_KEY" in message and wrong not in message
    assert wrong not in caplog.text
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "failed" and wrong not in record.message
