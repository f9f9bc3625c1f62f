# SPDX-License-Identifier: GPL-3.0-or-later
"""Start the CLI inside the ``bpy`` module with this checkout enabled as the ``retopo_hub`` extension.

Blender's user folder is ``.venv/blender-user`` (or ``$BLENDER_USER_RESOURCES``), so nothing touches the
user's own Blender setup. The checkout is linked into that folder's "user_default" extension repository, so
the CLI always runs the current source; the extension's wheels are already installed in the venv.

Loading bpy takes about half a second, as long as starting the worker host and a local engine child: for a
local run that submits, both start first (``worker.client.spawn_host``, with Blender's ``sys.path`` as the
last run saved it) and the CLI adopts them. A stale saved path only costs the head start: the engine child
then does not match its job's environment and is replaced.

Once the CLI has returned, the process ends at once (``exit_now``): every output is written and synced and
the worker host is stopped and waited for, so Blender's own teardown (freeing every datablock: 0.1 s, 0.3 s
on a busy machine) has nothing left to do that anyone would see. This user folder keeps no preferences to
save; Blender's session temp folder is removed as its teardown would.
"""

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTENSION_ID = "retopo_hub"
PRIVATE_PACKAGE = "retopo_hub_launcher"  # this checkout imported before bpy, as worker/main.py does
PATHS_FILE = "retopo-hub-python-paths.json"  # Blender's sys.path of the last run, in the user folder
NO_HEAD_START = ("-h", "--help", "--dry-run", "--attach")


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


def _local_submit(argv: list[str]) -> bool:
    if any(arg in NO_HEAD_START for arg in argv):
        return False
    provider = "local"
    for i, arg in enumerate(argv):
        if arg == "--provider" and i + 1 < len(argv):
            provider = argv[i + 1]
        elif arg.startswith("--provider="):
            provider = arg.split("=", 1)[1]
    return provider == "local"


def start_worker_host(argv: list[str]) -> subprocess.Popen | None:
    """The worker host and an engine child, started before bpy loads; None when there is no head start."""
    paths_file = Path(os.environ["BLENDER_USER_RESOURCES"]) / PATHS_FILE
    if not _local_submit(argv) or not paths_file.is_file():
        return None
    try:
        paths = tuple(str(p) for p in json.loads(paths_file.read_text(encoding="utf-8")))
        spec = importlib.util.spec_from_file_location(
            PRIVATE_PACKAGE, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[PRIVATE_PACKAGE] = package
        spec.loader.exec_module(package)
        client = importlib.import_module(f"{PRIVATE_PACKAGE}.worker.client")
        return client.spawn_host(str(ROOT), paths, prewarm=True, engine_niceness=0)
    except (OSError, ValueError, TypeError, ImportError):
        return None  # no head start; the CLI starts its host as usual


def main() -> int:
    argv = sys.argv[1:]
    host = start_worker_host(argv)
    import bpy  # noqa: F401 - ensure Blender is initialised before the add-on machinery

    package = enable_checkout()
    if host is not None:
        package.jobs.session.worker_host().adopt(host)
    paths = list(package.jobs.specs.python_paths())
    paths_file = Path(os.environ["BLENDER_USER_RESOURCES"]) / PATHS_FILE
    try:
        if not paths_file.is_file() or json.loads(paths_file.read_text(encoding="utf-8")) != paths:
            paths_file.write_text(json.dumps(paths), encoding="utf-8")
    except (OSError, ValueError):
        pass  # the next run just starts without a head start
    return package.jobs.cli.main(argv)


def exit_now(code: int) -> None:
    """End the process after the CLI returned ``code``, without Blender's teardown (see the docstring)."""
    import bpy

    package = sys.modules.get(f"bl_ext.user_default.{EXTENSION_ID}")
    if package is not None:
        package.jobs.session.shutdown()  # stops the worker host and waits for it
    tempdir = Path(bpy.app.tempdir) if bpy.app.tempdir else None
    if tempdir is not None and tempdir.name.startswith("blender_"):
        shutil.rmtree(tempdir, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(ROOT / ".venv" / "blender-user"))
    exit_now(main())
