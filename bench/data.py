# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark inputs: real scans from the pymeshlab wheel and meshes the repository generates.

Measures nothing. Scans are copied at bench time out of the installed ``pymeshlab`` package (pinned in
bench/requirements.txt) into bench/data/, which is gitignored: they are never committed. pymeshlab itself is
only located, never imported, so its native libraries stay out of the Blender process. Generated meshes come
from bench/meshes.py (``bumpy_sphere``) and a quad sphere made here for the import timings.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import bmesh
import bpy
import numpy as np
from harness import ROOT, say, select_only
from meshes import bumpy_sphere

DATA = ROOT / "bench" / "data"
# name -> (path inside the pymeshlab package, what it is)
SCANS = {
    "bunny": ("tests/sample_meshes/bunny.obj", "Stanford bunny scan (closed), 56,172 triangles"),
    "face_scan": ("tests/sample_meshes/rangemaps/face000.ply", "raw face range scan (22 parts, holes)"),
}


@dataclass(frozen=True)
class Input:
    name: str
    description: str
    obj: bpy.types.Object


def extract_scans() -> dict[str, Path]:
    """Copy the sample scans out of the pymeshlab package into bench/data/ (once); return their paths."""
    spec = importlib.util.find_spec("pymeshlab")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pymeshlab is not installed: run `make bench` (it installs bench/requirements.txt)")
    package = Path(next(iter(spec.submodule_search_locations)))
    DATA.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (inner, _) in SCANS.items():
        source = package / inner
        if not source.is_file():
            raise SystemExit(f"{inner} is not in the installed pymeshlab: check the version pinned in bench/")
        target = DATA / f"{name}{source.suffix}"
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)
        paths[name] = target
    return paths


def load_scan(name: str, path: Path) -> Input:
    """Import a scan with Blender's own importer as one selected, active mesh object."""
    before = set(bpy.data.objects)
    if path.suffix == ".obj":
        bpy.ops.wm.obj_import(filepath=str(path))
    else:
        bpy.ops.wm.ply_import(filepath=str(path))
    (obj,) = [o for o in bpy.data.objects if o not in before]
    obj.name = obj.data.name = name
    select_only(obj)
    return Input(name, SCANS[name][1], obj)


def generated_sphere(triangles: int, name: str) -> Input:
    obj = bumpy_sphere(triangles, name=name)
    select_only(obj)
    count = len(obj.data.polygons)
    return Input(name, f"generated bumpy icosphere (bench/meshes.py), {count:,} triangles", obj)


def quad_sphere(faces: int, name: str) -> bpy.types.Object:
    """An all-quad bumpy cube-sphere with about ``faces`` quads (6 * (cuts + 1)^2)."""
    cuts = max(1, round(math.sqrt(faces / 6.0)) - 1)
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=2.0)
    bmesh.ops.subdivide_edges(bm, edges=bm.edges[:], cuts=cuts, use_grid_fill=True)
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    co /= np.linalg.norm(co, axis=1, keepdims=True)
    x, y, z = co.T
    co *= (1.0 + 0.05 * np.sin(7 * x) * np.cos(5 * y) + 0.02 * np.sin(13 * z))[:, None]
    mesh.vertices.foreach_set("co", co.ravel())
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    select_only(obj)
    return obj


def load_all(quick: bool) -> dict[str, Input]:
    """Every input of a run, loaded into the current (empty) file.

    Keys: the scans, ``sphere_100k`` and ``big`` (the ~1M-triangle sphere; with ``quick`` the ~100K one
    stands in for it, so the same code paths run in a fraction of the time).
    """
    paths = extract_scans()
    inputs = {name: load_scan(name, path) for name, path in paths.items()}
    inputs["sphere_100k"] = generated_sphere(80_000, "sphere_82K")
    inputs["big"] = inputs["sphere_100k"] if quick else generated_sphere(1_000_000, "sphere_1M")
    for key, item in inputs.items():
        say(f"input {key}: {item.obj.name}, {len(item.obj.data.polygons):,} faces ({item.description})")
    return inputs
