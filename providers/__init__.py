# SPDX-License-Identifier: GPL-3.0-or-later
"""Providers: one module per service with the same verb ``run(spec, ctx) -> [ResultFile]``, and the registry.

Runs in: the worker host process (``run`` in its worker threads, see ``worker.runner``); ``registry`` is
also read in Blender's process, and so is ``probe`` for Test Connection's wording and its no-request
answers. May import: ``core``, ``formats`` and the stdlib (never bpy).
Imported by: ``worker`` (the implementations) and the Blender side (``registry`` and ``probe`` only).
"""
