# SPDX-License-Identifier: GPL-3.0-or-later
"""The cloud-service emulators, driven with plain ``requests`` exactly as a client would.

Covers each documented happy path end to end (with real, parsed downloads), auth failures, range checks at and
beyond their bounds, concurrency limits, sboxcool bone mapping, link expiry, every fault kind, and that no
credential ever reaches a foreign file host (checked after every test by the fixtures).
"""

from __future__ import annotations

import base64
import io
import struct
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from emulators import CsmEmulator, Emulator, SboxcoolEmulator, ScenarioEmulator, assets
from emulators.checks import glb_stats, obj_stats, png_stats

CSM_KEY, SCN_KEY, SCN_SECRET, SBOX_KEY = "csm-key-123", "scn-key", "scn-secret", "sbox_tk_abc"
FBX_STUB = assets.FBX_BINARY_MAGIC + b"\x1a\x00" + struct.pack("<I", 7400) + b"\x00" * 200
SCN_AUTH = {"Authorization": "Basic " + base64.b64encode(f"{SCN_KEY}:{SCN_SECRET}".encode()).decode()}
SBOX_AUTH = {"Authorization": f"Bearer {SBOX_KEY}"}
GLB_URL = "https://files.example.com/in/statue.glb"


class Client:
    """A bare client: a root URL and the auth headers, nothing else."""

    def __init__(self, root: str, headers: dict[str, str]) -> None:
        self.root, self.headers = root, headers

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.root + path, headers=self.headers, timeout=kw.pop("timeout", 5), **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return requests.post(self.root + path, headers=self.headers, timeout=5, **kw)


def fetch(url: str) -> requests.Response:
    return requests.get(url, timeout=5)  # downloads go out with no credentials at all


def _running(emu: Emulator) -> Iterator[Any]:
    with emu:
        yield emu
        assert not emu.internal_errors, emu.internal_errors
        assert not emu.credential_leaks()


@pytest.fixture
def csm() -> Iterator[CsmEmulator]:
    yield from _running(CsmEmulator(CSM_KEY))


@pytest.fixture
def scn() -> Iterator[ScenarioEmulator]:
    yield from _running(ScenarioEmulator(SCN_KEY, SCN_SECRET, max_concurrent=2))


@pytest.fixture
def sbox() -> Iterator[SboxcoolEmulator]:
    yield from _running(SboxcoolEmulator(SBOX_KEY))


def test_assets_generators() -> None:
    text, faces = assets.sphere_obj(2000)
    stats = obj_stats(text)
    assert faces == stats.faces == 1944 and set(stats.sides) == {4}
    assert stats.vertices == 6 * 18 * 18 + 2  # seams shared: V - E + F = 2 on a closed sphere
    assert set(obj_stats(assets.sphere_obj(2000, quads=False)[0]).sides) == {3}
    data, triangles = assets.sphere_glb(1000, uvs=False)
    glb = glb_stats(data)
    assert glb.triangles == triangles and not glb.has_uvs and glb.maximum[1] == pytest.approx(0.5, abs=0.01)
    assert png_stats(assets.base_color_png(32)) == (32, 32)
    vmdl = assets.vmdl_text(["a_lod0.glb", "a_lod1.glb"], [0.0, 16.6667])
    assert vmdl.startswith("<!-- kv3 encoding:text") and "switch_threshold = 16.6667" in vmdl
    assert vmdl.count('_class = "RenderMeshFile"') == 2


# ------------------------------------------------------------------------------------------------ CSM
def csm_body(mesh: str = GLB_URL, model: str = "swift", **extra: Any) -> dict[str, Any]:
    return {"type": "retopology", "input": {"mesh": mesh, "model": model, **extra}}


def test_csm_happy_path(csm: CsmEmulator) -> None:
    api = Client(csm.api_root, {"x-api-key": CSM_KEY})
    created = api.post("/v3/sessions", json=csm_body(quads=True))
    session = created.json()
    assert created.status_code == 201 and session["status"] == "incomplete"
    assert session["_id"].startswith("SESSION_") and session["input"]["mesh"]["_id"].startswith("ASSET_")
    assert session["input"]["mesh"]["data"]["glb_url"] == GLB_URL
    meshes = session["output"]["meshes"]
    assert len(meshes) == 2 and all(m["data"] == {"obj_url": "", "image_url": ""} for m in meshes)
    seen = []  # session status / mesh 0 / mesh 1, poll by poll
    for _ in range(4):
        body = api.get(f"/v3/sessions/{session['_id']}").json()
        seen.append("/".join([body["status"], *(m["status"] for m in body["output"]["meshes"])]))
    complete = "complete/complete/complete"
    assert seen == ["incomplete/incomplete/incomplete", "incomplete/complete/incomplete", complete, complete]
    urls = body["output"]["meshes"][0]["data"]
    folder = f"{csm.cdn_url}/inference-outputs/{csm.user_email}/{body['_id']}"
    assert urls["obj_url"] == f"{folder}/retopo_mesh_0.obj"
    assert urls["image_url"].endswith("/retopo_render_0.png")
    stats = obj_stats(fetch(urls["obj_url"]).content)
    assert stats.uvs > 0 and set(stats.sides) == {4} and 1500 <= stats.faces <= 2500
    png_stats(fetch(urls["image_url"]).content)
    assert csm.count("POST", r"^/v3/sessions") == len(csm.submissions) == 1
    assert csm.count("GET", r"/inference-outputs/", server="cdn") == 2


def test_csm_precision_triangles_asset_id_and_data_uri(csm: CsmEmulator) -> None:
    api = Client(csm.api_root, {"x-api-key": CSM_KEY})
    created = api.post("/v3/sessions/", json=csm_body("ASSET_1747335632_4906245", "precision", quads=False))
    assert created.status_code == 201 and created.json()["input"]["mesh"]["_id"] == "ASSET_1747335632_4906245"
    csm.complete_all()
    done = api.get(f"/v3/sessions/{created.json()['_id']}").json()
    stats = obj_stats(fetch(done["output"]["meshes"][1]["data"]["obj_url"]).content)
    assert set(stats.sides) == {3} and 5000 <= stats.faces <= 6000  # variation 2 of ~6000 faces
    glb, _ = assets.sphere_glb(200)
    uri = "data:model/gltf-binary;base64," + base64.b64encode(glb).decode()
    inline = api.post("/v3/sessions", json=csm_body(uri))
    assert inline.status_code == 201
    assert fetch(inline.json()["input"]["mesh"]["data"]["glb_url"]).content == glb
    assert csm.submissions[-1]["mesh_kind"] == "data" and csm.submissions[-1]["mesh_bytes"] == len(glb)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**csm_body(), "type": "image_to_3d"}, 400),
        ({"type": "retopology"}, 400),
        (csm_body(model="turbo"), 400),
        ({"type": "retopology", "input": {"mesh": GLB_URL}}, 400),
        (csm_body(quads="yes"), 400),
        (csm_body("https://a.b/c.fbx"), 400),
        (csm_body("ftp://a.b/c.glb"), 400),
        (csm_body("data:model/gltf-binary;base64,@@"), 400),
        (csm_body("data:model/gltf-binary;base64," + base64.b64encode(b"PK\x03\x04").decode()), 400),
        (csm_body("https://a.b/c.GLB?sig=1"), 201),
    ],
)
def test_csm_body_validation(csm: CsmEmulator, body: dict[str, Any], status: int) -> None:
    reply = Client(csm.api_root, {"x-api-key": CSM_KEY}).post("/v3/sessions", json=body)
    assert reply.status_code == status and len(csm.submissions) == (status == 201)
    assert status == 201 or isinstance(reply.json()["message"], str)


def test_csm_auth_failure_unknown_delete_and_polls_per_step(csm: CsmEmulator) -> None:
    for headers in ({}, {"x-api-key": "nope"}):
        reply = Client(csm.api_root, headers).post("/v3/sessions", json=csm_body())
        assert reply.status_code == 401 and "message" in reply.json()
    assert Client(csm.api_root, {}).get("/v3/sessions/SESSION_1_1").status_code == 401
    api = Client(csm.api_root, {"x-api-key": CSM_KEY})
    csm.fail_next_job("Retopology failed: mesh is not manifold")
    sid = api.post("/v3/sessions", json=csm_body()).json()["_id"]
    first, second = (api.get(f"/v3/sessions/{sid}").json() for _ in range(2))
    assert first["status"] == "incomplete" and second["status"] == "failed"
    assert second["error"] == "Retopology failed: mesh is not manifold"
    assert {m["status"] for m in second["output"]["meshes"]} == {"failed"}
    assert api.get("/v3/sessions/SESSION_0_0").status_code == 404
    deleted = requests.delete(f"{csm.api_root}/v3/sessions/{sid}", headers=api.headers, timeout=5)
    assert deleted.status_code == 405
    with CsmEmulator(CSM_KEY, polls_per_step=2, variations=1) as slow:
        slow_api = Client(slow.api_root, {"x-api-key": CSM_KEY})
        sid = slow_api.post("/v3/sessions", json=csm_body()).json()["_id"]
        walk = [slow_api.get(f"/v3/sessions/{sid}").json()["status"] for _ in range(4)]
        assert walk == ["incomplete", "incomplete", "incomplete", "complete"]


# ------------------------------------------------------------------------------------------------ Scenario
def scn_upload(emu: ScenarioEmulator, data: bytes, parts: int = 2) -> dict[str, Any]:
    """The documented flow: init, PUT each part (no auth), complete, poll until terminal."""
    api = Client(emu.api_root, SCN_AUTH)
    body = {
        "fileName": "statue.glb",
        "contentType": "model/gltf-binary",
        "fileSize": len(data),
        "parts": parts,
    }
    upload = api.post("/uploads", json={**body, "kind": "3d"}).json()["upload"]
    assert upload["status"] == "pending" and upload["partsCount"] == parts
    size = -(-len(data) // parts)
    for part in upload["parts"]:
        assert part["url"].startswith(emu.cdn_url)
        chunk = data[(part["number"] - 1) * size : part["number"] * size]
        assert requests.put(part["url"], data=chunk, timeout=5).status_code == 200
    done = api.post(f"/uploads/{upload['id']}/action", json={"action": "complete"})
    assert done.json()["upload"]["status"] == "validating"
    walk = [api.get(f"/uploads/{upload['id']}").json()["upload"] for _ in range(3)]
    assert [u["status"] for u in walk][:1] == ["validated"]
    return walk[-1]


def scn_generate(emu: ScenarioEmulator, **body: Any) -> requests.Response:
    return Client(emu.api_root, SCN_AUTH).post("/generate/custom/model_tripo-retopology", json=body)


def scn_asset(emu: ScenarioEmulator) -> str:
    return emu.add_asset(assets.sphere_glb(100)[0], "in.glb", "model/gltf-binary", "test")


def test_scenario_happy_path(scn: ScenarioEmulator) -> None:
    api = Client(scn.api_root, SCN_AUTH)
    upload = scn_upload(scn, assets.sphere_glb(5000)[0])
    assert upload["status"] == "imported" and upload["entityId"].startswith("asset_")
    created = scn_generate(scn, model=upload["entityId"], faceLimit=1000, bake=True).json()["job"]
    assert created["status"] == "queued"
    walk = [api.get(f"/jobs/{created['jobId']}").json()["job"] for _ in range(6)]
    assert [j["status"] for j in walk] == ["warming-up", *["in-progress"] * 3, "success", "success"]
    progress = [j["progress"] for j in walk]
    assert progress == sorted(progress) and progress[-1] == 1.0
    history = [h["status"] for h in walk[-1]["statusHistory"]]
    assert history == ["queued", "warming-up", *["in-progress"] * 3, "success"]
    (asset_id,) = walk[-1]["metadata"]["assetIds"]
    asset = api.get(f"/assets/{asset_id}").json()["asset"]
    assert asset["kind"] == "3d" and asset["mimeType"] == "model/gltf-binary"
    data = fetch(asset["url"]).content
    stats = glb_stats(data)
    assert len(data) == asset["properties"]["size"] and stats.textured and stats.has_uvs
    assert 800 <= stats.triangles <= 1200 and scn.jobs[created["jobId"]].data["faces"] == stats.triangles
    assert len(scn.submissions) == 1 and scn.submissions[0]["faceLimit"] == 1000


@pytest.mark.parametrize(
    "patch",
    [{"kind": "image"}, {"parts": 0}, {"parts": 1.5}, {"fileSize": 0}, {"fileSize": "10"}, {"fileName": ""}],
)
def test_scenario_upload_validation(scn: ScenarioEmulator, patch: dict[str, Any]) -> None:
    body = {"fileName": "a.glb", "contentType": "model/gltf-binary", "fileSize": 10, "parts": 1, "kind": "3d"}
    assert Client(scn.api_root, SCN_AUTH).post("/uploads", json={**body, **patch}).status_code == 400
    for headers in ({}, {"Authorization": "Basic " + base64.b64encode(b"scn-key:bad").decode()}):
        assert Client(scn.api_root, headers).post("/uploads", json=body).status_code == 401


def test_scenario_upload_parts_rules(scn: ScenarioEmulator) -> None:
    api = Client(scn.api_root, SCN_AUTH)
    body = {"fileName": "a.obj", "contentType": "text/plain", "fileSize": 12, "parts": 2, "kind": "3d"}
    upload = api.post("/uploads", json=body).json()["upload"]
    first, second = (part["url"] for part in upload["parts"])
    complete = f"/uploads/{upload['id']}/action"
    assert api.post(complete, json={"action": "complete"}).status_code == 400  # no part yet
    mixed = requests.put(first, data=b"abcdef", headers=SCN_AUTH, timeout=5)
    assert mixed.status_code == 400 and b"<Error>" in mixed.content
    scn.requests.remove(next(r for r in scn.requests if r.server == "cdn"))  # the deliberate leak
    assert requests.put(first, data=b"abcdef", timeout=5).status_code == 200
    assert requests.put(second, data=b"ghi", timeout=5).status_code == 200
    assert api.post(complete, json={"action": "complete"}).status_code == 400  # 9 bytes, 12 announced
    assert requests.put(second, data=b"ghijkl", timeout=5).status_code == 200
    assert api.post(complete, json={"action": "complete"}).status_code == 200
    failed = [api.get(f"/uploads/{upload['id']}").json()["upload"] for _ in range(2)][-1]
    assert failed["status"] == "failed" and failed["errorMessage"] and "entityId" not in failed


# faceLimit:quad -> status; 500..20000 triangles, 500..10000 with quad, integers only.
SCN_CASES = "499:0:400 500:0:200 20000:0:200 20001:0:400 10000:1:200 10001:1:400 1000.5:0:400"


@pytest.mark.parametrize("case", SCN_CASES.split())
def test_scenario_face_limit(scn: ScenarioEmulator, case: str) -> None:
    limit, quad, status = case.split(":")
    reply = scn_generate(scn, model=scn_asset(scn), faceLimit=float(limit), quad=quad == "1")
    assert reply.status_code == int(status)


def test_scenario_bad_bodies_failure_and_unknown_ids(scn: ScenarioEmulator) -> None:
    api = Client(scn.api_root, SCN_AUTH)
    asset_id = scn_asset(scn)
    assert scn_generate(scn, model="asset_missing").status_code == 400
    assert scn_generate(scn, model=asset_id, quad="true").status_code == 400
    assert not scn.submissions
    scn.fail_next_job("Model could not be retopologized")
    job_id = scn_generate(scn, model=asset_id).json()["job"]["jobId"]
    job = [api.get(f"/jobs/{job_id}").json()["job"] for _ in range(2)][-1]
    assert job["status"] == "failure" and job["metadata"]["error"] == "Model could not be retopologized"
    assert job["metadata"]["assetIds"] == []
    assert api.get("/jobs/job_nope").status_code == api.get("/assets/asset_nope").status_code == 404


def test_scenario_concurrency_429(scn: ScenarioEmulator) -> None:
    asset_id = scn_asset(scn)
    assert [scn_generate(scn, model=asset_id).status_code for _ in range(2)] == [200, 200]
    limited = scn_generate(scn, model=asset_id)
    assert limited.status_code == 429
    assert limited.json()["details"] == {"actionName": "model_run", "actionLimit": 2}
    scn.complete_all()
    assert scn_generate(scn, model=asset_id).status_code == 200


def test_scenario_switches_fbx_and_expiry() -> None:
    switches = {"job_id_field": "id", "failure_status": "failed", "fbx_bytes": FBX_STUB}
    with ScenarioEmulator(SCN_KEY, SCN_SECRET, **switches) as emu:
        api = Client(emu.api_root, SCN_AUTH)
        emu.fail_next_job("Tripo task failed")
        job = scn_generate(emu, model=scn_asset(emu)).json()["job"]
        assert "jobId" not in job
        assert [api.get(f"/jobs/{job['id']}").json()["job"]["status"] for _ in range(2)][-1] == "failed"
        quad = scn_generate(emu, model=scn_asset(emu), quad=True, faceLimit=2000).json()["job"]
        emu.complete_all()
        (result,) = api.get(f"/jobs/{quad['id']}").json()["job"]["metadata"]["assetIds"]
        asset = api.get(f"/assets/{result}").json()["asset"]
        assert asset["mimeType"] == "model/fbx" and fetch(asset["url"]).content == FBX_STUB
        emu.expire_links()
        expired = fetch(asset["url"])
        assert expired.status_code == 403 and b"AccessDenied" in expired.content
        assert not emu.internal_errors and not emu.credential_leaks()


# ------------------------------------------------------------------------------------------------ sboxcool
def sbox_submit(emu: SboxcoolEmulator, data: dict[str, str] | None = None, **files: Any) -> requests.Response:
    files.setdefault("file", ("crate.fbx", FBX_STUB))
    return Client(emu.api_root, SBOX_AUTH).post("/api/tools/model", files=files, data=data)


def sbox_poll(emu: SboxcoolEmulator, job_id: str, times: int = 10) -> list[dict[str, Any]]:
    api, seen = Client(emu.api_root, SBOX_AUTH), []
    while len(seen) < times and (not seen or seen[-1]["status"] not in ("done", "error")):
        seen.append(api.get(f"/api/tools/model/{job_id}").json())
    return seen


def test_sboxcool_happy_path(sbox: SboxcoolEmulator) -> None:
    obj_text, faces = assets.sphere_obj(4000)
    form = {"format": "obj", "pipeline": "source1", "ratio": "0.5", "lodLevels": "2", "lodMaxThreshold": "60"}
    texture = ("rock.png", assets.base_color_png(32))
    form["generatePbr"] = "true"
    accepted = sbox_submit(sbox, form, file=("rock.obj", obj_text), tex_Rock_color=texture)
    body = accepted.json()
    assert accepted.status_code == 202 and body["ok"] is True
    assert body["statusUrl"] == f"/api/tools/model/{body['jobId']}"
    walk = sbox_poll(sbox, body["jobId"])
    assert [s["status"] for s in walk] == ["queued", "running", "running", "done"]
    assert walk[0]["progress"] == [] and walk[1]["progress"][0] == "Starting model processing pipeline..."
    done, result = walk[-1], walk[-1]["result"]
    assert done["progress"][-1] == "Pipeline complete."
    assert result["originalFaces"] == faces and result["resultFaces"] == round(faces * 0.5)
    ratios = [0.15 ** ((i / 2) ** 1.7) for i in (1, 2)]
    assert [lod["ratio"] for lod in result["lods"]] == [round(r, 4) for r in ratios]
    assert [lod["threshold"] for lod in result["lods"]] == [30, 60]
    assert [lod["faces"] for lod in result["lods"]] == [round(faces * r) for r in ratios]
    assert sorted(done["downloads"]) == ["lod0", "lod1", "lod2", "pbrTextures", "vmdl"]
    assert done["downloadUrl"] == done["downloads"]["lod0"]
    assert done["expiresAt"] - done["createdAt"] == 3600000
    for key in ("lod0", "lod1", "lod2"):
        assert done["downloads"][key].startswith("/uploads/temp/")
        assert glb_stats(fetch(sbox.base_url + done["downloads"][key]).content).triangles > 0
    vmdl = fetch(sbox.base_url + done["downloads"]["vmdl"]).text
    assert "LODGroupList" in vmdl and "switch_threshold = 0.0" in vmdl and "switch_threshold = 60.0" in vmdl
    archive = zipfile.ZipFile(io.BytesIO(fetch(sbox.base_url + done["downloads"]["pbrTextures"]).content))
    assert sorted(archive.namelist()) == ["Rock_ao.png", "Rock_normal.png", "Rock_roughness.png"]
    assert png_stats(archive.read("Rock_normal.png")) == (32, 32)
    assert sbox.submissions[0]["textures"] == {"Rock": ["color"]}


def test_sboxcool_fbx_defaults_bad_file_and_auth(sbox: SboxcoolEmulator) -> None:
    done = sbox_poll(sbox, sbox_submit(sbox, {"generatePbr": "true"}).json()["jobId"])[-1]
    assert done["status"] == "done" and sorted(done["downloads"]) == ["lod0"]  # no tex_*_color: no PBR zip
    assert (done["result"]["originalFaces"], done["result"]["resultFaces"]) == (15000, 7500)
    assert done["result"]["lods"] == [] and done["pipeline"] == "standard"
    bad = sbox_poll(sbox, sbox_submit(sbox, file=("crate.fbx", b"not an fbx")).json()["jobId"])[-1]
    assert bad["status"] == "error" and "FBX" in bad["error"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SBOX_KEY}):
        reply = Client(sbox.api_root, headers).post("/api/tools/model", files={"file": ("a.fbx", FBX_STUB)})
        assert reply.status_code == 401 and isinstance(reply.json()["error"], str)
    assert Client(sbox.api_root, {}).get(f"/api/tools/model/{bad['jobId']}").status_code == 401
    assert len(sbox.submissions) == 2


# field=value -> expected status; each bound at and beyond. The file is crate.fbx, so format=obj mismatches.
SBOX_CASES = """
    ratio=0.01:202 ratio=0.009:400 ratio=1.0:202 ratio=1.01:400 ratio=half:400 lodLevels=5:202
    lodLevels=6:400 lodLevels=2.5:400 lodFinalRatio=0.001:202 lodFinalRatio=0.0009:400 lodMaxThreshold=500:202
    lodMaxThreshold=0.5:400 pbrNormalStrength=4.01:400 pbrRoughnessBase=99:400 pbrAoStrength=1.0:202
    autoMatchThreshold=49:400 pipeline=source2:400 skeletonTarget=human:202 generatePbr=yes:400 format=obj:400
"""


@pytest.mark.parametrize("case", SBOX_CASES.split())
def test_sboxcool_ranges(sbox: SboxcoolEmulator, case: str) -> None:
    field, rest = case.split("=")
    value, status = rest.split(":")[0], int(rest.split(":")[1])
    reply = sbox_submit(sbox, {field: value})
    assert reply.status_code == status and len(sbox.submissions) == (status == 202)
    assert status == 202 or field in reply.json()["error"]


def test_sboxcool_file_rules() -> None:
    with SboxcoolEmulator(SBOX_KEY, max_upload_bytes=1000) as emu:
        too_big = sbox_submit(emu, file=("big.fbx", FBX_STUB + b"\x00" * 1000))
        assert too_big.status_code == 400 and too_big.json()["error"].startswith("File too large")
        no_file = Client(emu.api_root, SBOX_AUTH).post("/api/tools/model", data={"a": "b"})
        assert no_file.status_code == 400 and "error" in no_file.json()
        assert sbox_submit(emu, file=("model.glb", b"glTF")).status_code == 400
        assert sbox_submit(emu, tex_Body_specular=("s.png", assets.base_color_png(4))).status_code == 400
        assert not emu.submissions


def test_sboxcool_concurrency_429(sbox: SboxcoolEmulator) -> None:
    assert [sbox_submit(sbox).status_code for _ in range(5)] == [202] * 5
    sixth = sbox_submit(sbox)
    assert sixth.status_code == 429 and sixth.json() == {"error": "Too many concurrent jobs"}
    assert "Retry-After" not in sixth.headers
    sbox_poll(sbox, sbox.submissions[0]["id"])
    assert sbox_submit(sbox).status_code == 202 and len(sbox.submissions) == 6


def test_sboxcool_bone_mapping(sbox: SboxcoolEmulator) -> None:
    def run(form: dict[str, str] | None = None) -> dict[str, Any]:
        return sbox_poll(sbox, sbox_submit(sbox, form).json()["jobId"])[-1]

    sbox.rig_bones = ["mixamorig:Hips", "mixamorig:Spine", "mixamorig:Head"]
    failed = run()
    assert failed["status"] == "error"
    assert failed["error"].startswith("Model has 3 bones but no mapping selected")
    assert failed["result"]["bones"] == sbox.rig_bones
    mapping = failed["result"]["availableMappings"][0]
    assert set(mapping) == {"publicId", "name", "author", "matchPercent", "upvotes", "downvotes"}
    done = run({"mappingId": mapping["publicId"]})
    assert done["status"] == "done"
    assert done["result"]["boneMappingApplied"]["publicId"] == mapping["publicId"]
    skipped = run({"skipBoneMapping": "true"})
    assert skipped["status"] == "done" and "boneMappingApplied" not in skipped["result"]
    popular = run({"useMostPopularBoneMapping": "true"})
    assert popular["result"]["boneMappingApplied"]["publicId"] == "map_abc123xyz"  # 42 up, 2 down
    unknown = run({"mappingId": "map_unknown"})
    assert unknown["status"] == "error" and "map_unknown" in unknown["error"]
    sbox.mappings[1]["matchPercent"] = 96
    assert run()["result"]["boneMappingApplied"]["publicId"] == sbox.mappings[1]["publicId"]


def test_sboxcool_link_expiry_and_failure() -> None:
    with SboxcoolEmulator(SBOX_KEY, link_ttl=0.4) as emu:
        url = emu.base_url + sbox_poll(emu, sbox_submit(emu).json()["jobId"])[-1]["downloads"]["lod0"]
        assert fetch(url).status_code == 200
        time.sleep(0.5)
        assert fetch(url).status_code == 404
        emu.fail_next_job("Blender crashed")
        failed = sbox_poll(emu, sbox_submit(emu).json()["jobId"])[-1]
        assert failed["status"] == "error" and failed["error"] == "Blender crashed"
    with SboxcoolEmulator(SBOX_KEY) as emu:
        done = sbox_poll(emu, sbox_submit(emu).json()["jobId"])[-1]
        emu.expire_links()
        assert fetch(emu.base_url + done["downloads"]["lod0"]).status_code == 404


# ------------------------------------------------------------------------------------------------ key checks
def test_key_check_endpoints_answer_with_the_key_and_refuse_without(
    csm: CsmEmulator, scn: ScenarioEmulator, sbox: SboxcoolEmulator
) -> None:
    """The read-only requests Test Connection sends: 200 with the key, 401 without or with a wrong one
    (each service's own error body), and none of them creates anything."""
    checks = (
        (csm.api_root, "/user/userdata", {"x-api-key": CSM_KEY}, {"x-api-key": "nope"}, "message"),
        (scn.api_root, "/models", SCN_AUTH, {"Authorization": "Basic bm9wZTpub3Bl"}, "message"),
        (sbox.api_root, "/api/tools/v1/queue/my-jobs", SBOX_AUTH, {"Authorization": "Bearer nope"}, "error"),
    )
    for root, path, good, bad, field in checks:
        for headers in ({}, bad):
            reply = Client(root, headers).get(path)
            assert reply.status_code == 401 and field in reply.json(), (path, reply.text)
        assert Client(root, good).get(path).status_code == 200
    account = Client(csm.api_root, {"x-api-key": CSM_KEY}).get("/user/userdata").json()
    assert account["data"]["tier"] == "enterprise"
    assert Client(scn.api_root, SCN_AUTH).get("/models").json() == {"models": []}
    assert Client(sbox.api_root, SBOX_AUTH).get("/tools/v1/queue/my-jobs").json() == {"jobs": []}
    for emu in (csm, scn, sbox):
        assert not emu.jobs and not emu.submissions
        assert all(r.method == "GET" for r in emu.requests)


def test_sboxcool_my_jobs_lists_only_active_jobs(sbox: SboxcoolEmulator) -> None:
    job_id = sbox_submit(sbox).json()["jobId"]
    mine = Client(sbox.api_root, SBOX_AUTH).get("/api/tools/v1/queue/my-jobs").json()["jobs"]
    assert [(j["jobId"], j["toolType"], j["status"]) for j in mine] == [(job_id, "model", "queued")]
    sbox.complete_all()
    assert Client(sbox.api_root, SBOX_AUTH).get("/api/tools/v1/queue/my-jobs").json() == {"jobs": []}
    with CsmEmulator(CSM_KEY, enterprise=False) as free:
        data = Client(free.api_root, {"x-api-key": CSM_KEY}).get("/user/userdata").json()
        assert data["statusCode"] == 200 and data["data"]["tier"] == "free"


# ------------------------------------------------------------------------------------------------ faults
def test_fault_status_with_retry_after(csm: CsmEmulator) -> None:
    api = Client(csm.api_root, {"x-api-key": CSM_KEY})
    csm.inject("POST", r"^/v3/sessions", "status", status=429, retry_after=7)
    limited = api.post("/v3/sessions", json=csm_body())
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert "message" in limited.json()
    assert not csm.submissions
    assert api.post("/v3/sessions", json=csm_body()).status_code == 201
    assert csm.faults_injected == 1 and csm.count("POST", r"^/v3/sessions") == 2


def test_fault_drop_before_and_after_processing(sbox: SboxcoolEmulator) -> None:
    sbox.inject("POST", r"/api/tools/model$", "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        sbox_submit(sbox)
    assert not sbox.submissions
    sbox.inject("POST", r"/api/tools/model$", "drop", process=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        sbox_submit(sbox)
    assert len(sbox.submissions) == 1  # accepted although the client never heard back


def test_fault_truncate_download(csm: CsmEmulator) -> None:
    api = Client(csm.api_root, {"x-api-key": CSM_KEY})
    sid = api.post("/v3/sessions", json=csm_body()).json()["_id"]
    csm.complete_all()
    url = api.get(f"/v3/sessions/{sid}").json()["output"]["meshes"][0]["data"]["obj_url"]
    csm.inject("GET", r"retopo_mesh_0\.obj$", "truncate", server="cdn")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        fetch(url)
    assert obj_stats(fetch(url).content).faces > 0


def test_fault_malformed_slow_and_expire(scn: ScenarioEmulator) -> None:
    api = Client(scn.api_root, SCN_AUTH)
    scn.inject("*", r"^/v1/uploads", "malformed", times=2)
    for _ in range(2):
        reply = api.get("/uploads/upload_x")
        assert reply.status_code == 200
        with pytest.raises(ValueError):
            reply.json()
    assert api.get("/uploads/upload_x").status_code == 404
    scn.inject("GET", r"^/v1/jobs/", "slow", seconds=0.4)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get("/jobs/job_x", timeout=0.15)
    scn.inject("GET", r"^/v1/jobs/", "slow", seconds=0.2)
    started = time.monotonic()
    assert api.get("/jobs/job_x").status_code == 404 and time.monotonic() - started >= 0.2
    asset_id = scn.add_asset(b"glTF....", "x.glb", "model/gltf-binary", "test")
    scn.inject("GET", r"^/assets/", "expire", server="cdn")
    assert fetch(scn.asset_url(asset_id)).status_code == 403
    assert fetch(scn.asset_url(asset_id)).status_code == 200
    assert scn.faults_injected == 5 and [f.fired for f in scn.faults] == [2, 1, 1, 1]


def test_remote_emulator_runs_in_another_process():
    """The Blender suites drive emulators through ``Remote``: copies out, calls and assignments in."""
    import os

    from emulators.remote import Remote

    with Remote(SboxcoolEmulator, "sbox_tk_remote", polls_per_step=2) as emu:
        assert emu.polls_per_step == 2
        emu.polls_per_step = 3
        assert emu.polls_per_step == 3
        emu.inject("GET", r"^/nowhere$", "status", status=503)
        answer = requests.get(f"{emu.base_url}/nowhere", timeout=5)
        assert answer.status_code == 503
        assert [(r.method, r.path) for r in emu.requests] == [("GET", "/nowhere")]
        assert emu.faults_injected == 1 and emu.count("GET", r"^/nowhere$") == 1
        with pytest.raises(ValueError, match="unknown fault"):
            emu.inject("GET", ".*", "melt")
        copy = emu.requests
        copy.clear()  # a copy: the emulator keeps its record
        assert len(emu.requests) == 1
        pid = emu._proc.pid
        assert pid != os.getpid()
    assert len(emu.requests) == 1, "its records outlive stop(), as an emulator's do"
    emu.close()
    assert emu._proc.poll() is not None, "close() ends the emulator's process"
