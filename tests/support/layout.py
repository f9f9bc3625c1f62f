# SPDX-License-Identifier: GPL-3.0-or-later
"""A recording stand-in for ``UILayout`` so panel ``draw()`` code runs against real properties.

Blender cannot create a UILayout without a window, so the tests hand ``draw()`` this recorder. Everything
else is real: the context, the objects and the property groups. Every ``prop()`` is checked against the
data's RNA (a typo fails the test) and every ``operator()`` id against the registered operators; values set
on an operator's properties are logged as ``("operator_prop", idname, name, value)``, and an operator drawn
in a layout that is not ``enabled`` (or inside one) also as ``("operator_disabled", idname)``.
"""

from __future__ import annotations

import bpy


class RecordingLayout:
    def __init__(self, log: list | None = None) -> None:
        self.log = log if log is not None else []
        self.use_property_split = False
        self.use_property_decorate = True
        self.active = True
        self.enabled = True
        self.scale_y = 1.0

    def _child(self, *_args, **_kwargs) -> RecordingLayout:
        child = RecordingLayout(self.log)
        child.enabled = self.enabled  # a greyed-out layout greys out what it holds
        return child

    row = column = box = split = _child

    def label(self, *, text: str = "", icon: str = "NONE") -> None:
        self.log.append(("label", text))

    def separator(self, **_kwargs) -> None:
        pass

    def prop(self, data, name: str, **_kwargs) -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        self.log.append(("prop", name))

    def prop_search(self, data, name: str, search_data, search_name: str, **_kwargs) -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        assert search_name in search_data.bl_rna.properties, (
            f"{type(search_data).__name__} has no {search_name!r}"
        )
        self.log.append(("prop_search", name, search_name))

    def template_icon(self, *, icon_value: int, scale: float = 1.0) -> None:
        self.log.append(("icon", icon_value))

    def progress(self, *, factor: float, type: str = "BAR", text: str = "") -> None:
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", factor, text))

    def operator(self, idname: str, **_kwargs):
        category, name = idname.split(".")
        class_name = f"{category.upper()}_OT_{name}"
        assert hasattr(bpy.types, class_name), f"operator {idname} is not registered"
        self.log.append(("operator", idname))
        if not self.enabled:
            self.log.append(("operator_disabled", idname))
        log = self.log

        class _Props:
            def __setattr__(self, name: str, value) -> None:
                log.append(("operator_prop", idname, name, value))

        return _Props()

    def menu(self, menu: str, **_kwargs) -> None:
        assert hasattr(bpy.types, menu), f"menu {menu} is not registered"
        self.log.append(("menu", menu))


def draw_panel(panel_cls, context) -> list:
    panel = type("PanelUnderTest", (), {})()
    panel.layout = RecordingLayout()
    if hasattr(panel_cls, "poll") and not panel_cls.poll(context):
        return []
    panel_cls.draw(panel, context)
    return panel.layout.log


class _PreferencesUnderTest:
    """The real preferences for ``prop()`` checks, with a recording layout of their own."""

    def __init__(self, prefs) -> None:
        self.__dict__.update(_prefs=prefs, layout=RecordingLayout())

    def __getattr__(self, name: str):
        return getattr(self._prefs, name)


def draw_preferences(prefs, context) -> list:
    """Run the add-on preferences' ``draw()`` against ``prefs`` (the real AddonPreferences)."""
    holder = _PreferencesUnderTest(prefs)
    type(prefs).draw(holder, context)
    return holder.layout.log
