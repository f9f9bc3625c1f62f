# SPDX-License-Identifier: GPL-3.0-or-later
"""The built zip installs, enables and registers everything in real Blender; panels draw."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import bpy
import pytest

from tests.support.layout import draw_panel
from tests.support.scene import ico_sphere

ROOT = Path(__file__).resolve().parents[2]


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
                 "RETOPO_HUB_OT_attach_job", "RETOPO_HUB_OT_use_mapping", "RETOPO_HUB_OT_test_connection",
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


def test_no_hard_coded_package_name():
    """Code reaches its package through __package__; no string literal names bl_ext.<repo>.retopo_hub."""
    paths = list(ROOT.glob("*.py"))
    for package in (
        "core",
        "formats",
        "engines",
        "providers",
        "worker",
        "jobs",
        "operators",
        "panels",
        "blender_io",
    ):
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


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [("local", "", "Free, on this computer"),
     ("csm", "swift", "Paid: CSM credits, price not published; about 5-10 min"),
     ("csm", "precision", "up to 50 min"), ("tripo", "", "Paid: Scenario credits"),
     ("sboxcool", "", "at most 5 jobs at once per key")],
)  # fmt: skip
def test_the_panel_says_what_a_job_costs_in_time_and_money_before_submitting(
    blank, provider, model, expected
):
    rock = ico_sphere("Rock")
    rock.retopo_hub.provider = provider
    if model:
        rock.retopo_hub.csm_model = model
    labels = [e[1] for e in draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context) if e[0] == "label"]
    assert any(expected in text for text in labels), labels


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
    assert addon.panels.settings.draw_object_menu in bpy.types.VIEW3D_MT_object._dyn_ui_initialize()


def test_cli_command_is_registered_for_blender_c(addon):
    """``blender -c retopo_hub ...`` runs the same ``cli.main`` as bin/retopo-hub."""
    assert addon.registration._cli_handle is not None


def test_properties_and_cli_come_from_the_option_catalogue(addon):
    """Defaults, ranges, labels and choices of the bpy settings and of the CLI are the catalogue's own."""
    options = importlib.import_module(f"{addon.__name__}.core.options")
    rna = bpy.types.Object.bl_rna.properties["retopo_hub"].fixed_type.properties
    parser = addon.jobs.cli.build_parser()
    actions = {a.dest: a for a in parser._actions}
    for option in options.CATALOGUE:
        prop = rna[option.name]
        assert prop.name == option.label and prop.description == option.description, option.name
        if option.flags:  # one toggle per letter, none on by default
            assert [i.identifier for i in prop.enum_items] == list(option.letters), option.name
            assert prop.is_enum_flag and prop.default_flag == set(option.default), option.name
        elif option.items:
            assert [i.identifier for i in prop.enum_items] == list(option.choices), option.name
        if option.kind in (int, float) and not option.items:
            limits = option.range or next(iter(option.provider_ranges.values()))
            assert (prop.hard_min, prop.hard_max) == pytest.approx((limits.low, limits.high)), option.name
        if option.kind is float:
            assert prop.default == pytest.approx(option.default), option.name
        elif not option.flags:
            assert prop.default == option.default, option.name
        if option.cli:
            action = actions[option.name]
            assert option.cli in action.option_strings and action.default is None, option.name
            if option.items:
                assert tuple(action.choices) == option.choices, option.name
    providers = importlib.import_module(f"{addon.__name__}.providers.registry")
    assert [i.identifier for i in rna["provider"].enum_items] == list(providers.NAMES)
    assert tuple(actions["provider"].choices) == providers.NAMES
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    for entry in providers.REGISTRY:
        for credential in entry.credentials:
            assert prefs.bl_rna.properties[credential.preference].subtype == "PASSWORD"


def test_a_paid_batch_is_summed_up_once_for_the_confirmation(addon, blank):
    """The click's one confirmation names every paid job of the batch; a local-only batch asks nothing."""
    summary = addon.operators.submit.paid_summary
    rocks = [ico_sphere(f"Rock{i}", location=(3.0 * i, 0.0, 0.0)) for i in range(4)]
    assert summary(rocks) is None, "local jobs are free: no question"
    for rock in rocks[:2]:
        rock.retopo_hub.provider = "csm"
    rocks[1].retopo_hub.csm_model = "swift"
    rocks[2].retopo_hub.provider = "sboxcool"
    text = summary(rocks)
    assert text.startswith("3 paid jobs: 2 on CSM.ai (CSM credits, price not published; about 5-10 min")
    assert "; 1 on sboxcool (at most 5 jobs at once per key" in text and "\n" not in text
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    assert prefs.confirm_paid, "asking is the default"
