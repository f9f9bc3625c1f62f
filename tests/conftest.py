# SPDX-License-Identifier: GPL-3.0-or-later
"""Test set-up shared by every suite.

The repository root is the extension package. Pure unit tests import it from source as
``retopo_hub`` (its ``__init__`` is side-effect free); Blender tests use the copy installed from the
built zip.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _alias_source_package() -> None:
    if "retopo_hub" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "retopo_hub", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["retopo_hub"] = module
    spec.loader.exec_module(module)


_alias_source_package()


# -- Blender --------------------------------------------------------------------------------------
# A throwaway Blender user folder, set before anything imports bpy, so the suite never touches a real
# Blender setup and every run installs the extension from scratch.
import os  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="retopo-hub-user-")
# The worker host and engine children fail on a deprecation warning too, as the suite's own process does.
os.environ["PYTHONWARNINGS"] = "error::DeprecationWarning,error::PendingDeprecationWarning"
EXTENSION_MODULE = "bl_ext.user_default.retopo_hub"


def _built_zip() -> Path:
    version = next(
        line.split('"')[1]
        for line in (ROOT / "blender_manifest.toml").read_text().splitlines()
        if line.startswith("version")
    )
    return ROOT / "dist" / f"retopo_hub-{version}-linux_x64.zip"


@pytest.fixture(scope="session")
def addon():
    """The extension installed from the built zip into the throwaway user folder, and enabled."""
    bpy = pytest.importorskip("bpy")
    zip_path = _built_zip()
    if not zip_path.is_file():
        pytest.fail(f"{zip_path} is missing: run `make build` first")
    result = bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True
    )
    assert result == {"FINISHED"}
    assert EXTENSION_MODULE in bpy.context.preferences.addons, "the extension did not enable"
    return importlib.import_module(EXTENSION_MODULE)


@pytest.fixture(autouse=True)
def _guard_operators_from_emulator_threads(request, monkeypatch):
    """Hold the emulators' lock while the product runs Blender operators (see emulators.wire)."""
    if "addon" not in request.fixturenames:
        return
    from emulators.wire import PYTHON_GUARD

    addon = request.getfixturevalue("addon")

    def guarded(function):
        def call(*args, **kwargs):
            with PYTHON_GUARD:
                return function(*args, **kwargs)

        return call

    importer = addon.blender_io.importer
    monkeypatch.setattr(importer, "import_mesh_file", guarded(importer.import_mesh_file))
    monkeypatch.setattr(addon.jobs.submit, "export_fbx", guarded(addon.jobs.submit.export_fbx))
    monkeypatch.setattr(addon.jobs.cli, "export_object", guarded(addon.jobs.cli.export_object))


@pytest.fixture
def blank(addon, tmp_path):
    """An empty file with the extension enabled and a job folder of its own; yields bpy.

    A fresh job folder per test keeps the journal of one test from being resumed by the next.
    """
    import bpy

    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    prefs.cache_dir = str(tmp_path / "jobs")
    bpy.ops.wm.read_homefile(use_empty=True)
    yield bpy
    addon.jobs.session.shutdown()
    prefs.cache_dir = ""
