# SPDX-License-Identifier: GPL-3.0-or-later
"""Start the CLI inside the ``bpy`` module with this checkout enabled as the ``retopo_hub`` extension.

Blender's user folder is ``.venv/blender-user`` (or ``$BLENDER_USER_RESOURCES``), so nothing touches the
user's own Blender setup. The checkout is linked into that folder's "user_default" extension repository, so
the CLI always runs the current source; the extension's wheels are already installed in the venv.
"""

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTENSION_ID = "retopo_hub"


def enable_checkout() -> object:
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(ROOT / ".venv" / "blender-user"))
    import addon_utils
    import bpy

    repo_dir = Path(bpy.utils.user_resource("EXTENSIONS", path="user_default", create=True))
    link = repo_dir / EXTENSION_ID
    if not link.exists():
        link.symlink_to(ROOT, target_is_directory=True)
    elif link.resolve() != ROOT:
        raise SystemExit(f"retopo-hub: {link} points elsewhere; remove it or set BLENDER_USER_RESOURCES")
    module = f"bl_ext.user_default.{EXTENSION_ID}"
    if addon_utils.enable(module, default_set=True) is None:
        raise SystemExit("retopo-hub: the extension failed to load; see the error above")
    return importlib.import_module(module)


def main() -> int:
    import bpy  # noqa: F401 - ensure Blender is initialised before the add-on machinery

    package = enable_checkout()
    return package.jobs.cli.main(sys.argv[1:])


if __name__ == "__main__":
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(ROOT / ".venv" / "blender-user"))
    sys.exit(main())
