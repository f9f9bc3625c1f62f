# SPDX-License-Identifier: GPL-3.0-or-later
"""Providers: one module per service, each with the same verb ``run(spec, ctx) -> [ResultFile]``.

Pure Python, never imports bpy; ``run`` executes in a worker thread (see ``core.runner`` for the rules).
"""

from __future__ import annotations

from ..core.runner import Provider
from .local import LocalProvider

PROVIDER_LABELS = {
    "local": "Local (offline)",
    "csm": "CSM.ai",
    "tripo": "Tripo (Scenario)",
    "sboxcool": "sboxcool",
}


def all_providers() -> dict[str, Provider]:
    from .csm import CsmProvider
    from .sboxcool import SboxcoolProvider
    from .tripo import TripoProvider

    providers: dict[str, Provider] = {"local": LocalProvider()}
    providers.update(csm=CsmProvider(), tripo=TripoProvider())
    providers["sboxcool"] = SboxcoolProvider()
    return providers
