# SPDX-License-Identifier: GPL-3.0-or-later
"""LOD0's unwrap (engines/uv.py) with the bundled xatlas, and through the engine child (``uv`` parameter)."""

import json

import numpy as np
import pytest
from retopo_hub.engines import child, uv, uvmend
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.pipeline import EngineParams, run
from retopo_hub.engines.transfer import hard_edges
from retopo_hub.engines.uvstats import island_labels, overlap_fraction, utilization
from shapes import icosphere, quad_box

pytest.importorskip("xatlas")


def _crate(cuts: int = 12) -> MeshArrays:
    """A cube of 2 units, ``cuts`` x ``cuts`` quads a side, closed (shared corners)."""
    return MeshArrays.from_faces(*quad_box(cuts, cuts))


def test_crate_unwraps_into_its_sides_without_overlaps():
    crate = _crate()
    layout = uv.unwrap(crate, hard_edges(crate))
    uvs = layout.corner_uvs
    assert uvs.shape == (crate.corner_verts.shape[0], 2) and uvs.dtype == np.float32
    assert uvs.min() >= 0.0 and uvs.max() <= 1.0
    assert overlap_fraction(crate, uvs) == 0.0
    assert utilization(crate, uvs) >= 0.6
    stats = layout.stats
    assert stats["islands"] == 6 and stats["hard_edges_on_seams"] == 1.0
    assert stats["density_spread"] < 0.05 and stats["split_faces"] == 0
    assert stats["unwrapper"] == "xatlas" and stats["seconds"] >= 0.0


def test_material_borders_are_seams():
    crate = _crate(8)
    # One material per half of the crate (x < 0 and x >= 0), hard edges ignored: the border is a seam.
    centres = crate.verts[crate.corner_verts].reshape(-1, 4, 3).mean(axis=1)
    materials = (centres[:, 0] >= 0).astype(np.int32)
    layout = uv.unwrap(crate, None, materials)
    labels = island_labels(crate, layout.corner_uvs)
    assert not set(labels[materials == 0]) & set(labels[materials == 1])


def test_remeshed_sphere_has_uvs_without_overlaps():
    lod0 = run(EngineParams(mode="quad", target_faces=800), *icosphere(4))[0].mesh
    layout = uv.unwrap(lod0, hard_edges(lod0))
    assert overlap_fraction(lod0, layout.corner_uvs) == 0.0
    assert layout.stats["islands"] > 0
    # xatlas's packer fills ~0.6 of the square on smooth shapes (0.6 is met on hard-surface ones).
    assert layout.stats["utilization"] >= 0.5


def test_missing_xatlas_leaves_lod0_without_uvs_and_warns(monkeypatch):
    def missing():
        raise uv.XatlasMissingError("the xatlas library could not load (test); reinstall the add-on")

    monkeypatch.setattr(uv, "load_xatlas", missing)
    arrays, stats, warning = uv.lod0_uv_arrays(_crate(4), {})
    assert arrays == {} and stats is None
    assert warning == "LOD0 has no UVs: the xatlas library could not load (test); reinstall the add-on"


def test_child_writes_lod0_uvs_and_reports_them(tmp_path, capfd):
    crate = _crate(16)
    mesh, settings, out = tmp_path / "in.npz", tmp_path / "params.json", tmp_path / "out.npz"
    np.savez(mesh, verts=crate.verts, face_sizes=crate.face_sizes, corner_verts=crate.corner_verts)
    params = {"mode": "quad", "target_faces": 600, "sharp_angle": 40.0, "lod_levels": 1, "uv": True}
    settings.write_text(json.dumps(params), encoding="utf-8")
    assert child.main([str(mesh), str(settings), str(out)]) == 0
    done = json.loads(capfd.readouterr().out.splitlines()[-1])
    lod0_uv = done["lods"][0]["info"]["uv"]
    assert lod0_uv["utilization"] >= 0.6 and lod0_uv["overlap"] == 0.0 and lod0_uv["islands"] >= 6
    assert "uv" not in done["lods"][1].get("info", {})
    with np.load(out) as data:
        assert data["lod0_uvs"].shape == (data["lod0_corner_verts"].shape[0], 2)
        assert json.loads(str(data["lod0_uv_stats"])) == lod0_uv
        # The LoD keeps LOD0's UVs (lodlook.py): one per corner, inside the square.
        lod1_uvs = data["lod1_uvs"]
        assert lod1_uvs.shape == (data["lod1_corner_verts"].shape[0], 2)
        assert lod1_uvs.min() >= 0.0 and lod1_uvs.max() <= 1.0


def test_uv_parameter_must_be_a_bool():
    with pytest.raises(Exception, match="uv must be true or false"):
        EngineParams(mode="quad", target_faces=100, uv="yes")


def test_a_quad_cut_by_xatlas_is_unfolded_without_folding():
    # A quad bent by 90 degrees along its diagonal 0-2: laid flat, its two triangles keep their edge lengths,
    # wind the same way and meet only along the diagonal.
    points = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 1]], np.float64)
    fan = np.array([[[0, 1, 2], [0, 2, 3]]])
    flat = uvmend.unfolded(points, fan)[0]
    for tri, layout in zip(fan[0], flat, strict=True):
        for i, j in ((0, 1), (1, 2), (2, 0)):
            assert np.linalg.norm(layout[i] - layout[j]) == pytest.approx(
                np.linalg.norm(points[tri[i]] - points[tri[j]])
            )
    assert np.allclose(flat[1, 0], flat[0, 0]) and np.allclose(flat[1, 1], flat[0, 2])

    def signed(t):
        return (t[1, 0] - t[0, 0]) * (t[2, 1] - t[0, 1]) - (t[1, 1] - t[0, 1]) * (t[2, 0] - t[0, 0])

    assert signed(flat[0]) > 0 and signed(flat[1]) > 0


def test_a_lod0_too_large_for_xatlas_gets_no_uvs_and_a_warning(monkeypatch):
    monkeypatch.setattr(uv, "MAX_TRIANGLES", 100)
    crate = _crate(6)  # 216 quads, 432 triangles
    with pytest.raises(uv.UvTooLargeError):
        uv.unwrap(crate)
    arrays, stats, warning = uv.lod0_uv_arrays(crate, {})
    assert arrays == {} and stats is None
    assert warning == (
        "LOD0 has no UVs: its 432 triangles are above the 100 the unwrapper handles; "
        "lower the face count to 50 quads or fewer"
    )
