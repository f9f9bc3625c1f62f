# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators: submit the selection, watch jobs with a modal timer, cancel and tidy jobs.

Every operator works headless: EXEC runs blocking (``blender -b``, the ``bpy`` module, scripts), INVOKE from
the UI starts the jobs and hands them to the modal timer watcher. Main thread only.
"""

from .jobs import CLASSES as JOB_CLASSES
from .submit import CLASSES as SUBMIT_CLASSES

CLASSES = (*SUBMIT_CLASSES, *JOB_CLASSES)
