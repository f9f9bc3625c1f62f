# SPDX-License-Identifier: GPL-3.0-or-later
"""HttpClient against two real local servers: "api" (the service origin) and "cdn" (a foreign origin).

Routes are scripted queues of answers (the last one repeats); the injected ``sleep`` records delays instead
of sleeping, except in the one test that proves the default wait is cancellable.
"""

from __future__ import annotations

import email.utils
import io
import logging
import random
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from retopo_hub.core.errors import (
    AuthError,
    Cancelled,
    ClientError,
    ConfigError,
    MalformedResponse,
    NetworkError,
    RateLimitError,
    RequestTimeout,
    ResultExpired,
    ServerError,
    ServiceError,
    UnsafeLink,
)
from retopo_hub.providers.http import HttpClient, parse_retry_after, validate_base_url

SECRET = "sk-test-SUPERSECRET-0123456789"
JSON = {"Content-Type": "application/json"}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    url: str
    routes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def route(self, method: str, path: str, *answers: Any) -> None:
        self.routes[(method, path)] = list(answers)

    def hits(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep pytest output quiet
        pass

    def _handle(self) -> None:
        state: Server = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        state.seen.append(Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body))
        queue = state.routes.get((self.command, path)) or [(599, {}, b"no route")]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer):
            answer(self)
            return
        status, headers, payload = answer
        self.send_response(status)
        for key, value in {"Content-Length": str(len(payload)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _handle  # noqa: N815 - the names http.server dispatches to


def raw(body: bytes, length: int | None = None, delay: float = 0.0) -> Any:
    """A 200 written by hand: an optional delay, a Content-Length that may lie or be missing, a hang-up."""

    def act(h: Handler) -> None:
        h.server.state.release.wait(delay)
        h.send_response(200)
        if length is not None:
            h.send_header("Content-Length", str(length))
        h.end_headers()
        h.wfile.write(body)
        h.close_connection = True

    return act


def hang_up(h: Handler) -> None:  # read the request, answer nothing
    h.close_connection = True


def start_server() -> tuple[ThreadingHTTPServer, Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.state = Server(f"http://127.0.0.1:{httpd.server_address[1]}")  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd, httpd.state  # type: ignore[attr-defined]


@pytest.fixture
def servers() -> Any:
    (api_httpd, api), (cdn_httpd, cdn) = start_server(), start_server()
    yield api, cdn
    for httpd in (api_httpd, cdn_httpd):
        httpd.state.release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def api(servers: Any) -> Server:
    return servers[0]


@pytest.fixture
def cdn(servers: Any) -> Server:
    return servers[1]


def make_client(base: str, delays: list[float] | None = None, **kw: Any) -> HttpClient:
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment must not swallow loopback traffic
    options = dict(
        auth_headers=lambda: {"Authorization": f"Bearer {SECRET}", "x-api-key": SECRET},
        user_agent="RetopoHub-test/1", connect_timeout=2, read_timeout=2, max_retries=3,
        sleep=(delays if delays is not None else []).append, rng=random.Random(7), session=session,
        service_name="TestSvc", key_env_var="TESTSVC_API_KEY",
    )  # fmt: skip
    return HttpClient(base + "/v1", **{**options, **kw})


def no_secret(*things: Any) -> None:
    for thing in things:  # the message, the repr and the whole chained traceback
        trace = "".join(traceback.format_exception(thing)) if isinstance(thing, BaseException) else ""
        assert SECRET not in f"{thing} {thing!r} {trace}"


def test_credentials_go_to_the_api_origin_only(api: Server, cdn: Server) -> None:
    api.route("GET", "/v1/me", (200, JSON, b'{"ok": true}'))
    cdn.route("GET", "/blob", (200, {}, b"data"))
    client = make_client(api.url)
    assert client.json("GET", "/v1/me") == {"ok": True}
    assert client.request("GET", f"{cdn.url}/blob").content == b"data"
    sent = api.hits("GET", "/v1/me")[0].headers
    assert sent["authorization"] == f"Bearer {SECRET}" and sent["x-api-key"] == SECRET
    assert sent["user-agent"] == "RetopoHub-test/1"
    foreign = cdn.hits("GET", "/blob")[0].headers
    assert "authorization" not in foreign and "x-api-key" not in foreign


def test_redirect_to_another_origin_drops_every_credential(api: Server, cdn: Server) -> None:
    api.route("GET", "/v1/result", (302, {"Location": f"{cdn.url}/blob?sig=abc"}, b""))
    cdn.route("GET", "/blob", (200, {}, b"payload"))
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Api-Key"] = SECRET  # even a header the session carries must not leak
    client = make_client(api.url, session=session)
    assert client.request("GET", "result").content == b"payload"
    assert client.stats["redirects"] == 1
    assert api.hits("GET", "/v1/result")[0].headers["x-api-key"] == SECRET
    foreign = cdn.hits("GET", "/blob")[0].headers
    assert "authorization" not in foreign and "x-api-key" not in foreign


def test_307_keeps_method_and_body_303_turns_into_a_bodiless_get(api: Server, cdn: Server) -> None:
    api.route("POST", "/v1/a", (307, {"Location": "/v1/b"}, b""))
    api.route("POST", "/v1/b", (303, {"Location": f"{cdn.url}/status"}, b""))
    cdn.route("GET", "/status", (200, JSON, b'{"state": "queued"}'))
    assert make_client(api.url).json("POST", "a", json={"x": 1}) == {"state": "queued"}
    second = api.hits("POST", "/v1/b")[0]
    assert second.body == b'{"x": 1}' and second.headers["x-api-key"] == SECRET  # same origin: kept
    assert cdn.hits("GET", "/status")[0].body == b""


def test_get_retried_on_503_then_succeeds(api: Server) -> None:
    api.route("GET", "/v1/s", (503, {}, b""), (503, {}, b""), (200, JSON, b'{"done": 1}'))
    delays: list[float] = []
    client = make_client(api.url, delays, backoff_base=1.0, backoff_max=30.0)
    assert client.json("GET", "s") == {"done": 1}
    assert client.stats == {"requests": 3, "retries": 2, "redirects": 0}
    assert len(delays) == 2 and 0 <= delays[0] <= 1 and 0 <= delays[1] <= 2  # full jitter under the cap


def test_retry_after_seconds_and_date_are_honoured(api: Server) -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    answers = [(429, {"Retry-After": "7"}, b""), (503, {"Retry-After": later}, b""), (200, JSON, b"{}")]
    api.route("GET", "/v1/s", *answers)
    delays: list[float] = []
    make_client(api.url, delays).json("GET", "s")
    assert delays[0] == 7.0 and 25 <= delays[1] <= 30
    # A wait beyond max_retry_after is handed to the caller instead of being slept through.
    api.route("GET", "/v1/s", (429, {"Retry-After": "500"}, b'{"message": "slow down"}'))
    with pytest.raises(RateLimitError) as info:
        make_client(api.url, delays, max_retry_after=120).json("GET", "s")
    assert info.value.retry_after == 500 and len(delays) == 2 and "wait 500 s" in str(info.value)
    assert info.value.remote_message == "slow down"


def test_post_not_retried_on_read_timeout_but_get_is(api: Server) -> None:
    api.route("POST", "/v1/jobs", raw(b"{}", 2, delay=1.0))
    client = make_client(api.url, read_timeout=0.3)
    with pytest.raises(RequestTimeout):
        client.json("POST", "jobs", json={})
    assert len(api.hits("POST", "/v1/jobs")) == 1
    api.route("GET", "/v1/s", raw(b"{}", 2, delay=1.0), (200, JSON, b'{"ok": 1}'))
    assert client.json("GET", "s") == {"ok": 1}
    assert len(api.hits("GET", "/v1/s")) == 2


def test_post_not_retried_after_the_connection_broke_but_get_is(api: Server) -> None:
    api.route("POST", "/v1/jobs", hang_up)
    client = make_client(api.url)
    with pytest.raises(NetworkError) as info:
        client.json("POST", "jobs", json={})
    assert "broke" in str(info.value) and len(api.hits("POST", "/v1/jobs")) == 1
    api.route("GET", "/v1/s", hang_up, (200, JSON, b"{}"))
    assert client.json("GET", "s") == {}


def test_post_retried_on_429_but_never_on_500(api: Server) -> None:
    answers = [(429, {"Retry-After": "0"}, b""), (500, JSON, b'{"error": "boom\\n  at line 3"}')]
    api.route("POST", "/v1/jobs", *answers)
    delays: list[float] = []
    with pytest.raises(ServerError) as info:
        make_client(api.url, delays).json("POST", "jobs", json={})
    assert info.value.status == 500 and info.value.remote_message == "boom at line 3"
    assert delays == [0.0] and len(api.hits("POST", "/v1/jobs")) == 2  # the 429 once, the 500 never


def test_post_retried_when_the_connection_is_refused() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delays: list[float] = []
    client = make_client(f"http://127.0.0.1:{port}", delays, max_retries=2)
    with pytest.raises(NetworkError) as info:
        client.json("POST", "jobs", json={})
    assert "could not connect" in str(info.value)
    assert client.stats["requests"] == 3 and len(delays) == 2


def test_malformed_json_is_retried_for_get_only(api: Server) -> None:
    api.route("GET", "/v1/s", (200, {}, b"<html>oops</html>"), (200, JSON, b'{"ok": true}'))
    client = make_client(api.url)
    assert client.json("GET", "s") == {"ok": True}
    api.route("POST", "/v1/jobs", (200, JSON, b"[1, 2]"))
    with pytest.raises(MalformedResponse):
        client.json("POST", "jobs", json={})
    assert len(api.hits("POST", "/v1/jobs")) == 1


def test_status_mapping_and_remote_messages(api: Server) -> None:
    api.route("GET", "/v1/auth", (401, JSON, f'{{"error": {{"message": "bad key {SECRET}"}}}}'.encode()))
    api.route("GET", "/v1/missing", (404, {}, b""))
    api.route("POST", "/v1/bad", (422, JSON, b'{"detail": [{"msg": "faces too high"}]}'))
    client = make_client(api.url)
    with pytest.raises(AuthError) as auth:
        client.json("GET", "auth")
    assert "TESTSVC_API_KEY" in str(auth.value) and "Preferences > Add-ons > Retopo Hub" in str(auth.value)
    assert auth.value.remote_message == "bad key ***"
    with pytest.raises(ClientError) as missing:
        client.json("GET", "missing")
    assert missing.value.status == 404
    with pytest.raises(ClientError) as bad:
        client.json("POST", "bad", json={})
    assert bad.value.remote_message == "faces too high"
    no_secret(auth.value, missing.value, bad.value, client)


def test_download_restarts_after_a_body_cut_short(api: Server, cdn: Server, tmp_path: Path) -> None:
    body = bytes(range(256)) * 40
    cdn.route("GET", "/r.glb", raw(b"x" * 500, length=len(body)), (200, {}, body))
    client = make_client(api.url)
    dest = client.download(
        f"{cdn.url}/r.glb", tmp_path / "r.glb", max_bytes=1 << 20, expected_size=len(body), chunk=256
    )
    assert dest.read_bytes() == body and len(cdn.hits("GET", "/r.glb")) == 2
    assert "authorization" not in cdn.seen[0].headers
    assert [p.name for p in tmp_path.iterdir()] == ["r.glb"]  # no .part left behind


def test_download_failing_for_good_leaves_nothing(cdn: Server, tmp_path: Path) -> None:
    cdn.route("GET", "/r.glb", raw(b"x" * 500, length=1000))
    (tmp_path / "r.glb").write_bytes(b"old")
    with pytest.raises(NetworkError):
        make_client(cdn.url).download(f"{cdn.url}/r.glb", tmp_path / "r.glb", max_bytes=10_000)
    assert (tmp_path / "r.glb").read_bytes() == b"old"  # the previous file survives a failed download
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.glb"]


DOWNLOAD_STATUSES = [
    ("cdn", 404, ResultExpired),
    ("cdn", 410, ResultExpired),
    ("cdn", 403, ResultExpired),  # an expired presigned link
    ("api", 403, AuthError),  # our own key was refused
    ("api", 404, ResultExpired),
]


@pytest.mark.parametrize(("where", "status", "error"), DOWNLOAD_STATUSES)
def test_download_status_mapping(servers: Any, where: str, status: int, error: type, tmp_path: Path) -> None:
    api, cdn = servers
    server = api if where == "api" else cdn
    server.route("GET", "/v1/r.glb", (status, {}, b"gone"))
    with pytest.raises(error):
        make_client(api.url).download(f"{server.url}/v1/r.glb", tmp_path / "r.glb", max_bytes=1000)
    assert len(server.seen) == 1 and not list(tmp_path.iterdir())


def test_download_size_cap_on_declared_and_real_size(cdn: Server, tmp_path: Path) -> None:
    cdn.route("GET", "/big", (200, {}, b"x" * 5000))
    cdn.route("GET", "/sneaky", raw(b"z" * 5000))
    client = make_client(cdn.url)
    for name in ("big", "sneaky"):
        with pytest.raises(ServiceError, match="larger than 1000 B"):
            client.download(f"{cdn.url}/{name}", tmp_path / name, max_bytes=1000, chunk=256)
        assert len(cdn.hits("GET", f"/{name}")) == 1  # not worth repeating
    assert not list(tmp_path.iterdir())


def test_put_bytes_rewinds_file_and_sends_no_credentials(cdn: Server) -> None:
    cdn.route("PUT", "/upload", (503, {}, b""), (200, {}, b""))
    payload = io.BytesIO(b"head" + b"m" * 4096)
    payload.seek(4)  # start where the caller left the stream
    make_client("http://127.0.0.1:9").put_bytes(f"{cdn.url}/upload?X-Sig=1", payload)
    bodies = [s.body for s in cdn.hits("PUT", "/upload")]
    assert bodies == [b"m" * 4096] * 2
    headers = cdn.seen[0].headers
    assert not {"authorization", "x-api-key", "content-md5"} & set(headers)


def test_cancel_before_sending_and_during_a_backoff_wait(api: Server) -> None:
    event = threading.Event()
    event.set()
    with pytest.raises(Cancelled):
        make_client(api.url, cancel_event=event).json("GET", "s")
    assert api.seen == []
    api.route("GET", "/v1/s", (503, {"Retry-After": "60"}, b""))
    event = threading.Event()
    client = make_client(api.url, cancel_event=event, sleep=None)  # the real, interruptible wait
    threading.Timer(0.2, event.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        client.json("GET", "s")
    assert time.monotonic() - started < 5


def test_base_url_rules() -> None:
    assert validate_base_url("https://api.example.com/v1/") == "https://api.example.com/v1"
    for loopback in ("http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:81", "http://localhost"):
        assert validate_base_url(loopback) == loopback
    with pytest.raises(ConfigError, match=r"use https:// for example\.com"):
        validate_base_url("http://example.com/api")
    for bad in ("ftp://example.com", "https://", "https://user:pw@example.com", "https://h:99999", ""):
        with pytest.raises(ConfigError):
            validate_base_url(bad)
    client = make_client("https://api.example.com")
    assert client.url_for("/api/tools/model/abc") == "https://api.example.com/api/tools/model/abc"
    assert client.url_for("jobs/1") == "https://api.example.com/v1/jobs/1"
    assert client.url_for("https://cdn.example.net/x") == "https://cdn.example.net/x"
    assert parse_retry_after("12") == 12.0 and parse_retry_after("soon") is None


def test_no_secret_in_errors_or_debug_logs(api: Server, cdn: Server, tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    api.route("GET", "/v1/r", (302, {"Location": f"{cdn.url}/x?X-Signature=presigned"}, b""))
    cdn.route("GET", "/x", (503, {"Content-Type": "text/plain"}, f"upstream says {SECRET}".encode()))
    api.route("GET", "/v1/k", (403, {"Content-Type": "text/plain"}, f"key {SECRET} is revoked".encode()))
    client = make_client(api.url, max_retries=1)
    with pytest.raises(ServiceError) as redirected:
        client.request("GET", "r")
    with pytest.raises(AuthError) as refused:
        client.json("GET", "k")
    with pytest.raises(ServerError) as downloading:
        client.download("r", tmp_path / "f", max_bytes=10)
    errors = [redirected.value, refused.value, downloading.value]
    assert refused.value.remote_message == "key *** is revoked"
    no_secret(*errors, client)
    assert SECRET not in caplog.text and "retry 1/1" in caplog.text
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("retopo_hub")]
    assert ours and not any("X-Signature" in line for line in ours)  # our lines never carry query strings


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data",  # a cloud metadata service (link-local)
        "https://10.0.0.7/blob",  # the LAN
        "https://[fe80::1]/blob",  # IPv6 link-local
        "http://example.com/blob",  # plain http on the internet
    ],
)
def test_result_links_and_redirects_to_local_or_plain_http_hosts_are_refused(
    api: Server, target: str
) -> None:
    """Nothing is sent there, the refusal is not retried, and the message names the host it refused."""
    api.route("GET", "/v1/result", (302, {"Location": target}, b""))
    delays: list[float] = []
    client = make_client(api.url, delays)
    for attempt in (lambda: client.request("GET", "result"), lambda: client.request("GET", target)):
        with pytest.raises(UnsafeLink) as refused:
            attempt()
        host = target.split("//")[1].split("/")[0].strip("[]")
        assert host in str(refused.value) and "report it to" in str(refused.value)
    assert delays == [], "an unsafe link is never retried"


def test_a_name_resolving_to_a_private_address_is_refused(api: Server, monkeypatch: Any) -> None:
    """The resolved address decides, not the name."""
    real = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "cdn.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.20", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(
        UnsafeLink, match=r"cdn\.example\.test is a private or local address \(192\.168\.1\.20\)"
    ):
        make_client(api.url).request("GET", "https://cdn.example.test/blob")


def test_loopback_links_are_refused_when_the_api_is_not_on_loopback() -> None:
    client = make_client("https://api.example.test")
    with pytest.raises(UnsafeLink, match=r"127\.0\.0\.1"):
        client.request("GET", "https://127.0.0.1:9/blob")


def trickle(total_s: float, every_s: float = 0.1) -> Any:
    """A 200 whose body comes one byte at a time: each read is quick, the whole answer never ends."""

    def act(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        ends = time.monotonic() + total_s
        while time.monotonic() < ends and not h.server.state.release.wait(every_s):
            try:
                h.wfile.write(b"{")
                h.wfile.flush()
            except OSError:
                return
        h.close_connection = True

    return act


def test_a_trickling_answer_is_cut_at_the_total_time_limit(api: Server, cdn: Server, tmp_path: Path) -> None:
    api.route("GET", "/v1/status", trickle(30.0))
    cdn.route("GET", "/blob", trickle(30.0))
    client = make_client(api.url, total_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(RequestTimeout, match="too slow"):
        client.json("GET", "status")
    with pytest.raises(RequestTimeout, match="too slow"):
        client.download(f"{cdn.url}/blob", tmp_path / "blob.bin", max_bytes=1 << 20)
    assert time.monotonic() - started < 8.0, "each attempt ends at its limit, read timeouts notwithstanding"
    assert not list(tmp_path.iterdir()), "no half-written download"


def test_nothing_is_sent_once_the_jobs_deadline_has_passed(api: Server) -> None:
    api.route("GET", "/v1/status", (200, JSON, b"{}"))
    with pytest.raises(RequestTimeout, match="deadline"):
        make_client(api.url, time_left=lambda: 0.0).json("GET", "status")
    assert api.hits("GET", "/v1/status") == []
