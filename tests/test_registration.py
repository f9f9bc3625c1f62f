# SPDX-License-Identifier: GPL-3.0-or-later
"""The built zip installs, enables and registers everything in real Blender; panels draw."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import bpy

from tests.blender.layout import draw_panel
from tests.blender.scene import ico_sphere

ROOT = Path(__file__).resolve().parent.parent


def test_manifest():
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    assert manifest["id"] == "retopo_hub" and manifest["name"] == "Retopo Hub"
    assert manifest["blender_version_min"] == "4.2.0"
    assert set(manifest["permissions"]) == {"network", "files"}
    assert {"windows-x64", "macos-arm64", "linux-x64"} <= set(manifest["platforms"])
    for wheel in manifest["wheels"]:
        assert (ROOT / wheel).is_file(), f"{wheel} missing: run make build"
    # Every library has a build for each Python the supported Blenders ship (4.2-5.0: 3.11; 5.1+: 3.13),
    # on every platform, at the version requirements/wheels.txt pins.
    pins = dict(
        line.split("==") for line in (ROOT / "requirements/wheels.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )  # fmt: skip
    builds: dict[tuple[str, str], set[str]] = {}
    for wheel in manifest["wheels"]:
        dist, version, python_tag, abi_tag, platform = Path(wheel).name.removesuffix(".whl").split("-")
        assert pins.get(dist.replace("_", "-")) == version, wheel
        arch = next(a for a in ("win_amd64", "macosx_11_0_arm64", "x86_64") if platform.endswith(a))
        builds.setdefault((dist, arch), set()).add(f"{python_tag}-{abi_tag}")
    assert len(builds) == 3 * len(pins), builds
    for key, tags in builds.items():
        assert "cp311-cp311" in tags, key
        assert tags & {"cp313-cp313", "cp312-abi3", "cp311-abi3"}, key


def test_everything_registers(addon):
    for name in ("RETOPO_HUB_OT_submit", "RETOPO_HUB_OT_watch_jobs", "RETOPO_HUB_OT_cancel_job",
                 "VIEW3D_PT_retopo_hub_main", "VIEW3D_PT_retopo_hub_jobs"):  # fmt: skip
        assert hasattr(bpy.types, name), name
    assert hasattr(bpy.types.Object, "retopo_hub") and hasattr(bpy.types.Scene, "retopo_hub")
    assert bpy.types.VIEW3D_PT_retopo_hub_main.bl_category == "Retopo"
    assert addon.preferences.ADDON_ID == addon.__name__ == "bl_ext.user_default.retopo_hub"


def test_bundled_wheels_were_installed_by_blender(addon):
    user = Path(os.environ["BLENDER_USER_RESOURCES"])
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = user / "extensions" / ".local" / "lib" / python / "site-packages"
    assert (site / "fast_simplification").is_dir() and (site / "pynanoinstantmeshes").is_dir()
    # The builds Blender picked from the zip load in this Blender's Python (the venv has its own copies for
    # the engine's unit tests, so import from the extension's folder alone, in a fresh interpreter).
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import fast_simplification, pynanoinstantmeshes; "
        "print(fast_simplification.__file__); print(pynanoinstantmeshes.__file__)"
    )
    done = subprocess.run([sys.executable, "-c", probe, site], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert all(Path(line).is_relative_to(site) for line in done.stdout.split()), done.stdout


def test_pure_packages_never_import_bpy():
    for package in ("core", "engines", "providers"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                for name in names:
                    root = name.split(".")[0]
                    assert root not in {"bpy", "bmesh", "mathutils", "addon_utils"}, f"{path}: {name}"


def test_no_hard_coded_package_name():
    """Code reaches its package through __package__; no string literal names bl_ext.<repo>.retopo_hub."""
    paths = list(ROOT.glob("*.py"))
    for package in ("core", "engines", "providers", "operators", "panels", "blender_io"):
        paths += list((ROOT / package).rglob("*.py"))
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert "bl_ext." not in node.value, path


def test_panels_draw_for_every_provider(blank):
    context = bpy.context
    rock = ico_sphere("Rock")
    for provider in ("local", "csm", "tripo", "sboxcool"):
        rock.retopo_hub.provider = provider
        log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, context)
        assert ("operator", "retopo_hub.submit") in log
        assert ("prop", "provider") in log
    rock.retopo_hub.provider = "sboxcool"
    assert ("prop", "sbox_mapping_id") in draw_panel(bpy.types.VIEW3D_PT_retopo_hub_sbox_advanced, context)


def test_jobs_panel_shows_progress_and_counts(blank):
    rock = ico_sphere("Rock")
    rock.retopo_hub.target_faces = 900
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    assert ("label", "No jobs in this file yet") in log
    bpy.ops.retopo_hub.submit()
    record = bpy.context.scene.retopo_hub.jobs[0]
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    texts = [entry[1] for entry in log if entry[0] == "label"]
    assert any(f"Faces: 900 requested, {record.faces_achieved:,} achieved" == t for t in texts), texts
    record.state, record.progress = "running", 0.4
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    assert ("progress", 0.4000000059604645, "Running 40%") in log or any(
        e[0] == "progress" and abs(e[1] - 0.4) < 1e-6 for e in log
    )
    assert ("operator", "retopo_hub.cancel_job") in log


def test_object_menu_entry(addon):
    assert addon.panels.draw_object_menu in bpy.types.VIEW3D_MT_object._dyn_ui_initialize()


def test_cli_command_is_registered_for_blender_c(addon):
    """``blender -c retopo_hub ...`` runs the same ``cli.main`` as bin/retopo-hub."""
    assert addon.registration._cli_handle is not None
