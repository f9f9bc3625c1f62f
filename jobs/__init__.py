# SPDX-License-Identifier: GPL-3.0-or-later
"""A job's life on Blender's side: settings read once, submit, step, import, resume, the CLI; Test Connection.

Runs in: Blender's main thread only; no network and no thread of ours (those live in ``worker``).
May import: bpy, ``blender_io``, ``core``, ``providers.registry`` and ``providers.probe``. Imported by:
``operators``, ``panels``, ``registration``.
"""
