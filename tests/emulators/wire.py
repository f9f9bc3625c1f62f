# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP plumbing of the emulators: request records, replies, multipart parsing and the request handler.

The handler reads each request whole (Content-Length or chunked), lets the owning :class:`~.base.Emulator`
record it and pick a fault, then answers, drops or truncates as the fault says. It speaks HTTP/1.1 with
keep-alive, like the real services' front ends. See ``base`` for the contract.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Emulator

__all__ = (
    "EmulatorServer",
    "Recorded",
    "Reply",
    "RequestHandler",
    "iso_now",
    "json_reply",
    "parse_multipart",
)


def iso_now(ts: float | None = None) -> str:
    """ISO-8601 UTC timestamp with milliseconds, as the vendors' examples print them."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Recorded:
    """One request as it arrived on either server."""

    server: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes]] | None = None
    time: float = 0.0
    status: int | None = None
    fault: str | None = None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


# Blender's operators release the GIL; Python running in another thread meanwhile can crash Blender. The test
# suite holds this lock around the product's operator calls (imports, FBX exports), and every emulator
# request is handled under it, so the emulators never run Python while Blender is inside an operator.
PYTHON_GUARD = threading.Lock()


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    emulator: Emulator
    role: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer (timeouts, faults) are expected; keep stderr quiet.
        self.emulator.log.append(f"{self.role}: connection error from {client_address}")


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "RetopoHubEmulator/1.0"
    timeout = 30
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        with PYTHON_GUARD:
            self._serve_guarded()

    def _serve_guarded(self) -> None:
        emu = self.server.emulator
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        req = emu._record(self.server.role, self.command, self.path, self.headers.items(), body)
        fault = emu._take_fault(req)
        kind = fault.kind if fault else None
        if fault and kind == "slow":
            PYTHON_GUARD.release()  # a slow answer must not hold Blender's operators back
            try:
                time.sleep(float(fault.options.get("seconds", 1.0)))
            finally:
                PYTHON_GUARD.acquire()
        process = kind in (None, "slow", "truncate") or bool(fault and fault.options.get("process"))
        reply = emu._run(req) if process else None
        if fault and kind in ("status", "expire"):
            reply = emu._fault_reply(fault, req)
        elif fault and kind == "malformed":
            raw = fault.options.get("body", b'{"status": "complete", "output": {')
            reply = Reply(
                200,
                raw if isinstance(raw, bytes) else str(raw).encode(),
                {"Content-Type": "application/json"},
            )
        if reply is None or kind == "drop":
            self.close_connection = True
            return
        keep = None
        if kind == "truncate":
            keep = int(fault.options.get("keep", len(reply.body) // 2)) if fault else 0
        self._send(reply, req, keep)

    def _send(self, reply: Reply, req: Recorded, keep: int | None) -> None:
        body = reply.body
        declared = len(body)
        if keep is not None:
            body = body[: max(0, min(keep, len(body) - 1))]
            declared = max(declared, len(body) + 1)
        req.status = reply.status
        try:
            self.send_response(reply.status)
            headers = {"Content-Type": "application/octet-stream", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(declared))
            if keep is not None:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        if keep is not None:
            self.close_connection = True


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    msg = email.message_from_bytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body, policy=email.policy.HTTP
    )
    if not msg.is_multipart():
        raise ValueError("not a multipart body")
    form: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("multipart part without a name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            form[name] = data.decode("utf-8", errors="replace")
        else:
            files[name] = (filename, data)
    return form, files
