# SPDX-License-Identifier: GPL-3.0-or-later
"""The one error hierarchy of Retopo Hub.

Contract: every error carries ``message``, a single line that says what happened and what the user can do
about it, and ``str(err) == err.message``. The panel shows that line as it is, so it must never hold a
secret (API key, Authorization or x-api-key value): whoever builds a message from remote text passes it
through ``one_line()`` and redacts credentials first (``providers.http`` does this for every service answer).

Every class can be raised with just a message (``RetopoError("...")``); the classes with extra fields also
build a sensible default message from those fields when none is given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

PREFERENCES_HINT = "Preferences > Add-ons > Retopo Hub"
# Said wherever a cloud job is refused because Blender's online access is off (UI, CLI, worker).
ONLINE_ACCESS_OFF = (
    "online access is off: enable 'Allow Online Access' in Preferences > System "
    "(or pass --online-mode) to use cloud providers"
)
# Where services put their explanation in a JSON error body, most specific first.
REMOTE_FIELDS = ("error", "message", "detail", "errorMessage", "error_description", "msg")

# Long enough for a service's own explanation plus our advice, short enough for one panel row and a report.
_MESSAGE_LIMIT = 1000


# Shorter values (a test's "k", an empty field) are not secrets worth blanking, and blanking them would
# garble ordinary words.
MIN_SECRET_LENGTH = 6


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret that could be in it (a key, a secret, a token) blanked to ``***``.

    Services echo what they were sent, in bodies and status texts; whoever shows their text calls this
    before cutting it to one line, so a cut never splits a key in two recognisable halves."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (a query may hold a signature), for logs and messages."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def one_line(text: object, limit: int = 300) -> str:
    """Collapse whitespace and control characters into single spaces and cut ``text`` to ``limit`` chars.

    Remote services answer with multi-line HTML, stack traces or ANSI colours; the UI needs one short line.
    """
    if text is None:
        return ""
    raw = text if isinstance(text, str) else str(text)
    # Non-printables (NUL, escape sequences, bidi overrides) would garble the panel or the log line.
    cleaned = "".join(ch if ch.isprintable() else " " for ch in raw)
    collapsed = " ".join(cleaned.split())
    if limit > 0 and len(collapsed) > limit:
        return collapsed[: max(limit - 1, 0)].rstrip() + "\u2026"
    return collapsed


class RetopoError(Exception):
    """Base of every error the add-on reports to the user."""

    default_message = "something went wrong in Retopo Hub; see the system console for details"
    # Set by the HTTP client on a failed submit that may still have reached the service (paid job unknown).
    maybe_processed = False

    def __init__(self, message: str | None = None) -> None:
        self.message = one_line(message, _MESSAGE_LIMIT) or self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InputError(RetopoError):
    """Bad input (mesh, settings, archive) found before anything is sent."""

    default_message = "the input is not valid; check the selected mesh and the settings"


class ConfigError(RetopoError):
    """Missing API key, bad base URL, online access disabled, unusable folder, no disk space."""

    default_message = f"Retopo Hub is not configured for this; check {PREFERENCES_HINT}"


class ServiceError(RetopoError):
    """The service answered, but not with what we needed.

    ``status`` is the HTTP status when there was one, ``remote_message`` the service's own (one-line,
    redacted) explanation, ``retry_after`` the delay the service asked for, in seconds, when it gave one.
    """

    what = "{service} returned an error"
    advice = "try again later"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        remote_message: str = "",
        retry_after: float | None = None,
        service: str = "the service",
    ) -> None:
        self.status = status
        self.service = service
        self.remote_message = one_line(remote_message)
        self.retry_after = retry_after
        what = self.what.format(service=service)
        super().__init__(message or f"{what}{_detail(status, self.remote_message)}; {self._advice()}")

    def _advice(self) -> str:
        return self.advice


class AuthError(ServiceError):
    """401/403 from the service's API: the key is missing, wrong, expired or lacks access."""

    what = "{service} refused the API key"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        remote_message: str = "",
        env_var: str | None = None,
        service: str = "the service",
    ) -> None:
        self.env_var = env_var
        super().__init__(message, status=status, remote_message=remote_message, service=service)

    def _advice(self) -> str:
        where = f"{PREFERENCES_HINT} or {self.env_var}" if self.env_var else PREFERENCES_HINT
        return f"check the API key in {where}"


class RateLimitError(ServiceError):
    """429: too many requests or out of concurrent job slots; ``retry_after`` in seconds when known."""

    what = "{service} is limiting requests"

    def _advice(self) -> str:
        wait = f"wait {self.retry_after:.0f} s" if self.retry_after is not None else "wait a minute"
        return f"{wait} and try again"


class ServerError(ServiceError):
    """5xx: the service failed on its side."""

    what = "{service} had an internal error"


class ClientError(ServiceError):
    """Any other 4xx: the service rejected the request as sent."""

    what = "{service} rejected the request"
    advice = "check the settings and the input mesh"


class MalformedResponse(ServiceError):  # noqa: N818 - reads as what happened, like the other names
    """The answer could not be understood (not JSON, missing fields, unexpected status)."""

    what = "{service} sent an answer Retopo Hub cannot read"
    advice = "try again later or update the add-on"


class UnsafeLink(ServiceError):  # noqa: N818 - reads as what happened, like the other names
    """A result link or redirect pointing where no download should go (a private, link-local or loopback
    address, or plain http:// on the internet). Never retried: the same link stays unsafe."""

    what = "{service} sent a link Retopo Hub will not follow"
    advice = "nothing was downloaded; report it to the service"


class NetworkError(RetopoError):
    """The service could not be reached: connection refused or reset, DNS failure, dropped transfer."""

    default_message = "could not reach the service; check the internet connection, proxy and firewall"


class RequestTimeout(NetworkError):  # noqa: N818 - reads as what happened, like the other names
    """The service did not answer in time."""

    default_message = "the service did not answer in time; try again later"


class ResultExpired(RetopoError):  # noqa: N818 - reads as what happened, like the other names
    """A download link is gone (404/410, or an expired presigned link)."""

    default_message = "the result expired; submit again"

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class JobFailed(RetopoError):  # noqa: N818 - reads as what happened, like the other names
    """The remote job ended in failure; ``remote_message`` is the service's reason."""

    def __init__(self, message: str | None = None, *, remote_id: str = "", remote_message: str = "") -> None:
        self.remote_id = remote_id
        self.remote_message = one_line(remote_message)
        reason = f": {self.remote_message}" if self.remote_message else ""
        default = f"the remote job {remote_id} failed{reason}; check the input mesh or try other settings"
        super().__init__(message or default)


class JobTimedOut(RetopoError):  # noqa: N818 - reads as what happened, like the other names
    """The deadline passed while the remote job was still running; it may still finish remotely."""

    def __init__(self, message: str | None = None, *, remote_id: str = "") -> None:
        self.remote_id = remote_id
        advice = f"attach it again with its id {remote_id} later"
        text = message or "the remote job did not finish before the deadline"
        # The id is the only way back to a job that may still be billed, so the advice is never dropped.
        super().__init__(text if advice in text else f"{text}; {advice}")


class Cancelled(RetopoError):  # noqa: N818 - reads as what happened, like the other names
    """The user (or shutdown) cancelled the work."""

    default_message = "cancelled by the user"


def _detail(status: int | None, remote: str) -> str:
    if status is None:
        return f" ({remote})" if remote else ""
    return f" (HTTP {status}: {remote})" if remote else f" (HTTP {status})"


def remote_text(payload: Any, depth: int = 0) -> str:
    """The explanation inside a decoded JSON error body (string, nested ``{"message": ..}`` or a list).

    Not cleaned: pass the result through ``one_line()`` (and redact credentials) before showing it.
    """
    if isinstance(payload, str):
        return payload
    if depth >= 4:  # services nest one or two levels; deeper is noise, and recursion must stay bounded
        return ""
    if isinstance(payload, dict):
        for field in REMOTE_FIELDS:
            found = remote_text(payload.get(field), depth + 1)
            if found:
                return found
    if isinstance(payload, list):  # FastAPI-style lists of validation errors
        return "; ".join(filter(None, (remote_text(item, depth + 1) for item in payload[:5])))
    return ""


def error_for_status(
    status: int,
    *,
    remote_message: str = "",
    service: str = "the service",
    env_var: str | None = None,
    retry_after: float | None = None,
    own_api: bool = True,
    download: bool = False,
    host: str = "",
) -> RetopoError:
    """The error for an unexpected HTTP ``status``.

    ``own_api`` says whether the answer came from the service's API (where our key was sent) rather than
    a link it handed us; ``download`` marks result downloads, where a vanished link means ResultExpired.
    """
    kw: dict[str, Any] = {"status": status, "remote_message": remote_message, "service": service}
    if download and (status in (404, 410) or (status == 403 and not own_api)):
        return ResultExpired(status=status)
    if status in (401, 403) and own_api:
        return AuthError(env_var=env_var, **kw)
    if status == 429:
        return RateLimitError(retry_after=retry_after, **kw)
    if 500 <= status <= 599:
        return ServerError(retry_after=retry_after, **kw)
    if status in (401, 403):  # a presigned link refused us: not about our key
        refused = (
            f"{host or 'the server'} refused access (HTTP {status}); the link may have expired, submit again"
        )
        return ClientError(refused, **kw)
    if 400 <= status <= 499:
        return ClientError(**kw)
    unexpected = f"{service} answered with unexpected HTTP {status}; try again later or update the add-on"
    return MalformedResponse(unexpected, **kw)
