# SPDX-License-Identifier: GPL-3.0-or-later
"""Presets of the object settings in real Blender: the shipped ones apply every option, the user's own are
saved in Blender's user presets folder (so an extension update keeps them) and restore every option."""

from __future__ import annotations

from pathlib import Path

import bpy
import pytest

from tests.support.layout import draw_panel
from tests.support.scene import ico_sphere

SHIPPED = {
    "Game Prop (5K quads, 3 LoDs)": {
        "provider": "local",
        "target_faces": 5000,
        "quads": True,
        "lod_levels": 3,
    },
    "Mobile (2K, 4 LoDs)": {"provider": "local", "target_faces": 2000, "quads": True, "lod_levels": 4},
    "Hard Surface": {
        "provider": "local",
        "mode": "quad",
        "quads": True,
        "sharp_angle": 40.0,
        "marked_edges": True,
    },
    "Hero Character (20K, symmetry X)": {
        "provider": "local",
        "target_faces": 20000,
        "quads": True,
        "symmetry": "x",
    },
    "Scan Cleanup (decimate)": {
        "provider": "local",
        "mode": "decimate",
        "target_faces": 20000,
        "quads": False,
    },
}


def _every_option(addon):
    return [option.name for option in addon.core.options.CATALOGUE]


def _scramble(addon, settings) -> None:
    """Every option away from its default, so a preset that forgets one shows."""
    for option in addon.core.options.CATALOGUE:
        if option.flags:
            setattr(settings, option.name, set(option.letters[1:]))  # symmetry: {"y", "z"}
        elif option.kind is bool:
            setattr(settings, option.name, not option.default)
        elif option.items:
            setattr(settings, option.name, next(v for v in option.choices if v != option.default))
        elif option.kind in (int, float):
            low, high = option.range.low, option.range.high
            setattr(settings, option.name, option.kind(high if option.default != high else low))
        else:
            setattr(settings, option.name, "ASSET_scrambled" if option.name == "csm_mesh_url" else "x")
    settings.provider = "sboxcool"


def _apply(path: Path) -> None:
    assert bpy.ops.script.execute_preset(filepath=str(path), menu_idname="RETOPO_HUB_MT_presets") == {
        "FINISHED"
    }


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_preset_sets_every_option(addon, blank, name):
    rock = ico_sphere("Rock")
    settings = rock.retopo_hub
    _scramble(addon, settings)
    files = {p.stem: p for p in addon.operators.presets.preset_files()}
    _apply(files[name])
    promised = SHIPPED[name]
    for option in addon.core.options.CATALOGUE:
        expected = promised.get(option.name, option.default)
        assert option.from_property(getattr(settings, option.name)) == pytest.approx(expected), option.name
    assert settings.provider == promised["provider"]


def test_a_user_preset_is_saved_with_blender_and_restores_every_option(addon, blank):
    rock = ico_sphere("Rock")
    settings = rock.retopo_hub
    _scramble(addon, settings)
    settings.provider = "csm"
    saved = {name: getattr(settings, name) for name in _every_option(addon)} | {"provider": "csm"}
    assert saved["symmetry"] == {"y", "z"}
    assert bpy.ops.retopo_hub.add_preset(name="My Studio Prop") == {"FINISHED"}
    user_folder = Path(bpy.utils.user_resource("SCRIPTS", path="presets/retopo_hub/object"))
    path = user_folder / "My_Studio_Prop.py"
    assert path.is_file(), sorted(p.name for p in user_folder.glob("*"))
    text = path.read_text()
    assert all(f"settings.{name} = " in text for name in _every_option(addon)), "every option is stored"
    assert "retopo_hub" in str(path.parent) and "extensions" not in str(path), (
        "outside the extension's folder"
    )
    for prop in settings.bl_rna.properties:
        if prop.identifier != "rna_type":
            settings.property_unset(prop.identifier)
    assert path in addon.operators.presets.preset_files()
    _apply(path)
    assert {name: getattr(settings, name) for name in saved} == saved
    path.unlink()


def test_the_panel_offers_the_presets(blank):
    ico_sphere("Rock")
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)
    assert ("menu", "RETOPO_HUB_MT_presets") in log and ("operator", "retopo_hub.add_preset") in log
