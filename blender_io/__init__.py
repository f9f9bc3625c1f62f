# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender data <-> arrays and files: snapshot objects, import results, read inputs, write CLI outputs.

Runs in: Blender's main thread only. May import: bpy, ``core``, ``formats``.
Imported by: ``jobs`` (and ``operators`` through it); the worker host never loads it.
"""
