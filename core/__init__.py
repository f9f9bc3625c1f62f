# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure contracts every process shares: job model, option catalogue, errors, journal, atomic files.

Runs in: every process (Blender's, the worker host). May import: the stdlib only (never bpy, numpy or the
other packages). Imported by: everything else.
"""
