# SPDX-License-Identifier: GPL-3.0-or-later
"""Pointing the installed extension at a local service emulator, in real Blender."""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy

PREF_KEYS = {
    "csm": {"api_key": "csm_api_key"},
    "tripo": {"api_key": "scenario_api_key", "api_secret": "scenario_api_secret"},
    "sboxcool": {"api_key": "sboxcool_api_key"},
}


def configure(addon, provider: str, base_url: str, **credentials: str) -> None:
    """Keys and URL in the add-on preferences, online access on, poll/backoff delays shrunk 100x."""
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    for name, attr in PREF_KEYS[provider].items():
        setattr(prefs, attr, credentials.get(name, ""))
    setattr(prefs, f"{provider}_base_url", base_url)
    bpy.context.preferences.system.use_online_access = True
    os.environ["RETOPO_HUB_TIME_SCALE"] = "0.01"


@contextmanager
def serving(addon, provider: str, emulator, **credentials: str) -> Iterator[None]:
    """The extension pointed at ``emulator`` for the block; then reset, and the emulator saw no error."""
    configure(addon, provider, emulator.base_url, **credentials)
    try:
        yield
    finally:
        reset(addon)
    assert not emulator.internal_errors, emulator.internal_errors


def worker_module(addon, name: str):
    """A worker-side module, imported here to exercise it directly (Blender's process never loads it)."""
    return importlib.import_module(f"{addon.__name__}.{name}")


def reset(addon) -> None:
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    for attrs in PREF_KEYS.values():
        for attr in attrs.values():
            setattr(prefs, attr, "")
    for provider in PREF_KEYS:
        setattr(prefs, f"{provider}_base_url", "")
    os.environ.pop("RETOPO_HUB_TIME_SCALE", None)
    bpy.context.preferences.system.use_online_access = False


def low_poly_fbx() -> bytes:
    """A real binary FBX (a 6x6 UV sphere) from Blender's own exporter, for emulators to serve."""
    before = set(bpy.data.objects)
    bpy.ops.mesh.primitive_uv_sphere_add(segments=24, ring_count=12, radius=1.0)
    obj = next(o for o in bpy.data.objects if o not in before)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.fbx"
        with bpy.context.temp_override(selected_objects=[obj], active_object=obj):
            bpy.ops.export_scene.fbx(filepath=str(path), use_selection=True)
        data = path.read_bytes()
    mesh = obj.data
    bpy.data.objects.remove(obj, do_unlink=True)
    bpy.data.meshes.remove(mesh)
    return data
