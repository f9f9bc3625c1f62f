# SPDX-License-Identifier: GPL-3.0-or-later
"""The fault suite's books: every job's outcome, read right after its round, and the one-line summary.

Outcomes, from the job record and what the emulators received:

* ``imported``: done, marked imported, and every result object is in the scene.
* ``clear``: failed with a clear error (``services.unclear``). A job whose remote job exists although the
  record never learned its id must also say the job may exist: otherwise the user pays again.
* ``lost``: the service created a remote job, and the job neither imported it nor ended in a clear error.
* ``unclear``: failed before any remote job existed, but with a message that is not a clear error.

"Submitted twice" counts source objects (one per local job) with more than one remote job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import bpy

from .services import MAY_EXIST, submitted_names, unclear


@dataclass(frozen=True)
class Verdict:
    scenario: str
    provider: str
    name: str
    state: str
    message: str
    outcome: str
    why: str = ""

    def __str__(self) -> str:
        why = f" ({self.why})" if self.why else ""
        where = f"{self.scenario}/{self.provider}/{self.name}"
        return f"{where}: {self.outcome}{why}: {self.state}: {self.message!r}"


class Ledger:
    def __init__(self, emus: dict) -> None:
        self.emus = emus
        self.verdicts: list[Verdict] = []
        self.other_faults = 0  # failed remote jobs and kills, which the emulators do not count as injected

    def judge(self, scenario: str, jobs: list[tuple[str, str, object]], *, must_import: bool = False) -> list:
        """Judge ``(provider, source name, record or None)`` triples now, while their records exist."""
        created = submitted_names(self.emus)
        verdicts = [self._verdict(scenario, p, n, r, created[n], must_import) for p, n, r in jobs]
        self.verdicts += verdicts
        return verdicts

    @staticmethod
    def _verdict(scenario, provider, name, record, created, must_import) -> Verdict:
        if record is None:
            outcome = "lost" if created else "unclear"
            return Verdict(scenario, provider, name, "-", "", outcome, "no job record")
        state, message = record.state, record.message
        objects = json.loads(record.result_objects or "[]")
        if state == "done" and record.imported and objects and all(o in bpy.data.objects for o in objects):
            return Verdict(scenario, provider, name, state, message, "imported")
        if must_import:
            return Verdict(scenario, provider, name, state, message, "lost", "it had to be imported")
        why = unclear(message) if state == "failed" else f"it ended {state}"
        if why is None and created and not record.remote_id and not MAY_EXIST.search(message):
            why = "the service created the job, the message does not say it may exist"
        if why is None:
            return Verdict(scenario, provider, name, state, message, "clear")
        return Verdict(scenario, provider, name, state, message, "lost" if created else "unclear", why)

    def count(self, outcome: str) -> int:
        return sum(v.outcome == outcome for v in self.verdicts)

    def twice(self) -> dict[str, int]:
        return {name: n for name, n in submitted_names(self.emus).items() if n > 1}

    def faults(self) -> int:
        return sum(emu.faults_injected for emu in self.emus.values()) + self.other_faults

    def summary(self) -> str:
        return (
            f"{len(self.verdicts)} jobs, {self.faults()} faults injected, {self.count('lost')} lost, "
            f"{len(self.twice())} submitted twice, {self.count('clear')} clear errors"
        )

    def problems(self) -> list[str]:
        bad = [str(v) for v in self.verdicts if v.outcome in ("lost", "unclear")]
        return bad + [f"{name}: {n} remote jobs for one local job" for name, n in self.twice().items()]
