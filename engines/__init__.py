# SPDX-License-Identifier: GPL-3.0-or-later
"""Retopo Hub's local geometry engine.

The rule for everything in this package: it never imports bpy (nor mathutils, bmesh or anything outside
``engines``); numpy arrays in, numpy arrays out. That lets the same code run in a child process started as
``python -m engines.child`` with the extension root on sys.path (started by the worker host process; never
inside Blender's process), in the worker host itself (``report.measure_files``, numpy only) and in plain
pytest. Modules reach each other through relative imports only;
the optional native libraries (pynanoinstantmeshes, fast_simplification) are imported lazily and raise
``EngineUnavailable`` when missing, so the Blender side can fall back to its own Decimate/QuadriFlow.

Entry points: ``pipeline.run`` (whole job), ``remesh.quad_remesh``, ``decimate.decimate``,
``lod.lod_ratios``/``lod.switch_thresholds``, ``project.surface_distances``, ``report.measure_files``
and ``child.main``.
"""

from .errors import EngineCancelled, EngineError, EngineInputError, EngineUnavailable
from .meshdata import MeshArrays

__all__ = ["EngineCancelled", "EngineError", "EngineInputError", "EngineUnavailable", "MeshArrays"]
