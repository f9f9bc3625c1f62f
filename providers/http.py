# SPDX-License-Identifier: GPL-3.0-or-later
"""A small HTTP client for paid cloud services, over ``requests.Session``; one client per job, in the worker
host process.

* Credentials from ``auth_headers()`` go only to the base URL's origin (scheme, host, port). Redirects are
  followed by hand (5 hops at most) and credential headers are dropped once a hop leaves that origin, so
  download CDNs and presigned upload URLs never see a key.
* Idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS unless ``idempotent=`` says otherwise) are retried on
  connection failures, timeouts, 408/429/5xx-gateway and unreadable answers; others (a POST creating a paid
  job) only when the service certainly did not take them: 429, or a failure to connect.
* Backoff: exponential with full jitter; ``Retry-After`` is obeyed, but a wait over ``max_retry_after`` is
  handed to the caller as the error's ``retry_after`` instead. Errors are ``core.errors`` classes whose
  one-line message holds no secret; logs carry neither headers nor query strings (presigned signatures).
"""

from __future__ import annotations

import email.utils
import ipaddress
import json as jsonlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from urllib3.exceptions import NewConnectionError

from ..core.errors import (
    Cancelled,
    ConfigError,
    MalformedResponse,
    NetworkError,
    RateLimitError,
    RequestTimeout,
    RetopoError,
    ServerError,
    ServiceError,
    UnsafeLink,
    error_for_status,
    one_line,
    redact,
    remote_text,
    safe_url,
)
from ..core.files import write_chunks

log = logging.getLogger(__name__)

T = TypeVar("T")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
DEADLINE_GRACE_S = 5.0  # how long past the job's deadline a request already sent may take to finish
# Stripped from every hop outside the API origin, even when a caller or a pre-configured session set them:
# requests itself only drops Authorization, never x-api-key and friends.
SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-auth-token", "cookie"})
_CHECK_NET = "check the internet connection, proxy and firewall"
_SEND_KEYS = ("json", "data", "files", "headers")


def validate_base_url(url: str) -> str:
    """Return ``url`` without its trailing slash, or raise ConfigError if it is not a safe API base."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        bad = f"the base URL {one_line(text, 80)!r} is not valid"
        raise ConfigError(f"{bad}; fix it in Preferences") from None
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise ConfigError("the base URL must look like https://host/path; fix it in Preferences")
    if parts.username or parts.password or parts.query or parts.fragment:  # user info would reach logs
        raise ConfigError("the base URL must not contain a user, password, '?' or '#'; fix it in Preferences")
    if scheme == "http" and not _is_loopback(host):
        raise ConfigError(f"use https:// for {host}; plain http:// is only allowed for this computer")
    return text.rstrip("/")


def _is_loopback(host: str) -> bool:
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unsafe_address(address: str, *, loopback_ok: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope ("fe80::1%eth0") is not part of it
    if ip.is_loopback:
        return not loopback_ok
    return ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    except ValueError:
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a naive one cannot be compared safely
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpClient:
    """Session wrapper with origin-bound credentials, a safe retry policy and atomic downloads.

    ``auth_headers`` is called for every request to the API origin (so a key changed in Preferences is
    used at once); ``sleep`` defaults to a wait that ``cancel_event`` interrupts; ``service_name`` and
    ``key_env_var`` only shape error messages. ``stats`` counts attempts, retries and redirects.
    """

    def __init__(
        self, base_url: str, *, auth_headers: Callable[[], dict[str, str]] | None = None, user_agent: str,
        connect_timeout: float = 10, read_timeout: float = 60, max_retries: int = 4,
        backoff_base: float = 1.0, backoff_max: float = 30.0, max_retry_after: float = 120.0,
        sleep: Callable[[float], None] | None = None, rng: random.Random | None = None,
        cancel_event: threading.Event | None = None, session: requests.Session | None = None,
        service_name: str = "the service", key_env_var: str | None = None, secrets: Iterable[str] = (),
        total_timeout: float = 300.0, time_left: Callable[[], float] | None = None,
    ) -> None:  # fmt: skip
        self.base_url = validate_base_url(base_url)
        self._origin = _origin(self.base_url)
        self._auth_headers = auth_headers
        self._secrets = tuple(secrets)  # raw credentials, blanked from every service text like the headers
        # A per-read timeout never ends a server that trickles a byte every few seconds: every request (and
        # its body) must also finish within ``total_timeout`` and within the job's own ``time_left()``.
        self.total_timeout, self._time_left = total_timeout, time_left
        self._auth_names: set[str] = set()
        self.user_agent = user_agent
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.max_retries = max(0, max_retries)
        self.backoff_base, self.backoff_max, self.max_retry_after = backoff_base, backoff_max, max_retry_after
        self.cancel_event = cancel_event
        self._sleep_fn = sleep or self._wait
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._own_session = session is None
        self._session = session or requests.Session()
        self.service_name, self.key_env_var = service_name, key_env_var
        self.stats: dict[str, int] = {"requests": 0, "retries": 0, "redirects": 0}
        self._hops = 0  # redirects followed by the current attempt

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def url_for(self, path_or_url: str) -> str:
        """Absolute URL; relative paths resolve against the base URL, ``/x`` against its host."""
        absolute = "://" in path_or_url.split("?", 1)[0]
        url = path_or_url if absolute else urljoin(self.base_url + "/", path_or_url)
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise MalformedResponse(service=self.service_name, remote_message="a link is not http(s)")
        return url

    def same_origin(self, url: str) -> bool:
        return _origin(url) == self._origin

    def request(
        self, method: str, url: str, *, json: Any = None, data: Any = None, files: Any = None,
        headers: dict[str, str] | None = None, idempotent: bool | None = None,
        expected: tuple[int, ...] = (200,),
    ) -> requests.Response:  # fmt: skip
        """Send with the retry policy; returns the response with its body already read."""
        send = {"json": json, "data": data, "files": files, "headers": headers}
        return self._call(method, url, send, lambda resp: resp, idempotent=idempotent, expected=expected)

    def json(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        """``request()`` (same keywords) returning the JSON object body; MalformedResponse otherwise."""
        idempotent, expected = kw.pop("idempotent", None), kw.pop("expected", (200,))
        if set(kw) - set(_SEND_KEYS):
            raise TypeError(f"unexpected keywords: {sorted(set(kw) - set(_SEND_KEYS))}")
        return self._call(method, url, kw, self._parse_json, idempotent=idempotent, expected=expected)

    def put_bytes(self, url: str, data: Any, *, headers: dict[str, str] | None = None) -> requests.Response:
        """PUT bytes or a binary file (rewound on retry) to a presigned URL, adding no checksum header."""
        send = {"data": data, "headers": headers}
        return self._call("PUT", url, send, lambda resp: resp, idempotent=True, expected=(200, 201, 204))

    def download(
        self, url: str, dest: Path, *, max_bytes: int, expected_size: int | None = None, chunk: int = 1 << 20
    ) -> Path:
        """Stream ``url`` into ``dest`` through ``<dest>.part`` (see ``files.write_chunks``), retrying a body
        cut short from the start; ResultExpired when the link is gone (403 off-origin, 404, 410)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # identity: Content-Length must describe the bytes we count, not a compressed stream.
        send = {"headers": {"Accept-Encoding": "identity"}}

        def write(resp: requests.Response) -> Path:
            raw = resp.headers.get("Content-Length", "").strip()
            # Under a Content-Encoding the length counts compressed bytes, not the ones iter_content yields.
            plain = resp.headers.get("Content-Encoding", "identity").lower() == "identity"
            declared = int(raw) if plain and raw.isdigit() else None
            if None not in (declared, expected_size) and declared != expected_size:
                wrong = f"the result should have {expected_size} bytes, not {declared}"
                raise MalformedResponse(service=self.service_name, remote_message=wrong)
            blocks = self._body(resp, chunk)
            expect = declared if declared is not None else expected_size
            part = dest.name + ".part"
            write_chunks(dest, blocks, max_bytes=max_bytes, expected_bytes=expect, temp_name=part)
            return dest

        return self._call("GET", url, send, write, idempotent=True, expected=(200,), download=True)

    def _call(
        self, method: str, url: str, send: dict[str, Any], handler: Callable[[requests.Response], T], *,
        idempotent: bool | None, expected: tuple[int, ...], download: bool = False,
    ) -> T:  # fmt: skip
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = self.url_for(url)
        marks = _file_marks(send.get("data"), send.get("files"))
        attempt = 0
        while True:
            self._check_cancel()
            self.stats["requests"] += 1
            try:
                resp = self._send(method, url, send, marks, expected, download)
                try:
                    if resp.status_code not in expected:
                        raise self._status_error(resp, download)
                    return handler(resp)
                finally:
                    resp.close()
            # After a redirect a non-idempotent request has been answered once: it must never be sent again.
            except requests.exceptions.RequestException as exc:
                error, ok = self._network_error(exc, url, safe)
                delay = self._plan_retry(error, ok and (safe or not self._hops), attempt, method, url)
                if delay is None:
                    # A submit that reached the service and then lost its answer may have created the job.
                    error.maybe_processed = not safe and not (ok and not self._hops)
                    raise error from exc
            except (ServiceError, NetworkError) as err:
                # 429 means refused before any work was done, so even a submit may be repeated.
                ok = safe or (isinstance(err, RateLimitError) and not self._hops)
                delay = self._plan_retry(err, ok and _retryable(err), attempt, method, url)
                if delay is None:
                    err.maybe_processed = not safe and isinstance(err, (ServerError, MalformedResponse))
                    raise
            self.stats["retries"] += 1
            self._sleep_fn(delay)
            self._check_cancel()
            attempt += 1

    def _send(self, method: str, url: str, send: dict[str, Any], marks: list[tuple[Any, int]],
              expected: tuple[int, ...], stream: bool) -> requests.Response:  # fmt: skip
        body = {key: send.get(key) for key in ("json", "data", "files")}
        timeout, self._hops = (self.connect_timeout, self.read_timeout), 0
        for _hop in range(MAX_REDIRECTS + 1):
            if not self.same_origin(url):
                self._check_destination(url)
            for fileobj, pos in marks:  # a retry or a 307/308 hop must send the body from its start again
                fileobj.seek(pos)
            headers = self._headers_for(url, send.get("headers"))
            ends = time.monotonic() + self._allowed()
            resp = self._session.request(
                method, url, headers=headers, timeout=timeout, allow_redirects=False, stream=True, **body
            )
            resp.retopo_hub_ends = ends  # type: ignore[attr-defined] # the body must arrive by then too
            if not stream:  # read by us, under the time limit, then served by requests as usual
                resp._content, resp._content_consumed = b"".join(self._body(resp)), True
            status, location = resp.status_code, resp.headers.get("Location")
            if status not in REDIRECT_STATUSES or not location or status in expected:
                return resp
            resp.close()
            target = self.url_for(urljoin(url, location))
            if status == 303 or (status in (301, 302) and method == "POST"):
                # The browsers' rule, which services rely on: the body belonged to the first request only.
                method, body, marks = ("HEAD" if method == "HEAD" else "GET"), {}, []
            self.stats["redirects"] += 1
            self._hops += 1
            log.debug("redirect %s -> %s", safe_url(url), safe_url(target))
            url = target
        raise MalformedResponse(service=self.service_name, remote_message="too many redirects")

    def _allowed(self) -> float:
        """Seconds the next request may take in all: the total timeout, or less when the job's deadline is
        nearer (plus a short grace, so an answer already on its way, such as a 429, can still be read). A job
        already past its deadline is not sent anything more."""
        if self._time_left is None:
            return self.total_timeout
        left = self._time_left()
        if left <= 0:
            raise RequestTimeout(f"{self.service_name} was still answering at the job's deadline")
        return min(self.total_timeout, left + DEADLINE_GRACE_S)

    def _body(self, resp: requests.Response, chunk: int = 1 << 16) -> Iterator[bytes]:
        """The body as it arrives, checking cancel and the request's time limit between reads: ``read1``
        returns whatever one read brings, so a trickling server cannot hold a request past its limit."""
        ends = getattr(resp, "retopo_hub_ends", None)
        while True:
            self._check_cancel()
            if ends is not None and time.monotonic() > ends:
                resp.close()
                late = f"{self.service_name} was too slow: its answer did not arrive in time"
                raise RequestTimeout(f"{late} ({safe_url(resp.url)})")
            try:
                block = resp.raw.read1(chunk, decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise requests.exceptions.ConnectionError(exc) from exc
            if not block:
                return
            yield block

    def _check_destination(self, url: str) -> None:
        """Refuse a result link or redirect to another origin that is plain http:// on the internet or whose
        name resolves to a private, link-local or loopback address (metadata services, the LAN). Loopback is
        allowed while the API itself is on loopback (local emulators). The resolved addresses are checked,
        not only the name."""
        parts = urlsplit(url)
        host, scheme = parts.hostname or "", parts.scheme.lower()
        loopback_ok = _is_loopback(self._origin[1]) if self._origin else False
        if scheme not in ("http", "https") or (scheme == "http" and not (loopback_ok and _is_loopback(host))):
            raise UnsafeLink(service=self.service_name, remote_message=f"plain {scheme}:// to {host}")
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return  # an unresolvable name fails as a network error when it is fetched
        for *_rest, sockaddr in infos:
            if _unsafe_address(str(sockaddr[0]), loopback_ok=loopback_ok):
                raise UnsafeLink(
                    service=self.service_name,
                    remote_message=f"{host} is a private or local address ({sockaddr[0]})",
                )

    def _headers_for(self, url: str, extra: dict[str, str] | None) -> dict[str, str | None]:
        headers: dict[str, str | None] = {"User-Agent": self.user_agent, **(extra or {})}
        if self.same_origin(url):
            if self._auth_headers is not None:
                creds = {k: v for k, v in self._auth_headers().items() if v}
                self._auth_names.update(k.lower() for k in creds)
                headers.update(creds)
            return headers
        drop = SENSITIVE_HEADERS | self._auth_names
        kept = {k: v for k, v in headers.items() if k.lower() not in drop}
        return kept | dict.fromkeys(drop)  # None values make requests drop the session's own copies too

    def _network_error(self, exc: Exception, url: str, idempotent: bool) -> tuple[RetopoError, bool]:
        host, ex = urlsplit(url).hostname or "the service", requests.exceptions
        if isinstance(exc, ex.ConnectTimeout):
            return RequestTimeout(f"could not connect to {host} in time; {_CHECK_NET}"), True
        if isinstance(exc, ex.ReadTimeout):  # the service may be working on it: only idempotent calls repeat
            return RequestTimeout(f"{host} did not answer in time; try again later"), idempotent
        if isinstance(exc, ex.SSLError):
            msg = f"the secure connection to {host} failed; check the system clock, proxy or antivirus"
            return NetworkError(msg), False
        if isinstance(exc, (ex.InvalidURL, ex.InvalidSchema, ex.MissingSchema, ex.InvalidHeader)):
            return MalformedResponse(service=self.service_name, remote_message="an invalid link"), False
        # requests wraps urllib3's MaxRetryError, whose reason is NewConnectionError only when no connection
        # was made (refused, DNS failure); a reset or a broken pipe after sending is a ProtocolError instead.
        reason = getattr(exc.args[0] if exc.args else None, "reason", None)
        if isinstance(exc, ex.ConnectionError) and isinstance(reason, NewConnectionError):
            return NetworkError(f"could not connect to {host}; {_CHECK_NET}"), True
        return NetworkError(f"the connection to {host} broke; {_CHECK_NET}"), idempotent

    def _status_error(self, resp: requests.Response, download: bool) -> RetopoError:
        return error_for_status(
            resp.status_code, remote_message=self._remote_message(resp), service=self.service_name,
            env_var=self.key_env_var, retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            own_api=self.same_origin(resp.url), download=download, host=urlsplit(resp.url).hostname or "",
        )  # fmt: skip

    def _remote_message(self, resp: requests.Response) -> str:
        """The service's own explanation, one line, with every credential we know of blanked out."""
        try:
            head = b"".join(islice(resp.iter_content(8192), 8))  # at most 64 KiB, even for a streamed body
        except (requests.exceptions.RequestException, OSError):
            head = b""
        text = ""
        try:
            text = remote_text(jsonlib.loads(head)) if head else ""
        except (ValueError, RecursionError):
            if resp.headers.get("Content-Type", "").startswith("text/plain"):  # HTML pages are noise
                text = head.decode("utf-8", "replace")
        return one_line(self._redact(text or resp.reason or ""))  # redact first: a cut could split a key

    def _redact(self, text: str) -> str:
        if not text:
            return text
        secrets = list(self._secrets)
        if self._auth_headers is not None:
            try:
                values = [v for v in self._auth_headers().values() if v]
            except Exception:  # a key that cannot be read cannot leak either
                values = []
            # "Bearer abc" can also leak as a bare "abc"; "Basic <base64>" hides the raw key and secret,
            # which come in through ``secrets``.
            secrets += [part for value in values for part in (value, value.split()[-1])]
        return redact(text, secrets)

    def _parse_json(self, resp: requests.Response) -> dict[str, Any]:
        if resp.status_code == 204:
            return {}
        try:
            value = jsonlib.loads(resp.content)
        except (ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            status, service = resp.status_code, self.service_name
            raise MalformedResponse(service=service, status=status, remote_message="not a JSON object")
        return value

    def _plan_retry(self, error: RetopoError, ok: bool, attempt: int, method: str, url: str) -> float | None:
        where, kind = f"{method} {safe_url(url)}", type(error).__name__
        status = getattr(error, "status", None)
        if not ok or attempt >= self.max_retries:
            log.debug("%s failed (%s, status %s) after %d attempt(s)", where, kind, status, attempt + 1)
            return None
        hint = getattr(error, "retry_after", None)
        if hint is not None and hint > self.max_retry_after:
            log.debug("%s: asked to wait %.0f s, over %.0f s; giving up", where, hint, self.max_retry_after)
            return None
        cap = min(self.backoff_max, self.backoff_base * 2**attempt)
        delay = hint if hint is not None else self._rng.uniform(0, cap)
        if self._time_left is not None and self._time_left() <= delay:
            log.debug("%s: the job's deadline comes before the next try; giving up", where)
            return None
        log.debug("%s failed (%s, status %s); retry %d/%d in %.2f s", where, kind, status, attempt + 1,
                  self.max_retries, delay)  # fmt: skip
        return delay

    def _wait(self, seconds: float) -> None:
        # Event.wait returns at once when the user cancels; plain sleep when there is nothing to cancel.
        (time.sleep if self.cancel_event is None else self.cancel_event.wait)(seconds)

    def _check_cancel(self) -> None:
        if self.cancel_event is not None and self.cancel_event.is_set():
            raise Cancelled()


def _retryable(err: RetopoError) -> bool:
    """Whether an error built from an answer is worth repeating an idempotent request for."""
    if isinstance(err, ServiceError):
        return isinstance(err, MalformedResponse) or err.status in RETRY_STATUSES
    return isinstance(err, NetworkError)


def _file_marks(*payloads: Any) -> list[tuple[Any, int]]:
    """Where each seekable body file starts, so every attempt (and 307/308 hop) sends it from there."""
    values: list[Any] = []
    for payload in payloads:
        values += list(payload.values()) if isinstance(payload, dict) else [payload]
    # requests' files= values may be (filename, fileobj[, content_type[, headers]]) tuples
    values = [v[1] if isinstance(v, tuple) and len(v) > 1 else v for v in values]
    return [(v, v.tell()) for v in values if callable(getattr(v, "seekable", None)) and v.seekable()]
