"""ClickHouse's HTTP interface, served by chdb (ClickHouse's engine) in a process of its own, so that the production
client (`ConnectClient`, clickhouse-connect over HTTP) runs in the tests exactly as against a server.

What it serves is the part clickhouse-connect uses: the query in the body and/or the `query` URL parameter (joined by
a newline, as ClickHouse does, so an INSERT's data may follow its statement), `param_*` values, `database`,
`default_format`, every other URL parameter as a setting, compressed request bodies (`Content-Encoding`), compressed
answers when `enable_http_compression=1` and the client accepts an encoding, ClickHouse's `X-ClickHouse-*` headers,
its errors (`Code: N. DB::Exception: ... (NAME) (version V)` with the HTTP status ClickHouse gives that code), and
basic auth, `X-ClickHouse-User`/`X-ClickHouse-Key` or `user`/`password` parameters (516 AUTHENTICATION_FAILED).
It runs one statement at a time (chdb's engine serves one), takes inserted data in text formats only (chdb takes the
statement as text), has no sessions, no async inserts, no replication, no progress headers, no external data, and
ignores `client_protocol_version` (clickhouse-connect's probe then falls back to protocol 0, as for an old server).
`readonly` is honoured by refusing statements that write (164 READONLY), not by chdb.

Faults are set through `POST /__fault` (JSON `{"mode", "match", ...}`; `{"mode": "none"}` clears them) for the
requests whose statement contains `match`: `error` answers a ClickHouse exception without running the statement,
`truncate` runs it and cuts the answer's body short, `hang` answers nothing until the fault is cleared (or
`seconds` pass) and then closes the connection without running the statement.

Run: `python -m tests.clickhouse_http --data-dir DIR --user U --password P`; it prints `listening <port>` when ready.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import re
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import lz4.frame
from backports import zstd

# URL parameters the HTTP interface consumes itself; any other (but `param_*`) is a setting.
HTTP_PARAMETERS = frozenset({
    "query", "database", "default_format", "user", "password", "quota_key", "query_id", "session_id",
    "session_timeout", "session_check", "compress", "decompress", "buffer_size", "wait_end_of_query",
    "client_protocol_version", "role",
})  # fmt: skip
# Settings that only shape the HTTP answer: the fixture honours enable_http_compression and accepts the rest.
HTTP_SETTINGS = frozenset({
    "enable_http_compression", "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "cancel_http_readonly_queries_on_client_close", "http_response_buffer_size",
})  # fmt: skip
# Statements ClickHouse runs under readonly; everything else is refused with READONLY (164).
READ_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN"})
# The HTTP status ClickHouse answers for an exception code (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp); 500
# for any other.
HTTP_STATUS_OF_CODE = {
    194: 401,
    **dict.fromkeys((192, 193, 497, 516), 403),
    **dict.fromkeys((6, 27, 36, 38, 41, 53, 62, 69, 70, 72, 117, 167, 168, 427), 400),
    **dict.fromkeys((46, 47, 60, 73, 81, 115, 116), 404),
    48: 501,
    159: 408,
    209: 503,
}
# Response encodings, in the order ClickHouse picks one from Accept-Encoding.
RESPONSE_ENCODINGS = ("gzip", "deflate", "zstd", "lz4")
CONTENT_TYPES = {"JSONCompact": "application/json; charset=UTF-8", "JSON": "application/json; charset=UTF-8",
                 "Native": "application/octet-stream"}  # fmt: skip
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*\Z", re.IGNORECASE)
LEADING_NOISE = re.compile(r"\A(?:\s+|--[^\n]*\n|/\*.*?\*/|\()*", re.DOTALL)


class ClickHouseException(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass
class Fault:
    mode: str = "none"  # none | error | truncate | hang
    match: str = ""
    code: int = 241
    message: str = "Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)"
    seconds: float = 30.0
    cleared: threading.Event = field(default_factory=threading.Event)

    def applies_to(self, statement: str) -> bool:
        return self.mode != "none" and self.match.lower() in statement.lower()


class Engine:
    """chdb's session; one statement at a time."""

    def __init__(self, data_dir: str) -> None:
        from chdb import session

        self._session = session.Session(data_dir)
        self._lock = threading.Lock()
        version, zone = self._session.query("SELECT version(), timezone()", "TabSeparated").bytes().decode().split()
        self.version, self.timezone = version, zone

    def run(self, text: str, output_format: str, params: dict[str, str], settings: dict[str, str],
            database: str | None) -> tuple[bytes, dict[str, Any]]:  # fmt: skip
        from chdb import ChdbError

        with self._lock:
            applied: list[str] = []
            try:
                if database:
                    self._session.query(f"USE {quote_identifier(database)}", "TabSeparated")
                # Settings for this statement only, as the URL gives them: set on the session, reset afterwards.
                for name, value in settings.items():
                    self._session.query(f"SET {quote_identifier(name)} = {quote_string(value)}", "TabSeparated")
                    applied.append(name)
                started = time.monotonic_ns()
                result = self._session.query(text, output_format, params=params)
                summary = {"read_rows": result.rows_read(), "read_bytes": result.bytes_read(),
                           "elapsed_ns": time.monotonic_ns() - started}  # fmt: skip
                return result.bytes(), summary
            except (ChdbError, RuntimeError) as error:
                message = str(error).split("\n")[0]
                # chdb hands what a failed statement had written to the next one's answer: drain it.
                self._session.query("SELECT 1", "TabSeparated")
                found = re.match(r"Code: (\d+)\.", message)
                raise ClickHouseException(int(found.group(1)) if found else 1001, message) from None
            finally:
                for name in applied:
                    self._session.query(f"SET {quote_identifier(name)} = DEFAULT", "TabSeparated")
                if database:
                    self._session.query("USE default", "TabSeparated")


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# Each HTTP content encoding ClickHouse speaks: (compress, decompress).
CODECS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "gzip": (gzip.compress, gzip.decompress),
    "deflate": (zlib.compress, zlib.decompress),
    "zstd": (zstd.compress, zstd.decompress),
    "lz4": (lz4.frame.compress, lz4.frame.decompress),
}


def decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in CODECS:
        raise ClickHouseException(432, f"Code: 432. DB::Exception: Unknown HTTP compression method: {encoding}. "
                                       "(UNKNOWN_COMPRESSION_METHOD)")  # fmt: skip
    return CODECS[encoding][1](body)


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    message = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {}
    for part in message.iter_parts():
        if part.get_filename() is not None:
            raise ClickHouseException(48, "Code: 48. DB::Exception: External data is not served by this fixture. "
                                          "(NOT_IMPLEMENTED)")  # fmt: skip
        payload = part.get_payload(decode=True)
        fields[str(part.get_param("name", header="content-disposition"))] = (payload or b"").decode()
    return fields


def compress(body: bytes, encoding: str) -> bytes:
    return CODECS[encoding][0](body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine, user: str, password: str) -> None:
        super().__init__(address, Handler)
        self.engine = engine
        self.user = user
        self.password = password
        self.fault = Fault()
        self.fault_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"  # keep-alive, as ClickHouse; every answer carries Content-Length

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the tests read answers, not logs
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if url.path == "/__fault":
            self._set_fault(body)
            return
        if url.path in ("/ping", "/") and not url.query and not body:
            self._answer(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
            return
        query_id = str(uuid.uuid4())
        try:
            self._run(dict(parse_qsl(url.query, keep_blank_values=True)), body, query_id)
        except ClickHouseException as error:
            text = str(error) if str(error).startswith("Code: ") else f"Code: {error.code}. DB::Exception: {error}"
            self._answer(HTTP_STATUS_OF_CODE.get(error.code, 500),
                         f"{text} (version {self.server.engine.version})\n".encode(),
                         {"Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": str(error.code),
                          "X-ClickHouse-Query-Id": query_id})  # fmt: skip

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":  # clickhouse-connect streams some inserts
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(chunks)

    def _set_fault(self, body: bytes) -> None:
        wanted = json.loads(body or b"{}")
        with self.server.fault_lock:
            self.server.fault.cleared.set()  # wakes requests held by the previous fault
            self.server.fault = Fault(**wanted)
        self._answer(200, b"Ok.\n", {})

    def _authenticate(self, params: dict[str, str]) -> None:
        user, password = params.get("user"), params.get("password", "")
        if "X-ClickHouse-User" in self.headers:
            user, password = self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        user = user or "default"
        if (user, password) != (self.server.user, self.server.password):
            raise ClickHouseException(516, f"Code: 516. DB::Exception: {user}: Authentication failed: password is "
                                           "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)")  # fmt: skip

    def _run(self, params: dict[str, str], body: bytes, query_id: str) -> None:
        self._authenticate(params)
        body = decompress(body, self.headers.get("Content-Encoding", ""))
        if self.headers.get_content_type() == "multipart/form-data":
            # clickhouse-connect sends long parameters (and then the query) as form fields.
            params = {**params, **form_fields(self.headers["Content-Type"], body)}
            body = b""
        query = params.get("query", "")
        text = f"{query}\n{body.decode()}" if query and body else query or body.decode()
        if not text.strip():
            raise ClickHouseException(62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
        first_word = re.match(r"\w+", LEADING_NOISE.sub("", text))
        kind = first_word.group(0).upper() if first_word else ""
        statement = text.split("\n", 1)[0] if kind == "INSERT" else text  # an INSERT's data is not its statement
        settings = {name: value for name, value in params.items()
                    if name not in HTTP_PARAMETERS and not name.startswith("param_")}  # fmt: skip
        readonly = settings.pop("readonly", "0")
        if readonly != "0" and kind not in READ_STATEMENTS:
            raise ClickHouseException(164, "Code: 164. DB::Exception: Cannot execute query in readonly mode. "
                                           "(READONLY)")  # fmt: skip
        fault = self.server.fault
        if fault.applies_to(statement) and fault.mode == "error":
            raise ClickHouseException(fault.code, f"Code: {fault.code}. DB::Exception: {fault.message}")
        if fault.applies_to(statement) and fault.mode == "hang":
            fault.cleared.wait(timeout=fault.seconds)
            self.close_connection = True  # no answer at all
            return
        found = TRAILING_FORMAT.search(statement) if kind in READ_STATEMENTS else None
        output_format = found.group(1) if found else params.get("default_format", "TabSeparated")
        answer, summary = self.server.engine.run(
            text, output_format, {name[6:]: value for name, value in params.items() if name.startswith("param_")},
            {name: value for name, value in settings.items() if name not in HTTP_SETTINGS}, params.get("database"),
        )  # fmt: skip
        headers = {
            "X-ClickHouse-Server-Display-Name": "chdb-fixture",
            "X-ClickHouse-Query-Id": params.get("query_id") or query_id,
            "X-ClickHouse-Timezone": self.server.engine.timezone,
            "X-ClickHouse-Summary": json.dumps({name: str(value) for name, value in summary.items()}),
        }
        if kind in READ_STATEMENTS:  # ClickHouse names a format only for statements that answer rows
            headers["Content-Type"] = CONTENT_TYPES.get(output_format, "text/tab-separated-values; charset=UTF-8")
            headers["X-ClickHouse-Format"] = output_format
        accepted = self.headers.get("Accept-Encoding", "")
        encoding = next((name for name in RESPONSE_ENCODINGS if name in accepted), None)
        if encoding and settings.get("enable_http_compression") == "1" and answer:
            answer = compress(answer, encoding)
            headers["Content-Encoding"] = encoding
        if fault.applies_to(statement) and fault.mode == "truncate":
            self._answer(200, answer[: len(answer) // 2], headers, announced=max(len(answer), 1))
            self.close_connection = True
            return
        self._answer(200, answer, headers)

    def _answer(self, status: int, body: bytes, headers: dict[str, str], *, announced: int | None = None) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if announced is None else announced))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    server = Server(("127.0.0.1", options.port), Engine(options.data_dir), options.user, options.password)
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
