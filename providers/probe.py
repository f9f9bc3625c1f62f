# SPDX-License-Identifier: GPL-3.0-or-later
"""Test Connection: one free, read-only request with the stored key, answered in one line.

Contract: ``Outcome`` names the only answers there are (OK, wrong key, no online access, no key, cannot
reach the host, unexpected answer, bad settings) and ``line()`` words each one, prefixed by the service, in
one line that holds no secret. ``run(provider, spec, ctx)`` runs in a thread of the worker host process:
it refuses at once, sending nothing, when online access is off or the key is missing, else sends the
provider's ``check_key`` request (a documented GET that needs the key and creates nothing: never a paid
request) through the job's own ``HttpClient`` (same origin-bound key, redaction and destination checks),
without retries, and maps the answer. Pure: importable from Blender's process for the wording only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from ..core.errors import (
    ONLINE_ACCESS_OFF,
    AuthError,
    Cancelled,
    ConfigError,
    NetworkError,
    RetopoError,
    ServiceError,
    one_line,
)
from . import registry

DEFAULT_TIMEOUT_S = 10.0  # Blender's own default network timeout


class Outcome(str, Enum):
    OK = "ok"
    WRONG_KEY = "wrong_key"
    OFFLINE = "offline"
    NO_KEY = "no_key"
    UNREACHABLE = "unreachable"
    UNEXPECTED = "unexpected"
    SETTINGS = "settings"  # an unusable base URL, key characters or job folder: nothing was sent


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    message: str  # one line, starting with the service's name

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def to_dict(self) -> dict[str, str]:
        return {"outcome": self.outcome.value, "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        return cls(Outcome(data["outcome"]), str(data["message"]))


def line(entry: registry.Entry, outcome: Outcome, detail: str = "") -> Result:
    """The one-line answer for ``outcome``; ``detail`` is the host, the status or the reason, as fits."""
    keys = " and ".join(c.label for c in entry.credentials)
    where = f"Preferences > Add-ons > Retopo Hub (or {' and '.join(c.env for c in entry.credentials)})"
    words = {
        Outcome.OK: "OK, the key was accepted",
        Outcome.WRONG_KEY: f"wrong key ({detail}): check the {keys} in {where}",
        Outcome.OFFLINE: f"no online access: {ONLINE_ACCESS_OFF.split(': ', 1)[1]}",
        Outcome.NO_KEY: f"no key: enter the {keys} in {where}",
        Outcome.UNREACHABLE: f"cannot reach {detail}: check the internet connection, proxy, firewall and URL",
        Outcome.UNEXPECTED: f"unexpected answer ({detail}): try again later or check the service URL",
        Outcome.SETTINGS: detail,
    }
    return Result(outcome, f"{entry.service}: {words[outcome]}")


def refusal(entry: registry.Entry, *, online: bool, credentials: dict[str, str]) -> Result | None:
    """The answer given without any request (online access off, key missing or unusable), else None."""
    if not online:
        return line(entry, Outcome.OFFLINE)
    if problem := registry.credentials_problem(entry, credentials):
        if any(not credentials.get(c.name) for c in entry.credentials):
            return line(entry, Outcome.NO_KEY)
        return line(entry, Outcome.SETTINGS, problem)
    return None


def run(provider: Any, spec: Any, ctx: Any, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Result:
    """Send ``provider.check_key`` once and map the answer (worker host thread)."""
    entry = registry.BY_NAME[spec.provider]
    refused = refusal(entry, online=spec.online, credentials=dict(spec.credentials.values))
    if refused is not None:
        return refused
    host = urlsplit(spec.base_url).hostname or spec.base_url
    try:
        client = provider.make_client(spec, ctx)
    except ConfigError as exc:
        return line(entry, Outcome.SETTINGS, str(exc))
    # One attempt, bounded by Blender's network timeout: the button must answer within seconds, and what it
    # reports is what a single request met (a retried 503 that then passed would hide a flaky service).
    client.max_retries = 0
    client.connect_timeout = client.read_timeout = timeout_s
    client.total_timeout = 2 * timeout_s
    try:
        provider.check_key(client)
    except AuthError as exc:
        return line(entry, Outcome.WRONG_KEY, f"HTTP {exc.status}")
    except NetworkError:  # refused, DNS, timeout, a broken connection: the host, never a path or query
        return line(entry, Outcome.UNREACHABLE, host)
    except ServiceError as exc:  # 5xx, another 4xx, 429, not JSON, an unexpected shape, an unsafe redirect
        # The client has already blanked every credential out of the service's text.
        status, reason = f"HTTP {exc.status}" if exc.status else "no status", one_line(exc.remote_message, 80)
        return line(entry, Outcome.UNEXPECTED, f"{status}: {reason}" if reason else status)
    except Cancelled:
        return line(entry, Outcome.UNEXPECTED, "cancelled")
    except RetopoError as exc:
        return line(entry, Outcome.UNEXPECTED, str(exc))
    finally:
        client.close()
    return line(entry, Outcome.OK)
