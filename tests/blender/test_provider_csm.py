# SPDX-License-Identifier: GPL-3.0-or-later
"""The CSM.ai provider end to end in real Blender against the CSM emulator: operator, CLI and failures.

Every test asserts on what the emulator recorded: the session body, the inline GLB, the key on the API host
and never on the blob host (the fixture checks ``credential_leaks()`` and ``internal_errors`` after each).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import bpy
import numpy as np
import pytest
from emulators import CsmEmulator
from emulators.checks import obj_stats, png_stats
from emulators.remote import Remote

from tests.support.cloud import configure, reset, worker_module
from tests.support.layout import draw_panel
from tests.support.scene import fingerprint, ico_sphere

KEY = "csm-secret-key-0123456789"
DATA_URI = "data:model/gltf-binary;base64,"
SESSIONS = r"^/v3/sessions/?$"


@pytest.fixture
def csm(addon, blank, monkeypatch):
    monkeypatch.delenv("CSM_API_KEY", raising=False)
    monkeypatch.delenv("CSM_BASE_URL", raising=False)
    addon.jobs.session.set_online_override(False)  # other suites' CLI runs leave it on
    with Remote(CsmEmulator, KEY) as emu:
        configure(addon, "csm", emu.base_url, api_key=KEY)
        try:
            yield emu
        finally:
            reset(addon)
            addon.jobs.session.set_online_override(False)  # the CLI turns it on for the whole session
            addon.jobs.session.set_cache_dir(None)
        assert not emu.internal_errors, emu.internal_errors
        assert not emu.credential_leaks(), [(r.method, r.path) for r in emu.credential_leaks()]


def _posts(emu: CsmEmulator) -> list:
    return [r for r in emu.requests if r.method == "POST" and r.server == "api"]


def _submit_fails(match: str) -> str:
    with pytest.raises(RuntimeError, match=match) as info:
        bpy.ops.retopo_hub.submit()
    record = bpy.context.scene.retopo_hub.jobs[-1] if bpy.context.scene.retopo_hub.jobs else None
    message = str(info.value).strip().splitlines()[-1]
    assert "\n" not in (record.message if record else "")
    assert KEY not in message
    return message


def test_operator_sends_inline_glb_and_imports_every_variation(csm, addon):
    rock = ico_sphere("Rock")
    bpy.context.view_layer.update()  # ico_sphere leaves matrix_world stale until the next depsgraph update
    before = fingerprint(rock)
    rock.retopo_hub.provider = "csm"
    rock.retopo_hub.csm_model = "swift"
    rock.retopo_hub.quads = True
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    assert fingerprint(rock) == before, "the original must never be modified"
    results = {o.name: o for o in bpy.data.collections["Rock_RetopoHub"].objects}
    assert set(results) == {"Rock_csm_1", "Rock_csm_2"}
    for obj in results.values():
        sizes = np.empty(len(obj.data.polygons), np.int32)
        obj.data.polygons.foreach_get("loop_total", sizes)
        assert len(sizes) > 1000 and (sizes == 4).all()
        assert obj["retopo_hub_provider"] == "csm"
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done" and record.imported
    (post,) = _posts(csm)
    assert record.remote_id == csm.submissions[0]["id"] == results["Rock_csm_1"]["retopo_hub_remote_id"]

    # What CSM received: the documented body, with the snapshot inline as a GLB data URI.
    assert post.headers["x-api-key"] == KEY
    assert post.json["type"] == "retopology"
    assert {k: post.json["input"][k] for k in ("model", "quads")} == {"model": "swift", "quads": True}
    mesh = post.json["input"]["mesh"]
    assert mesh.startswith(DATA_URI)
    glb = addon.formats.glb.read_glb(base64.b64decode(mesh[len(DATA_URI) :]))
    assert len(np.unique(glb["verts"], axis=0)) == len(rock.data.vertices)
    assert len(glb["face_sizes"]) == len(rock.data.polygons)  # every triangle, in object space
    assert np.abs(glb["verts"]).max() < 1.1
    assert csm.submissions[0]["mesh_kind"] == "data"

    # Every API call carried the key; the blob host served 2 OBJ + 2 PNG with none.
    api = [r for r in csm.requests if r.server == "api"]
    assert all(r.headers.get("x-api-key") == KEY for r in api)
    cdn = [r for r in csm.requests if r.server == "cdn"]
    assert sorted(Path(r.path).name for r in cdn) == [
        "retopo_mesh_0.obj", "retopo_mesh_1.obj", "retopo_render_0.png", "retopo_render_1.png",
    ]  # fmt: skip
    assert not any("x-api-key" in r.headers or "authorization" in r.headers for r in cdn)
    # Each variation's PNG render is downloaded and loaded as an image linked from its object.
    work = Path(record.work_dir)
    for n in (1, 2):
        assert png_stats((work / f"csm_{n}.png").read_bytes()) == (128, 128)
        assert obj_stats((work / f"csm_{n}.obj").read_bytes()).faces > 1000
        image = bpy.data.images[results[f"Rock_csm_{n}"]["retopo_hub_preview"]]
        assert Path(bpy.path.abspath(image.filepath)) == work / f"csm_{n}.png"
        assert tuple(image.size) == (128, 128)
    # The jobs panel shows both renders side by side.
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    assert sum(1 for entry in log if entry[0] == "icon") == 2


def _sample_obj(tmp_path: Path) -> Path:
    ico_sphere("Sample", subdivisions=3, location=(0, 0, 0))
    path = tmp_path / "sample.obj"
    bpy.ops.wm.obj_export(filepath=str(path), export_selected_objects=True, export_materials=False)
    return path


def test_cli_with_environment_credentials(csm, addon, tmp_path, capsys, monkeypatch):
    sample = _sample_obj(tmp_path)
    reset(addon)  # the preferences stay empty: everything comes from the environment
    monkeypatch.setenv("CSM_API_KEY", KEY)
    monkeypatch.setenv("CSM_BASE_URL", csm.base_url)
    monkeypatch.setenv("RETOPO_HUB_TIME_SCALE", "0.01")
    out = tmp_path / "out"
    base = [sample, "--out", out, "--provider", "csm", "--online-mode", "--json", "--cache", tmp_path / "c"]

    code = addon.jobs.cli.main([str(a) for a in [*base, "--model", "precision"]])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    (result,) = json.loads(stdout.strip().splitlines()[-1])["results"]
    names = sorted(Path(o["path"]).name for o in result["outputs"])
    assert names == ["sample_csm_1.obj", "sample_csm_2.obj"]
    assert all(Path(o["path"]).stat().st_size > 1000 and o["quads"] > 1000 for o in result["outputs"])
    assert result["remote_id"] == csm.submissions[0]["id"]
    assert csm.submissions[0]["model"] == "precision" and csm.submissions[0]["mesh_kind"] == "data"

    code = addon.jobs.cli.main(
        [str(a) for a in [*base, "--mesh-url", "ASSET_1747335632_4906245", "--no-quads"]]
    )
    _, err = capsys.readouterr()
    assert code == 0, err
    post = _posts(csm)[-1]
    assert post.json["input"] == {"mesh": "ASSET_1747335632_4906245", "model": "swift", "quads": False}
    assert len(post.body) < 500, "an asset id run must upload nothing"
    assert csm.submissions[1]["mesh_kind"] == "asset"
    assert len(csm.submissions) == 2

    monkeypatch.delenv("CSM_API_KEY")
    code = addon.jobs.cli.main([str(a) for a in base])
    _, err = capsys.readouterr()
    assert code == 1
    (line,) = [ln for ln in err.splitlines() if ln.startswith("retopo-hub: sample.obj:")]
    assert "CSM_API_KEY" in line and "Preferences" in line
    assert len(csm.submissions) == 2


def test_missing_key_and_online_access_off_send_nothing(csm, addon):
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    configure(addon, "csm", csm.base_url, api_key="")
    message = _submit_fails("no CSM.ai credentials")
    assert "CSM_API_KEY" in message and "Preferences > Add-ons > Retopo Hub" in message
    assert len(bpy.context.scene.retopo_hub.jobs) == 0, "refused before any job exists"

    configure(addon, "csm", csm.base_url, api_key=KEY)
    bpy.context.preferences.system.use_online_access = False
    jobs = len(bpy.context.scene.retopo_hub.jobs)
    message = _submit_fails("Allow Online Access")
    assert "--online-mode" in message
    assert len(bpy.context.scene.retopo_hub.jobs) == jobs, "refused before any job exists"
    bpy.context.preferences.system.use_online_access = True

    rock.retopo_hub.csm_mesh_url = "http://example.com/rock.glb?sig=abc"
    message = _submit_fails("must be an https:// link to a .glb file or a CSM ASSET_ id")
    assert "sig=abc" not in message
    assert csm.requests == [], "nothing may reach the service"


def test_failed_session_reports_the_reason_and_imports_nothing(csm):
    csm.fail_next_job("Input mesh is not watertight")
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    _submit_fails("Input mesh is not watertight")
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "failed" and not record.imported
    assert record.remote_id in record.message
    assert "Rock_RetopoHub" not in bpy.data.collections
    assert not [o for o in bpy.data.objects if o.name.startswith("Rock_csm")]
    assert csm.count("GET", "^/", server="cdn") == 0


def test_wrong_key_is_reported_as_a_key_problem(csm, addon):
    configure(addon, "csm", csm.base_url, api_key="not-the-right-key-42")
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    message = _submit_fails("refused the API key")
    assert "check the API key" in message and "CSM_API_KEY" in message
    assert "not-the-right-key-42" not in message
    assert csm.count("POST", SESSIONS) == 1 and not csm.submissions


def test_rate_limited_submit_is_retried_once_and_creates_one_session(csm):
    csm.inject("POST", SESSIONS, "status", status=429, retry_after=0)
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    assert csm.count("POST", SESSIONS) == 2
    assert len(csm.submissions) == 1 and len(csm.jobs) == 1
    assert {"Rock_csm_1", "Rock_csm_2"} <= set(bpy.data.objects.keys())


def test_server_error_on_submit_is_not_retried(csm):
    csm.inject("POST", SESSIONS, "status", status=500, times=None)
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    message = _submit_fails("CSM.ai had an internal error")
    assert "HTTP 500" in message and "may have been created anyway" in message
    assert csm.count("POST", SESSIONS) == 1, "a submit the service may have taken is never repeated"
    assert "Rock_RetopoHub" not in bpy.data.collections


def test_mesh_reference_forms(addon):
    ref = worker_module(addon, "providers.csm").mesh_reference
    assert ref(" ASSET_1747335632_4906245 ") == "ASSET_1747335632_4906245"
    assert ref("https://cdn.example.com/a/b.GLB?X-Sig=1") == "https://cdn.example.com/a/b.GLB?X-Sig=1"
    for bad in ("ASSET_", "asset_12", "https://x.example.com/a.obj", "ftp://x/a.glb", "https:///a.glb",
                "https://x.example.com/a b.glb", "data:model/gltf-binary;base64,Zm9v"):  # fmt: skip
        with pytest.raises(addon.core.errors.InputError, match="CSM mesh URL"):
            ref(bad)


@pytest.mark.parametrize("status", ["canceled", "cancelled"])
def test_an_undocumented_final_status_ends_the_session_at_once(csm, status):
    """CSM documents incomplete/complete/failed; a cancelled session must not be polled until the deadline."""
    csm.inject("GET", r"^/v3/sessions/", "status", status=200, times=None,
               body={"_id": "SESSION_x", "status": status, "output": {"meshes": []}})  # fmt: skip
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    started = time.monotonic()
    message = _submit_fails(f"reported the job as '{status}'")
    assert time.monotonic() - started < 20 and "submit again" in message
    assert "Rock_RetopoHub" not in bpy.data.collections


def test_a_failed_session_is_journaled_and_a_rerun_says_it_pays_again(csm, addon, tmp_path, capsys):
    """A remote failure is terminal in the journal: a re-run never polls the dead session again."""
    sample = _sample_obj(tmp_path)
    argv = [str(a) for a in [sample, "--out", tmp_path / "out", "--provider", "csm", "--online-mode",
                             "--cache", tmp_path / "c"]]  # fmt: skip
    csm.fail_next_job("Input mesh is not watertight")
    assert addon.jobs.cli.main(argv) == 1
    journal = addon.core.journal.Journal(tmp_path / "c" / "journal")
    (entry,) = journal.entries()
    assert entry["state"] == "failed" and "watertight" in entry["message"]
    polls = csm.count("GET", "^/v3/sessions/" + entry["remote_id"])
    capsys.readouterr()
    assert addon.jobs.cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "submitting a new job, which CSM.ai bills again" in err and entry["remote_id"] in err
    assert len(_posts(csm)) == 2
    assert csm.count("GET", "^/v3/sessions/" + entry["remote_id"]) == polls, "the dead session is not polled"


def test_a_2xx_submit_answer_without_a_usable_id_warns_that_the_job_may_exist(csm):
    csm.inject("POST", r"^/v3/sessions$", "status", status=200, body={"_id": 12345, "status": "incomplete"})
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    message = _submit_fails("the job may have been created anyway")
    assert "check your CSM.ai sessions before submitting again" in message


def test_a_poll_that_gives_up_names_the_session_and_how_to_attach_it(csm):
    csm.inject("GET", r"^/v3/sessions/", "status", status=503, times=None)
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    message = _submit_fails("may still finish: attach it later")
    session = csm.submissions[0]["id"]
    assert f"--attach {session}" in message


def test_a_rate_limited_poll_is_waited_out_not_abandoned(csm):
    csm.inject("GET", r"^/v3/sessions/", "status", status=429, times=8, retry_after=0)
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = "csm"
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    assert "Rock_csm_1" in bpy.data.objects and len(_posts(csm)) == 1


def test_a_full_output_disk_keeps_the_paid_job_for_the_rerun(csm, addon, tmp_path, capsys, monkeypatch):
    """Writing --out fails: one line naming the folder, no traceback; the re-run imports the kept results
    and pays nothing again."""
    sample = _sample_obj(tmp_path)
    out = tmp_path / "out"
    argv = [str(a) for a in [sample, "--out", out, "--provider", "csm", "--online-mode", "--json",
                             "--cache", tmp_path / "c"]]  # fmt: skip
    cli = addon.jobs.cli
    real_export = cli.export_object

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "export_object", disk_full)
    capsys.readouterr()
    assert cli.main(argv) == 1
    stdout, err = capsys.readouterr()
    (line,) = [x for x in err.splitlines() if x.startswith("retopo-hub: sample.obj")]
    assert f"could not write the results into {out}: No space left on device" in line
    assert "Traceback" not in err and json.loads(stdout.strip().splitlines()[-1])["errors"]
    monkeypatch.setattr(cli, "export_object", real_export)
    assert cli.main(argv) == 0
    assert len(_posts(csm)) == 1, "the re-run imported the kept results: one paid session"
    assert (out / "sample_csm_1.obj").is_file()
    (entry,) = addon.core.journal.Journal(tmp_path / "c" / "journal").entries()
    assert entry["state"] == "done", "done once written; kept so the same command reuses its results"
    assert cli.main(argv) == 0
    assert len(_posts(csm)) == 1, "a third run reuses the downloaded results too"
