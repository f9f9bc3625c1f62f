# SPDX-License-Identifier: GPL-3.0-or-later
"""The worker host: the process that runs every job's network and geometry work, with the threading rules.

Runs in: the worker host process (``main``, ``host``, ``runner``, ``ipc``); ``client`` runs in Blender's
process and starts no thread. May import: ``core``, ``providers``, and ``engines.report`` (numpy measures of
finished results; the native remeshers run in the engine child only); never bpy. Imported by: ``jobs``.
"""
