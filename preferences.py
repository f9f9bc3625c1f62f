# SPDX-License-Identifier: GPL-3.0-or-later
"""Add-on preferences: API keys, service URLs, cache folder and job deadlines (user-wide, never in a .blend).

Keys are PASSWORD properties (masked in the UI) stored in Blender's user preferences; the environment
(``CSM_API_KEY``, ``SCENARIO_SDK_API_KEY`` + ``SCENARIO_SDK_API_SECRET``, ``SBOXCOOL_API_KEY`` and the
``*_BASE_URL`` variables) fills in whatever the preferences leave empty, for headless use. Main thread only.
"""

from __future__ import annotations

import os

import bpy
from bpy.props import FloatProperty, StringProperty

ADDON_ID = __package__  # "bl_ext.<repo>.retopo_hub" under 4.2+, never hard-coded

DEFAULT_BASE_URLS = {
    "csm": "https://api.csm.ai",
    "tripo": "https://api.cloud.scenario.com",
    "sboxcool": "https://sboxcool.com",
}
BASE_URL_ENV = {"csm": "CSM_BASE_URL", "tripo": "SCENARIO_BASE_URL", "sboxcool": "SBOXCOOL_BASE_URL"}
# (preference attribute, environment variable, credential name) per provider
CREDENTIALS = {
    "csm": (("csm_api_key", "CSM_API_KEY", "api_key"),),
    "tripo": (
        ("scenario_api_key", "SCENARIO_SDK_API_KEY", "api_key"),
        ("scenario_api_secret", "SCENARIO_SDK_API_SECRET", "api_secret"),
    ),
    "sboxcool": (("sboxcool_api_key", "SBOXCOOL_API_KEY", "api_key"),),
}
# Seconds before a job is reported as timed out (it can be attached again by its remote id).
DEFAULT_DEADLINES = {"local": 600.0, "csm": 20 * 60.0, "tripo": 30 * 60.0, "sboxcool": 30 * 60.0}


class RetopoHubPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    csm_api_key: StringProperty(name="CSM API Key", subtype="PASSWORD")
    scenario_api_key: StringProperty(name="Scenario API Key", subtype="PASSWORD")
    scenario_api_secret: StringProperty(name="Scenario API Secret", subtype="PASSWORD")
    sboxcool_api_key: StringProperty(name="sboxcool API Key", subtype="PASSWORD")
    csm_base_url: StringProperty(name="CSM URL", default="")
    tripo_base_url: StringProperty(name="Scenario URL", default="")
    sboxcool_base_url: StringProperty(name="sboxcool URL", default="")
    cache_dir: StringProperty(
        name="Job Folder",
        description="Where jobs and downloads are kept (empty: the extension's user folder)",
        subtype="DIR_PATH",
        default="",
    )
    csm_deadline_min: FloatProperty(name="CSM Deadline (min)", default=20.0, min=1.0, max=24 * 60.0)
    csm_precision_deadline_min: FloatProperty(name="CSM Precision Deadline (min)", default=60.0, min=1.0,
                                              max=24 * 60.0)  # fmt: skip
    tripo_deadline_min: FloatProperty(name="Tripo Deadline (min)", default=30.0, min=1.0, max=24 * 60.0)
    sboxcool_deadline_min: FloatProperty(name="sboxcool Deadline (min)", default=30.0, min=1.0, max=24 * 60.0)
    local_deadline_min: FloatProperty(name="Local Deadline (min)", default=10.0, min=0.1, max=24 * 60.0)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        box = layout.box()
        box.label(text="API keys (kept in your preferences, never in .blend files)", icon="LOCKED")
        for attr in ("csm_api_key", "scenario_api_key", "scenario_api_secret", "sboxcool_api_key"):
            box.prop(self, attr)
        box = layout.box()
        box.label(text="Service URLs (empty: the official service)", icon="URL")
        for attr in ("csm_base_url", "tripo_base_url", "sboxcool_base_url"):
            box.prop(self, attr)
        box = layout.box()
        box.label(text="Jobs", icon="TIME")
        box.prop(self, "cache_dir")
        for provider in ("local", "csm", "tripo", "sboxcool"):
            box.prop(self, f"{provider}_deadline_min")
        box.prop(self, "csm_precision_deadline_min")
        if not bpy.app.online_access:
            layout.label(text="Online access is off: enable it in Preferences > System for cloud providers",
                         icon="ERROR")  # fmt: skip


def get_prefs(context: bpy.types.Context | None = None) -> RetopoHubPreferences | None:
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon else None


def credentials_for(provider: str, context: bpy.types.Context | None = None) -> dict[str, str]:
    prefs = get_prefs(context)
    values: dict[str, str] = {}
    for attr, env, name in CREDENTIALS.get(provider, ()):
        value = (getattr(prefs, attr, "") if prefs else "") or os.environ.get(env, "")
        if value:
            values[name] = value.strip()
    return values


def missing_credentials(provider: str, context: bpy.types.Context | None = None) -> list[str]:
    """Environment variable names of the credentials neither the preferences nor the environment give."""
    have = credentials_for(provider, context)
    return [env for _attr, env, name in CREDENTIALS.get(provider, ()) if not have.get(name)]


def base_url_for(provider: str, context: bpy.types.Context | None = None) -> str:
    prefs = get_prefs(context)
    configured = getattr(prefs, f"{provider}_base_url", "") if prefs else ""
    return (
        configured
        or os.environ.get(BASE_URL_ENV.get(provider, ""), "")
        or DEFAULT_BASE_URLS.get(provider, "")
    )


def deadline_for(provider: str, options: dict, context: bpy.types.Context | None = None) -> float:
    prefs = get_prefs(context)
    if prefs is None:
        return DEFAULT_DEADLINES.get(provider, 3600.0)
    if provider == "csm" and options.get("csm_model") == "precision":
        return prefs.csm_precision_deadline_min * 60.0
    return getattr(prefs, f"{provider}_deadline_min", 60.0) * 60.0


def register() -> None:
    bpy.utils.register_class(RetopoHubPreferences)


def unregister() -> None:
    bpy.utils.unregister_class(RetopoHubPreferences)
