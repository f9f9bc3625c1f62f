# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure tests. Under ``make test-unit`` (``RETOPO_HUB_PURE=1``) Blender's modules cannot be imported,
which proves these tests need neither bpy nor a built zip; the few Blender round trips here skip themselves.
"""

import os
import sys

if os.environ.get("RETOPO_HUB_PURE"):
    for name in ("bpy", "bmesh", "mathutils"):
        sys.modules[name] = None  # makes ``import bpy`` raise ImportError
