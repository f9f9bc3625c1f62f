# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress callbacks of the engine: ``progress(fraction, message)`` scaled to a stage, or kept from
running back.

Contract: ``scaled(progress, lo, hi)`` maps a stage's 0..1 onto lo..hi of the whole; ``monotonic(progress)``
never reports less than it already did. Both pass None through. Stdlib only; runs in the engine child.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[float, str], None]


def scaled(progress: ProgressFn | None, lo: float, hi: float) -> ProgressFn | None:
    if progress is None:
        return None

    def report(fraction: float, message: str) -> None:
        progress(lo + (hi - lo) * min(max(fraction, 0.0), 1.0), message)

    return report


def monotonic(progress: ProgressFn | None) -> ProgressFn | None:
    if progress is None:
        return None
    furthest = [0.0]

    def report(fraction: float, message: str) -> None:
        furthest[0] = max(furthest[0], fraction)
        progress(furthest[0], message)

    return report
