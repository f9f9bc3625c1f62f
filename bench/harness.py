# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared plumbing of the benchmarks: install the built extension, time things, read and copy meshes.

Measures nothing itself. ``install_extension`` follows tests/conftest.py: the caller sets
``BLENDER_USER_RESOURCES`` to a throwaway folder before bpy is imported, then the built zip from ``dist/`` is
installed and enabled in it, so benchmarks always run the same code a user installs.
"""

from __future__ import annotations

import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXTENSION_MODULE = "bl_ext.user_default.retopo_hub"


def say(message: str) -> None:
    """Progress for the person waiting on ``make bench`` (stderr, so logs can be split from results)."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def built_zip() -> Path:
    manifest = (ROOT / "blender_manifest.toml").read_text(encoding="utf-8")
    version = next(line.split('"')[1] for line in manifest.splitlines() if line.startswith("version"))
    return ROOT / "dist" / f"retopo_hub-{version}-linux_x64.zip"


def install_extension() -> Any:
    """Install dist/retopo_hub-<version>-linux_x64.zip into the throwaway user folder; return the module."""
    zip_path = built_zip()
    if not zip_path.is_file():
        raise SystemExit(f"{zip_path} is missing: run `make build` first (or `make bench`, which builds)")
    result = bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True
    )
    if result != {"FINISHED"} or EXTENSION_MODULE not in bpy.context.preferences.addons:
        raise SystemExit(f"installing {zip_path.name} into Blender failed: {result}")
    return importlib.import_module(EXTENSION_MODULE)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


class Phases:
    """Adds up the wall time spent in named product functions while active; diagnosis only.

    ``Phases({"import": (jobs.step, "_import_job")})`` wraps ``jobs.step._import_job`` (looked up by
    name at call time by its callers) and restores it on exit; behaviour is unchanged.
    """

    def __init__(self, targets: dict[str, tuple[Any, str]]) -> None:
        self.targets = targets
        self.seconds = dict.fromkeys(targets, 0.0)
        # When each phase last ended, in seconds since the block was entered: the import's is when the
        # results were in the scene.
        self.until = dict.fromkeys(targets, 0.0)
        self._entered = time.perf_counter()
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, name: str, fn: Callable) -> Callable:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                ended = time.perf_counter()
                self.seconds[name] += ended - started
                self.until[name] = ended - self._entered

        return timed_call

    def __enter__(self) -> Phases:
        self._entered = time.perf_counter()
        for name, (module, attr) in self.targets.items():
            original = getattr(module, attr)
            self._saved.append((module, attr, original))
            setattr(module, attr, self._wrap(name, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for module, attr, original in reversed(self._saved):
            setattr(module, attr, original)
        self._saved.clear()


def product_phases(addon) -> Phases:
    """Main-thread time of a job: its submit (snapshot and anything exported there) and its import."""
    engine = addon.jobs
    return Phases({"submit": (engine.submit, "submit_objects"), "import": (engine.step, "_import_job")})


def mesh_arrays(mesh: bpy.types.Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(verts float32 (N, 3), face sizes int32 (F,), corner vertex indices int32) in object space."""
    verts = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", verts)
    sizes = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    corners = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", corners)
    return verts.reshape(-1, 3), sizes, corners


def face_counts(mesh: bpy.types.Mesh) -> tuple[int, int]:
    """(faces, quads)."""
    sizes = mesh_arrays(mesh)[1]
    return int(sizes.shape[0]), int(np.count_nonzero(sizes == 4))


def render_pixels(scene: bpy.types.Scene | None = None) -> np.ndarray:
    """Render ``scene`` (the current one by default) to a temporary PNG and return its pixels, float32
    (height, width, 4), bottom row first as Blender stores them."""
    import tempfile

    scene = scene or bpy.context.scene
    with tempfile.TemporaryDirectory() as folder:
        scene.render.filepath = str(Path(folder) / "render.png")
        bpy.ops.render.render(write_still=True, scene=scene.name)
        image = bpy.data.images.load(scene.render.filepath)
        try:
            width, height = image.size
            pixels = np.empty(width * height * 4, np.float32)
            image.pixels.foreach_get(pixels)
        finally:
            bpy.data.images.remove(image)
    return pixels.reshape(height, width, 4)


def select_only(obj: bpy.types.Object | None) -> None:
    # Removing objects leaves the view layer's list stale until it is updated.
    bpy.context.view_layer.update()
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    if obj is not None:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def copy_object(obj: bpy.types.Object, name: str) -> bpy.types.Object:
    """A linked-into-the-scene copy with its own mesh datablock, so destructive operators spare the source."""
    copy = obj.copy()
    copy.data = obj.data.copy()
    copy.name = copy.data.name = name
    bpy.context.scene.collection.objects.link(copy)
    return copy


def remove_object(obj: bpy.types.Object) -> None:
    mesh = obj.data if obj.type == "MESH" else None
    bpy.data.objects.remove(obj, do_unlink=True)
    if mesh is not None and mesh.users == 0:
        bpy.data.meshes.remove(mesh)


def remove_results(source_name: str) -> None:
    """Delete what a retopo_hub job imported for ``source_name`` (its collection and objects)."""
    coll = bpy.data.collections.get(f"{source_name}_RetopoHub")
    if coll is None:
        return
    for obj in list(coll.objects):
        remove_object(obj)
    bpy.data.collections.remove(coll)


def triangle_count(mesh: bpy.types.Mesh) -> int:
    sizes = mesh_arrays(mesh)[1]
    return int((sizes.astype(np.int64) - 2).sum())


def machine() -> str:
    """One line naming the CPU, core count, memory and the Blender build."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, Blender {bpy.app.version_string} (bpy module)"
