# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared machinery of the cloud-service emulators: two real HTTP servers, recording, jobs and faults.

Contract (every emulator inherits it):

- ``start()`` (or ``with``) binds two ``ThreadingHTTPServer`` on 127.0.0.1, port 0: the vendor's API host
  (``base_url``; ``api_root`` is what a client uses as its base URL) and a foreign file host standing in for
  the vendor's CDN / object store (``cdn_url``). ``stop()`` (or leaving the ``with``) shuts both down.
- Every request reaching either server is appended to ``requests`` as a :class:`Recorded` (headers
  lower-cased, raw body, parsed JSON / form / multipart files) before anything else happens; ``count()``
  filters them.
- Jobs advance one status step per poll of their status URL (``polls_per_step`` polls per step), never by wall
  time; ``complete_all()`` drives every job to its terminal state. ``fail_next_job(message)`` makes the next
  created job end in the service's failed state with that message.
- ``inject(method, path_regex, fault, times=1, server=None, **options)`` queues a fault; faults are matched in
  insertion order against method (``"*"`` = any) and ``re.search`` on the path, each firing ``times`` times
  (``None`` = forever); ``faults_injected`` counts the firings. Kinds and options:

  ``status``    answer ``status`` (default 500) with the service's error body or ``body`` (dict/str/bytes),
                plus ``retry_after`` (Retry-After header) and ``headers``; the request is NOT processed.
  ``slow``      sleep ``seconds`` (default 1.0) and then answer normally.
  ``drop``      close the socket without any response. ``process=True`` processes the request first (the
                "accepted but the answer was lost" case); default False.
  ``truncate``  process the request, declare the full Content-Length but send only ``keep`` bytes (default
                half), then close.
  ``malformed`` answer 200 with invalid JSON (``body`` overrides); ``process=True`` processes it first.
  ``expire``    answer like an expired download link (``status``, default the service's ``expired_status``).

- ``expire_links()`` makes every download link on the service answer as expired.
- ``credential_leaks()`` lists requests that carried ``Authorization`` / ``x-api-key`` / ``Cookie`` to the CDN
  server or to a public download path of the API host (``public_paths``); tests assert it is empty.
- Handler exceptions become HTTP 500 and are kept in ``internal_errors`` (tests should assert it is empty).
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from .wire import EmulatorServer, Recorded, Reply, RequestHandler, iso_now, json_reply, parse_multipart

__all__ = ("FAULT_KINDS", "Emulator", "Fault", "Job", "Recorded", "Reply", "iso_now", "json_reply")

FAULT_KINDS = frozenset({"status", "slow", "drop", "truncate", "malformed", "expire"})
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "cookie")


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    kind: str
    remaining: int | None
    options: dict[str, Any]
    server: str | None = None
    fired: int = 0

    def matches(self, req: Recorded) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.server is not None and self.server != req.server:
            return False
        if self.method != "*" and self.method.upper() != req.method:
            return False
        return self.pattern.search(req.path) is not None


@dataclass
class Job:
    """Anything that walks through statuses poll by poll (jobs, sessions, uploads)."""

    id: str
    kind: str
    last_stage: int
    stage: int = 0
    polls: int = 0
    failure: str | None = None
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.stage >= self.last_stage


Handler = Callable[[Recorded, re.Match[str]], Reply]


class Emulator:
    """Base class; subclasses register routes in ``__init__`` and implement ``on_stage``."""

    service = "emulator"
    expired_status = 404
    public_paths: str | None = None  # regex of API-host paths served without auth (downloads)

    def __init__(self, *, polls_per_step: int = 1) -> None:
        if polls_per_step < 1:
            raise ValueError("polls_per_step must be >= 1")
        self.polls_per_step = polls_per_step
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.faults_injected = 0
        self.jobs: dict[str, Job] = {}
        self.submissions: list[dict[str, Any]] = []
        self.log: list[str] = []
        self.internal_errors: list[str] = []
        self.links_expired = False
        self.lock = threading.RLock()
        self._failures: list[str] = []
        self._routes: dict[str, list[tuple[str, re.Pattern[str], Handler]]] = {"api": [], "cdn": []}
        self._servers: dict[str, EmulatorServer] = {}
        self._threads: list[threading.Thread] = []
        self._serial = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        for role in ("api", "cdn"):
            srv = EmulatorServer(("127.0.0.1", 0), RequestHandler)
            srv.emulator = self
            srv.role = role
            thread = threading.Thread(
                target=srv.serve_forever,
                kwargs={"poll_interval": 0.01},
                name=f"{self.service}-{role}",
                daemon=True,
            )
            thread.start()
            self._servers[role] = srv
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for srv in self._servers.values():
            srv.shutdown()
            srv.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _url(self, role: str) -> str:
        if role not in self._servers:
            raise RuntimeError(f"{self.service} emulator is not started")
        host, port = self._servers[role].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self._url("api")

    @property
    def cdn_url(self) -> str:
        return self._url("cdn")

    @property
    def api_root(self) -> str:
        """What a client should use as the service's base URL (Scenario adds ``/v1``)."""
        return self.base_url

    # ------------------------------------------------------------------ test helpers
    def count(self, method: str, path_regex: str, server: str | None = None) -> int:
        pattern = re.compile(path_regex)
        return sum(
            1
            for r in list(self.requests)
            if (method == "*" or r.method == method.upper())
            and (server is None or r.server == server)
            and pattern.search(r.path)
        )

    def inject(
        self,
        method: str,
        path_regex: str,
        fault: str,
        *,
        times: int | None = 1,
        server: str | None = None,
        **options: Any,
    ) -> Fault:
        if fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULT_KINDS)}")
        entry = Fault(method, re.compile(path_regex), fault, times, options, server)
        with self.lock:
            self.faults.append(entry)
        return entry

    def credential_leaks(self) -> list[Recorded]:
        """Requests that carried a credential header to the foreign file host or a public download path."""
        public = re.compile(self.public_paths) if self.public_paths else None
        return [
            r
            for r in list(self.requests)
            if (r.server == "cdn" or (public is not None and public.search(r.path)))
            and any(h in r.headers for h in CREDENTIAL_HEADERS)
        ]

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def fail_next_job(self, message: str) -> None:
        with self.lock:
            self._failures.append(message)

    def expire_links(self) -> None:
        self.links_expired = True

    def complete_all(self) -> None:
        with self.lock:
            for job in list(self.jobs.values()):
                self._advance(job, job.last_stage - job.stage)

    # ------------------------------------------------------------------ for subclasses
    def route(self, server: str, method: str, pattern: str, handler: Handler) -> None:
        self._routes[server].append((method, re.compile(pattern), handler))

    def new_serial(self) -> int:
        self._serial += 1
        return self._serial

    def take_failure(self) -> str | None:
        return self._failures.pop(0) if self._failures else None

    def drop_unused_failures(self) -> list[str]:
        """The ``fail_next_job`` messages no job took, forgotten."""
        with self.lock:
            unused, self._failures = self._failures, []
        return unused

    def add_job(self, job: Job) -> Job:
        self.jobs[job.id] = job
        return job

    def poll(self, job: Job) -> None:
        """Count one status poll; every ``polls_per_step`` polls the job advances one stage."""
        if job.done:
            return
        job.polls += 1
        if job.polls % self.polls_per_step == 0:
            self._advance(job, 1)

    def _advance(self, job: Job, steps: int) -> None:
        for _ in range(max(0, steps)):
            if job.done:
                return
            job.stage += 1
            job.updated = time.time()
            self.on_stage(job)

    def on_stage(self, job: Job) -> None:
        """Called after each stage change (``job.done`` tells the terminal one)."""

    def error_reply(self, server: str, status: int, message: str) -> Reply:
        if server == "cdn":
            return Reply(status, message.encode(), {"Content-Type": "text/plain"})
        return json_reply(status, {"message": message})

    # ------------------------------------------------------------------ internals
    def _record(self, role: str, method: str, target: str, items: Any, body: bytes) -> Recorded:
        split = urlsplit(target)
        headers: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        req = Recorded(
            role, method, unquote(split.path), dict(parse_qsl(split.query)), headers, body, time=time.time()
        )
        ctype = headers.get("content-type", "")
        try:
            if "json" in ctype and body:
                req.json = json.loads(body)
            elif ctype.startswith("multipart/form-data"):
                req.form, req.files = parse_multipart(ctype, body)
            elif ctype.startswith("application/x-www-form-urlencoded"):
                req.form = dict(parse_qsl(body.decode("utf-8", errors="replace")))
        except (ValueError, UnicodeDecodeError):
            req.json = req.form = req.files = None
        with self.lock:
            self.requests.append(req)
        return req

    def _take_fault(self, req: Recorded) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(req):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.fired += 1
                    self.faults_injected += 1
                    req.fault = fault.kind
                    return fault
        return None

    def _fault_reply(self, fault: Fault, req: Recorded) -> Reply:
        default = self.expired_status if fault.kind == "expire" else 500
        status = int(fault.options.get("status", default))
        body = fault.options.get("body")
        if body is None:
            phrase = "Link expired" if fault.kind == "expire" else HTTPStatus(status).phrase
            reply = self.error_reply(req.server, status, fault.options.get("message", phrase))
        elif isinstance(body, (dict, list)):
            reply = json_reply(status, body)
        else:
            reply = Reply(status, body if isinstance(body, bytes) else str(body).encode())
        if fault.options.get("retry_after") is not None:
            reply.headers["Retry-After"] = str(fault.options["retry_after"])
        reply.headers.update(fault.options.get("headers", {}))
        return reply

    def _run(self, req: Recorded) -> Reply:
        with self.lock:
            try:
                return self._dispatch(req)
            except Exception:  # a bug in an emulator must surface as a 500, never hang the client
                self.internal_errors.append(traceback.format_exc())
                return self.error_reply(req.server, 500, "Internal Server Error")

    def _dispatch(self, req: Recorded) -> Reply:
        method = "GET" if req.method == "HEAD" else req.method
        allowed: list[str] = []
        for verb, pattern, handler in self._routes[req.server]:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            if verb == method:
                return handler(req, match)
            allowed.append(verb)
        if allowed:
            reply = self.error_reply(req.server, 405, "Method Not Allowed")
            reply.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return reply
        return self.error_reply(req.server, 404, "Not Found")
