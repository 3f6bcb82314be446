"""In-process capture servers that record what Alertmanager receivers send."""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from aiosmtpd.controller import Controller

from .net import LOOPBACK, free_port
from .process import WaitTimeout
from .rewrite import RECEIVER_HEADER

T = TypeVar("T")

_RESPONSE_BODY = json.dumps({"ok": True, "status": "success", "message": "captured"}).encode()


@dataclass(frozen=True)
class CapturedRequest:
    """One HTTP request received by the capture server."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)

    @property
    def kind(self) -> str | None:
        """Receiver type taken from the first path segment (``slack``, ``webhook``...)."""
        return self._segment(0)

    @property
    def receiver(self) -> str | None:
        """Receiver name taken from the second path segment."""
        return self._segment(1)

    @property
    def json(self) -> Any:
        """The body decoded as JSON, or None if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def _segment(self, index: int) -> str | None:
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        return unquote(parts[index]) if len(parts) > index else None


class _Recorder:
    """Thread-safe list of captured items with blocking waits."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def snapshot(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait(self, select: Callable[[list[Any]], list[T]], count: int, timeout: float) -> list[T]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(chosen := select(self._items)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(f"expected {count} captured items, got {len(chosen)}")
                self._cond.wait(remaining)
            return chosen


class _CaptureHandler(BaseHTTPRequestHandler):
    server: _CaptureHTTPServer

    def do_POST(self) -> None:
        self._record()

    def do_PUT(self) -> None:
        self._record()

    def do_GET(self) -> None:
        self._record()

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        self.server.recorder.add(CapturedRequest(self.command, self.path, headers, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_RESPONSE_BODY)))
        self.end_headers()
        self.wfile.write(_RESPONSE_BODY)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _CaptureHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__((LOOPBACK, 0), _CaptureHandler)
        self.recorder = recorder


class CaptureServer:
    """Threaded HTTP server on 127.0.0.1 recording every request it receives."""

    def __init__(self) -> None:
        self._recorder = _Recorder()
        self._server: _CaptureHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> CaptureServer:
        """Bind a free loopback port and serve in a background thread."""
        self._server = _CaptureHTTPServer(self._recorder)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("capture server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def requests(self) -> list[CapturedRequest]:
        """All requests received so far."""
        return self._recorder.snapshot()

    def clear(self) -> None:
        """Forget the requests received so far."""
        self._recorder.clear()

    def for_receiver(self, receiver: str, kind: str | None = None) -> list[CapturedRequest]:
        """Requests sent by the named receiver (optionally of one receiver type)."""
        return _matching(self.requests, receiver, kind)

    def wait_for_requests(
        self,
        count: int = 1,
        timeout: float = 20.0,
        receiver: str | None = None,
        kind: str | None = None,
    ) -> list[CapturedRequest]:
        """Block until ``count`` matching requests arrived; return all matching ones."""
        return self._recorder.wait(lambda items: _matching(items, receiver, kind), count, timeout)


def _matching(
    items: list[CapturedRequest], receiver: str | None, kind: str | None
) -> list[CapturedRequest]:
    return [
        r
        for r in items
        if (receiver is None or r.receiver == receiver) and (kind is None or r.kind == kind)
    ]


@dataclass(frozen=True)
class CapturedMail:
    """One message delivered to the SMTP capture server."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        """The parsed message."""
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    @property
    def receiver(self) -> str | None:
        """The Alertmanager receiver name from the test header."""
        value = self.message.get(RECEIVER_HEADER)
        return None if value is None else str(value)


class _MailHandler:
    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.recorder.add(CapturedMail(envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 Message accepted for delivery"


class SmtpCapture:
    """aiosmtpd server on 127.0.0.1 collecting every delivered message."""

    def __init__(self) -> None:
        self._recorder = _Recorder()
        self._controller: Controller | None = None
        self.port = 0

    def start(self) -> SmtpCapture:
        """Start the SMTP server on a free loopback port."""
        for _ in range(3):
            self.port = free_port()
            controller = Controller(
                _MailHandler(self._recorder),
                hostname=LOOPBACK,
                port=self.port,
                server_hostname="localhost",
            )
            try:
                controller.start()
            except (OSError, RuntimeError):
                with contextlib.suppress(Exception):
                    controller.stop(no_assert=True)
                continue
            self._controller = controller
            return self
        raise RuntimeError("could not start the SMTP capture server")

    def stop(self) -> None:
        """Stop the SMTP server."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT`` for use as an SMTP smarthost."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def messages(self) -> list[CapturedMail]:
        """All messages received so far."""
        return self._recorder.snapshot()

    def wait_for_messages(
        self, count: int = 1, timeout: float = 20.0, receiver: str | None = None
    ) -> list[CapturedMail]:
        """Block until ``count`` messages (for ``receiver`` if given) arrived."""

        def select(items: list[CapturedMail]) -> list[CapturedMail]:
            return [m for m in items if receiver is None or m.receiver == receiver]

        return self._recorder.wait(select, count, timeout)
