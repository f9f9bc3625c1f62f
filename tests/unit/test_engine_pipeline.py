# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole job: parameters, LOD0, LoD chain, progress and cancellation."""

import numpy as np
import pytest
from retopo_hub.engines import EngineCancelled, EngineInputError, MeshArrays
from retopo_hub.engines.lod import lod_ratios, switch_thresholds
from retopo_hub.engines.pipeline import EngineParams, run, triangle_equivalent
from shapes import icosphere, sliver_box, torus

pytest.importorskip("pynanoinstantmeshes")
pytest.importorskip("fast_simplification")


@pytest.fixture(scope="module")
def torus56k() -> tuple[np.ndarray, np.ndarray]:
    return torus(200, 140, bumps=0.1)


def test_quad_job_with_lods(torus56k):
    params = EngineParams(mode="quad", target_faces=3000, lod_levels=3, lod_final_ratio=0.15)
    seen: list[tuple[float, str]] = []
    results = run(params, *torus56k, progress=lambda f, m: seen.append((f, m)))
    assert [r.lod for r in results] == [0, 1, 2, 3]
    lod0 = results[0].mesh
    assert abs(lod0.face_count - 3000) <= 300 and lod0.quad_count == lod0.face_count
    assert results[0].target_faces == 3000
    base = triangle_equivalent(lod0)
    assert base == 2 * lod0.face_count
    ratios = lod_ratios(3, 0.15)
    for item, ratio, threshold in zip(results, ratios, switch_thresholds(3, 50.0), strict=True):
        assert item.switch_threshold == threshold
        if item.lod:
            assert item.target_faces == round(ratio * base)
            assert item.mesh.tri_count == item.mesh.face_count
            assert abs(item.mesh.face_count - item.target_faces) <= 0.1 * item.target_faces
    counts = [r.mesh.face_count for r in results[1:]]
    assert counts == sorted(counts, reverse=True)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0


def test_decimate_job(torus56k):
    results = run(EngineParams(mode="decimate", target_faces=8000, lod_levels=2), *torus56k)
    assert abs(results[0].mesh.face_count - 8000) <= 800
    assert results[-1].target_faces == round(0.15 * results[0].mesh.face_count)
    assert all(item.warnings == () for item in results)


def test_long_thin_strips_decimate_to_the_budget_with_no_warning():
    """Long, thin strips block fast_simplification's collapses; collapse.py's go on from the input."""
    verts, tris = sliver_box(1000, 2)  # 24,000 triangles
    results = run(EngineParams(mode="decimate", target_faces=500, lod_levels=1), verts, tris)
    assert abs(results[0].mesh.face_count - 500) <= 50
    assert np.allclose(np.abs(results[0].mesh.verts).max(axis=1), 1.0, atol=1e-5)
    assert results[0].warnings == ()


def test_a_decimation_that_stalls_says_so_in_one_line(monkeypatch):
    """Were no collapse left (here collapse.py is made to stop at once), the job keeps what it made and
    says so."""
    from retopo_hub.engines import decimate as decimate_module

    monkeypatch.setattr(decimate_module, "collapse_edges", lambda v, t, target, **_: (v, t, None))
    verts, tris = sliver_box(1000, 2)  # 24,000 triangles
    results = run(EngineParams(mode="decimate", target_faces=500, lod_levels=1), verts, tris)
    assert results[0].mesh.face_count > 550
    (line,) = results[0].warnings
    made = results[0].mesh.face_count
    assert line.startswith(f"decimation stopped at {made:,} triangles for a budget of 500 (LOD0, and 1 more ")
    assert "Retopology mode" in line and "\n" not in line


def test_triangle_lod0(torus56k):
    results = run(EngineParams(mode="quad", target_faces=4000, quads=False, lod_levels=1), *torus56k)
    assert results[0].mesh.tri_count == results[0].mesh.face_count
    assert abs(results[0].mesh.face_count - 4000) <= 400


def test_decimate_target_just_below_the_source_keeps_it():
    verts, tris = icosphere(4)  # 5120 triangles
    params = EngineParams(mode="decimate", target_faces=5100, lod_levels=1, lod_final_ratio=0.5)
    results = run(params, verts, tris)
    assert results[0].mesh.face_count == 5120
    assert results[1].target_faces == 2560


def test_tiny_lods_keep_at_least_a_tetrahedron():
    results = run(
        EngineParams(mode="decimate", target_faces=20, lod_levels=2, lod_final_ratio=0.01), *icosphere(2)
    )
    assert results[-1].target_faces == 4
    assert results[-1].mesh.face_count >= 4


def test_cancellation_between_stages(torus56k):
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(EngineCancelled):
        run(EngineParams(mode="decimate", target_faces=5000, lod_levels=3), *torus56k, cancelled=cancelled)
    with pytest.raises(EngineCancelled):
        run(EngineParams(mode="quad", target_faces=500), *torus56k, cancelled=lambda: True)


def test_decimate_target_must_be_below_source():
    with pytest.raises(EngineInputError, match="below the source's 320 faces"):
        run(EngineParams(mode="decimate", target_faces=400), *icosphere(2))


def test_bad_input_mesh_reaches_the_caller():
    verts, tris = icosphere(2)
    verts = verts.copy()
    verts[5] = np.nan
    with pytest.raises(EngineInputError, match="NaN"):
        run(EngineParams(mode="quad", target_faces=100), verts, tris)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "voxel", "target_faces": 100}, "one of quad, decimate"),
        ({"mode": "quad", "target_faces": 2}, "from 4 to 1,000,000"),
        ({"mode": "quad", "target_faces": 100.5}, "whole number"),
        ({"mode": "quad", "target_faces": 100, "lod_levels": 9}, "0 to 5"),
        ({"mode": "quad", "target_faces": 100, "lod_final_ratio": 0.0}, "from 0.001 to 1.0"),
        ({"mode": "quad", "target_faces": 100, "lod_max_threshold": 0}, "from 1 to 500"),
        ({"mode": "quad", "target_faces": 100, "quads": "yes"}, "true or false"),
    ],
)
def test_parameter_validation(fields, message):
    with pytest.raises(EngineInputError, match=message):
        EngineParams(**fields)


def test_params_round_trip_through_dicts():
    params = EngineParams(mode="quad", target_faces=1234, lod_levels=2, seed=7)
    assert EngineParams.from_dict(params.to_dict()) == params
    assert EngineParams.from_dict({"mode": "decimate", "target_faces": 500.0}).target_faces == 500
    with pytest.raises(EngineInputError, match="unknown engine parameter"):
        EngineParams.from_dict({"mode": "quad", "target_faces": 10, "colour": "red"})
    with pytest.raises(EngineInputError, match="missing engine parameter"):
        EngineParams.from_dict({"mode": "quad"})


def test_each_lod_measures_its_error_against_lod0(torus56k):
    params = EngineParams(mode="decimate", target_faces=6000, lod_levels=3, lod_final_ratio=0.05)
    results = run(params, *torus56k)
    errors = [item.error for item in results]
    assert errors[0] == 0.0
    assert all(e > 0.0 for e in errors[1:])
    # Fewer triangles, larger error; the torus spans about 2.6 units, so errors are a small fraction of it.
    assert errors == sorted(errors) and errors[-1] < 0.2


def test_a_triangle_soup_is_remeshed_as_the_surface_it_is():
    """Vertices split at every triangle (a flat-shaded or STL mesh) are one surface to the remesh: before,
    Instant Meshes saw loose triangles and a low-poly cow came back in 43 pieces with a sixth of its faces."""
    from retopo_hub.engines.quality import topology

    verts, tris = torus(48, 24)  # 2,304 triangles: dense enough to remesh, too sparse to be clustered
    soup_v, soup_t = verts[tris.ravel()], np.arange(tris.size).reshape(-1, 3)
    for name, (v, t) in (("shared", (verts, tris)), ("soup", (soup_v, soup_t))):
        (lod0,) = run(EngineParams(mode="quad", target_faces=800, reproducible=True), v, t)
        found = topology(lod0.mesh)
        assert (found["pieces"], found["boundary_loops"], found["genus"]) == (1, 0, 1), name
        assert abs(lod0.mesh.face_count - 800) <= 80, name


def test_a_triangle_soup_is_decimated_as_the_surface_it_is():
    """Before, each loose triangle was its own island to the decimator: the soup came back in pieces."""
    from retopo_hub.engines.quality import topology

    verts, tris = torus(96, 48)
    soup_v, soup_t = verts[tris.ravel()], np.arange(tris.size).reshape(-1, 3)
    lod0, lod1 = run(EngineParams(mode="decimate", target_faces=2000, lod_levels=1), soup_v, soup_t)
    for level in (lod0, lod1):
        found = topology(level.mesh)
        assert (found["pieces"], found["boundary_loops"], found["genus"]) == (1, 0, 1)
    assert abs(lod0.mesh.face_count - 2000) <= 200


def test_topology_reads_split_vertices_as_one_surface_but_keeps_a_pinch():
    from retopo_hub.engines.meshdata import MeshArrays
    from retopo_hub.engines.quality import topology

    verts, tris = icosphere(2)
    soup = MeshArrays.from_triangles(verts[tris.ravel()], np.arange(tris.size).reshape(-1, 3))
    assert topology(soup)["pieces"] == 1 and topology(soup)["boundary_loops"] == 0
    # Two closed tetrahedra touching at one point, each with its own vertex there: two pieces, closed.
    tet_v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    tet_t = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    pinch = MeshArrays.from_triangles(np.vstack([tet_v, -tet_v]), np.vstack([tet_t, tet_t[:, ::-1] + 4]))
    found = topology(pinch)
    assert (found["pieces"], found["boundary_loops"], found["genus"]) == (2, 0, 0)


@pytest.mark.parametrize("splits", [True, False], ids=["applied", "cannot_apply"])
def test_edge_flow_that_cannot_apply_says_so_in_one_line(monkeypatch, splits):
    """Instant Meshes' quads that are no clean split (a raw scan's face touching itself) are only relaxed:
    the user asked for Edge Flow and is told it was not applied."""
    from retopo_hub.engines import flow, pipeline

    if not splits:
        monkeypatch.setattr(flow, "unsubdivide", lambda verts, quads: None)
    params = EngineParams(mode="quad", target_faces=800, edge_flow=True, reproducible=True)
    (lod0,) = run(params, *icosphere(5))
    assert lod0.mesh.quad_count == lod0.mesh.face_count
    if splits:
        assert lod0.warnings == () and "edge_flow_skipped" not in lod0.info
    else:
        assert lod0.warnings == (pipeline.EDGE_FLOW_SKIPPED,) and lod0.info["edge_flow_skipped"] is True
        assert "\n" not in pipeline.EDGE_FLOW_SKIPPED


def test_a_stalled_lod_of_a_retopology_asks_for_less_not_for_retopology():
    """'Retopology mode reaches the target' is advice for a decimated LOD0; a retopology's own LoDs are
    decimated from its quads, so their stall says to raise LoD Final Ratio."""
    from retopo_hub.engines.decimate import ENGINE_NAME as DECIMATED
    from retopo_hub.engines.pipeline import LodResult, stall_warning
    from retopo_hub.engines.remesh import ENGINE_NAME as REMESHED

    mesh = MeshArrays.from_triangles(*icosphere(2))  # 320 triangles
    stalled = LodResult(1, mesh, 200, 1.0, DECIMATED)
    line = stall_warning([LodResult(0, mesh, 320, 0.0, REMESHED), stalled])
    assert line.endswith("(LoD 1): its remaining collapses would fold the surface, as long, thin triangles "
                         "make them do; raise LoD Final Ratio")  # fmt: skip
    assert stall_warning([LodResult(0, mesh, 320, 0.0, DECIMATED), stalled]).endswith(
        "Retopology mode reaches the target"
    )


def test_a_changed_topology_is_one_line_naming_what_changed():
    from retopo_hub.engines.notices import topology_changed

    source = {"pieces": 1, "boundary_loops": 0, "genus": 1}
    assert topology_changed({"topology_kept": True, "topology": source, "source_topology": source}) is None
    assert topology_changed({}) is None  # not measured (no pass that watches it ran)
    made = {"pieces": 2, "boundary_loops": 0, "genus": 2}
    line = topology_changed({"topology_kept": False, "topology": made, "source_topology": source})
    assert line.startswith("LOD0's topology differs from the source's (pieces 2 where the source has 1; ")
    assert "; genus 2 where the source has 1): " in line
    assert line.endswith("another target face count usually keeps it") and "\n" not in line


def test_closed_cracks_and_a_non_manifold_sources_genus_do_not_count_as_a_changed_topology():
    """A sphere with two pinholes, remeshed closed with both closed on purpose (``cracks_closed``), keeps
    its topology; with one closed on purpose it does not. A source with a non-manifold fan has no genus to
    keep."""
    from retopo_hub.engines.quality import topology, topology_change
    from shapes import icosphere

    verts, tris = icosphere(2)
    closed = MeshArrays.from_triangles(verts, tris)
    holed = MeshArrays.from_triangles(verts, np.delete(tris, [0, len(tris) - 1], axis=0))
    assert topology_change(closed, holed, cracks_closed=2)["topology_kept"]
    assert not topology_change(closed, holed, cracks_closed=1)["topology_kept"]
    assert not topology_change(holed, closed)["topology_kept"]
    # A second sphere sharing one edge of the first: four faces on that edge, one piece, no border.
    i, j = tris[0, 0], tris[0, 1]
    second = tris + len(verts)
    second[second == i + len(verts)], second[second == j + len(verts)] = i, j
    both = np.vstack([verts, verts * 0.5 + [3.0, 0, 0]])
    pinched = MeshArrays.from_triangles(both, np.vstack([tris, second]))
    assert topology(pinched)["nonmanifold_edges"] == 1 and topology(pinched)["pieces"] == 1
    assert topology_change(closed, pinched)["topology_kept"]
