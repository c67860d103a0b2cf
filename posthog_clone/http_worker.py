"""gunicorn's threaded worker, made to read each request before a thread is spent on it.

gunicorn's `gthread` gives a connection a thread as soon as its first byte arrives, and the thread then blocks until
the whole request is in: about as many slow clients as there are threads (20 sending a header line every few
seconds) stopped the whole server. Here the worker's event loop (its main thread, which already waits on every
idle connection) reads the request head and a body of up to BUFFERED_BODY_BYTES without blocking; only a complete
request goes to a thread, which parses it from memory. A slow client costs a socket and its bytes, not a thread,
and is closed once it has taken REQUEST_READ_SECONDS to send its request. A client address may hold at most
MAX_CONNECTIONS_PER_ADDRESS connections to one worker (proxies in TRUSTED_PROXIES excepted: every client behind
them shares their address).

A body over BUFFERED_BODY_BYTES (only file uploads to the local object store are) is read by its thread as
before; a proxy in front that buffers requests (nginx does by default) covers that case too.

Imported by gunicorn's master before Django is set up: nothing here imports Django.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import selectors
import time
from collections import Counter, deque
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

from posthog_clone.client_address import Network, is_trusted, trusted_networks

REQUEST_READ_SECONDS = float(os.environ.get("REQUEST_READ_SECONDS", "30"))
MAX_CONNECTIONS_PER_ADDRESS = int(os.environ.get("MAX_CONNECTIONS_PER_ADDRESS", "256"))
BUFFERED_BODY_BYTES = 4 * 2**20
# A head larger than this is handed over unfinished: gunicorn's parser refuses it at once (431) from memory.
MAX_HEAD_BYTES = 2 * 2**20
RECV_BYTES = 256 * 1024
HEAD_END = b"\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,15})[ \t]*\r\n", re.IGNORECASE)
CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.IGNORECASE)
EXPECT_CONTINUE = re.compile(rb"\r\nexpect[ \t]*:[ \t]*100-continue[ \t]*\r\n", re.IGNORECASE)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _trusted_proxies() -> tuple[Network, ...]:
    try:
        return trusted_networks(entry for entry in os.environ.get("TRUSTED_PROXIES", "").split(",") if entry.strip())
    except ValueError:
        return ()  # settings refuse it with a clear message when the app loads


def request_is_complete(data: bytes | bytearray) -> bool:
    """Whether `data` holds a whole request head and the body it announces (or more than this worker buffers)."""
    end = data.find(HEAD_END)
    if end < 0:
        return len(data) > MAX_HEAD_BYTES
    head = bytes(data[: end + 2])
    if CHUNKED.search(head):
        return True  # read by the thread as it arrives; chunked uploads are rare
    match = CONTENT_LENGTH.search(head)
    length = int(match.group(1)) if match else 0
    return length > BUFFERED_BODY_BYTES or len(data) >= end + len(HEAD_END) + length


class BufferedConn(TConn):
    def __init__(self, *args: Any, on_close: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = bytearray()
        self.read_deadline = 0.0
        self.head_checked = False
        self._on_close = on_close

    def close(self, graceful: bool = False) -> None:
        if self._on_close is not None:
            self._on_close(self)
            self._on_close = None
        super().close(graceful)


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading: deque[BufferedConn] = deque()  # in arrival order, so deadlines are in order too
        self.per_address: Counter[str] = Counter()
        self.trusted = _trusted_proxies()

    def _address(self, client: Any) -> str:
        return client[0] if isinstance(client, tuple) and client else str(client)

    def _limited(self, address: str) -> bool:
        return self.per_address[address] >= MAX_CONNECTIONS_PER_ADDRESS and not is_trusted(address, self.trusted)

    def _forget(self, conn: BufferedConn) -> None:
        address = self._address(conn.client)
        self.per_address[address] -= 1
        if self.per_address[address] <= 0:
            del self.per_address[address]

    def accept(self, listener: Any) -> None:
        if self.cfg.is_ssl:  # TLS bytes cannot be read ahead of the handshake: gunicorn's own way
            super().accept(listener)
            return
        try:
            sock, client = listener.accept()
        except OSError:
            return  # another worker took it, or the client gave up
        address = self._address(client)
        if self._limited(address):
            sock.close()
            self.log.warning("connection refused: %s holds %d connections", address, self.per_address[address])
            return
        self.per_address[address] += 1
        self.nr_conns += 1
        conn = BufferedConn(self.cfg, sock, client, listener.getsockname(), on_close=self._forget)
        self._start_reading(conn)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        # A kept-alive connection's next request is read the same way as a new connection's first.
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start_reading(conn)

    def enqueue_req(self, conn: Any) -> None:
        # A kept-alive connection whose client sent more than one request at once comes back with the next one
        # buffered: a thread takes it only if it is whole, else the event loop reads the rest first.
        unreader = conn.parser.unreader if getattr(conn, "parser", None) is not None else None
        pending = unreader.buf.getvalue() if unreader is not None else b""
        if pending and isinstance(conn, BufferedConn) and not request_is_complete(pending):
            unreader.buf = io.BytesIO()
            self._start_reading(conn, pending)
            return
        super().enqueue_req(conn)

    def _start_reading(self, conn: BufferedConn, received: bytes = b"") -> None:
        conn.sock.setblocking(False)
        conn.received = bytearray(received)
        conn.read_deadline = time.monotonic() + REQUEST_READ_SECONDS
        conn.head_checked = False
        self.reading.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn: BufferedConn, sock: Any) -> None:
        try:
            data = sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._stop_reading(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.received += data
        if not request_is_complete(conn.received):
            self._tell_to_continue(conn)
            return
        self._stop_reading(conn)
        buffered, conn.received = bytes(conn.received), bytearray()
        try:
            conn.init()  # the parser, which reads what arrived before it reads the socket
            conn.parser.unreader.unread(buffered)
        except Exception:  # a connection that cannot be served is closed, never the worker
            self.log.exception("could not start reading a request")
            self.nr_conns -= 1
            conn.close()
            return
        conn.data_ready = True
        self.enqueue_req(conn)

    def _tell_to_continue(self, conn: BufferedConn) -> None:
        """A client that sent `Expect: 100-continue` waits for the go-ahead before its body (curl: 1 s, for bodies
        over 1 MiB). gunicorn says it when its parser reads the head, which here is once the body is in: say it as
        soon as the head is. (Should gunicorn's parser say it again, a client reads any number of 1xx answers.)"""
        if conn.head_checked:
            return
        end = conn.received.find(HEAD_END)
        if end < 0:
            return
        conn.head_checked = True  # once per request: a body trickling in is not searched again at every read
        head = bytes(conn.received[: end + 2])
        request_line = head[: head.find(b"\r\n")]
        # HTTP/1.0 clients cannot ask for it (RFC 9110 §10.1.1: ignored).
        if not request_line.endswith(b" HTTP/1.1") or not EXPECT_CONTINUE.search(head):
            return
        with contextlib.suppress(OSError):  # a client that is gone is noticed by the next read
            conn.sock.send(CONTINUE)  # 25 bytes into an empty send buffer: it does not block

    def _stop_reading(self, conn: BufferedConn) -> None:
        self.poller.unregister(conn.sock)
        self.reading.remove(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        # A stopping worker does not wait for requests still arriving: no thread has started on them.
        now = time.monotonic() if self.alive else float("inf")
        while self.reading and self.reading[0].read_deadline <= now:
            conn = self.reading.popleft()
            self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()
