# SPDX-License-Identifier: GPL-3.0-or-later
"""Add-on preferences: API keys, service URLs, job folder and deadlines (user-wide, never in a .blend).

Contract: the ``AddonPreferences`` class and its ``draw()`` only; its fields are generated from the provider
registry (``providers.registry``): a masked PASSWORD field per credential, a URL and a deadline per service.
Under each service's keys, a Test Connection button (``operators.connection``) and its last one-line answer,
kept in ``CONNECTION_RESULTS`` by ``jobs.connection`` (this session only: never saved, never a secret).
Reading them (with the environment's fallbacks for headless use) is ``jobs.specs``' job. Main thread only.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

from .providers import registry

ADDON_ID = __package__  # "bl_ext.<repo>.retopo_hub" under 4.2+, never hard-coded
MAX_DEADLINE_MIN = 24 * 60.0
# Credits a quoted job may cost without asking (the preference's default, and the CLI's --max-cost default).
DEFAULT_QUOTE_LIMIT = 50.0
CONNECTION_RESULTS: dict[str, str] = {}  # provider -> the last Test Connection line, drawn under its button


def _annotations() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for entry in registry.REGISTRY:
        for credential in entry.credentials:
            fields[credential.preference] = StringProperty(name=credential.label, subtype="PASSWORD")
    for entry in registry.REGISTRY:
        if entry.cloud:
            fields[f"{entry.name}_base_url"] = StringProperty(
                name=f"{entry.service} URL", description=f"Empty: {entry.base_url} (or ${entry.base_url_env})"
            )
    fields["cache_dir"] = StringProperty(
        name="Job Folder",
        description="Where jobs and downloads are kept (empty: the extension's user folder)",
        subtype="DIR_PATH",
    )
    fields["quote_limit"] = FloatProperty(
        name="Confirm Quotes Above",
        description="Scenario quotes each Tripo job for free before it is paid: a quote above this many "
        "credits waits for your Accept in the Jobs panel (scripts and the CLI fail it instead; there, "
        "--max-cost)",
        default=DEFAULT_QUOTE_LIMIT, min=0.0, soft_max=500.0,
    )  # fmt: skip
    fields["confirm_paid"] = BoolProperty(
        name="Ask Before Paid Jobs",
        description="Before a click sends objects to a paid service, say how many, where and what the "
        "service documents about time and price, and ask once per batch",
        default=True,
    )
    for entry in registry.REGISTRY:
        fields[f"{entry.name}_deadline_min"] = FloatProperty(
            name=f"{entry.label} Deadline (min)", default=entry.deadline_min, min=0.1, max=MAX_DEADLINE_MIN
        )
        if entry.slow_deadline:
            option, value, minutes = entry.slow_deadline
            fields[f"{entry.name}_slow_deadline_min"] = FloatProperty(
                name=f"{entry.label} {value.capitalize()} Deadline (min)", default=minutes, min=0.1,
                max=MAX_DEADLINE_MIN, description=f"Deadline of jobs with {option} = {value}",
            )  # fmt: skip
    return fields


def _draw(self, context: bpy.types.Context) -> None:
    layout = self.layout
    layout.use_property_split = True
    box = layout.box()
    box.label(text="API keys (kept in your preferences, never in .blend files)", icon="LOCKED")
    for entry in registry.REGISTRY:
        if not entry.credentials:
            continue
        col = box.column(align=True)
        for credential in entry.credentials:
            col.prop(self, credential.preference)
        col.operator("retopo_hub.test_connection", text="Test Connection", icon="URL").provider = entry.name
        if result := CONNECTION_RESULTS.get(entry.name):
            col.label(text=result, icon="INFO")
    box = layout.box()
    box.label(text="Service URLs (empty: the official service)", icon="URL")
    for entry in registry.REGISTRY:
        if entry.cloud:
            box.prop(self, f"{entry.name}_base_url")
    box = layout.box()
    box.label(text="Jobs", icon="TIME")
    box.prop(self, "cache_dir")
    box.prop(self, "confirm_paid")
    box.prop(self, "quote_limit")
    for entry in registry.REGISTRY:
        box.prop(self, f"{entry.name}_deadline_min")
        if entry.slow_deadline:
            box.prop(self, f"{entry.name}_slow_deadline_min")
    if not bpy.app.online_access:
        layout.label(text="Online access is off: enable it in Preferences > System for cloud providers",
                     icon="ERROR")  # fmt: skip


RetopoHubPreferences = type(
    "RetopoHubPreferences",
    (bpy.types.AddonPreferences,),
    {"bl_idname": ADDON_ID, "__annotations__": _annotations(), "draw": _draw},
)


def get_prefs(context: bpy.types.Context | None = None):
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon else None
