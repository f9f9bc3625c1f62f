# SPDX-License-Identifier: GPL-3.0-or-later
"""Retopo Hub: retopology and LoDs for Blender, locally or through cloud services.

Importing this package must stay free of side effects and of ``bpy`` (the engine's child process and the
pure unit tests import its sub-packages), so registration is delegated lazily to ``registration``.
"""


def register() -> None:
    from . import registration

    registration.register()


def unregister() -> None:
    from . import registration

    registration.unregister()
