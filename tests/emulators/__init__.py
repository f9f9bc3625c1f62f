# SPDX-License-Identifier: GPL-3.0-or-later
"""Local emulators of the three cloud retopology services Retopo Hub uses, written from vendor docs.

Each emulator is a context manager that runs two real HTTP servers on 127.0.0.1 (the vendor API and a foreign
file host standing in for its CDN / object store), checks auth, request shapes and documented ranges, walks
jobs through their statuses poll by poll, serves real result files (``assets``), records every request and
injects faults on demand. See ``base`` for the shared contract and each module's docstring for documented vs
inferred behaviour. They import nothing from the product: stdlib only.

Import it as ``emulators`` (``tests/`` is on ``sys.path`` through its conftest, under ``pytest`` and
``python -m pytest`` alike)::

    from emulators import SboxcoolEmulator

    with SboxcoolEmulator(api_key="sbox_tk_x") as emu:
        ...  # point the client at emu.api_root; assert not emu.credential_leaks()
"""

from .base import FAULT_KINDS, Emulator, Fault, Job, Recorded, Reply
from .csm import CsmEmulator
from .sboxcool import SboxcoolEmulator
from .scenario import ScenarioEmulator

__all__ = (
    "FAULT_KINDS",
    "CsmEmulator",
    "Emulator",
    "Fault",
    "Job",
    "Recorded",
    "Reply",
    "SboxcoolEmulator",
    "ScenarioEmulator",
)
