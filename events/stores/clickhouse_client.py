"""Two thin ways to talk to ClickHouse with the same calls: `query` (SQL text with `{name:Type}` server-side
parameters, answered as JSONCompact) and `insert` (rows as JSONCompactEachRow). `ConnectClient` passes both through
clickhouse-connect to a server unchanged; `ChdbClient` runs them on chdb's engine inside this process (tests, the
benchmark, single-process use). Decoding the answer is shared, so both give the same Python values."""

from __future__ import annotations

import math
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo

import orjson

T = TypeVar("T")


class ClickHouseError(Exception):
    """ClickHouse refused a statement (its message and code), as opposed to being unreachable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        found = re.search(r"Code: (\d+)\.", message)
        self.code = int(found.group(1)) if found else None


class ClickHouseUnavailable(Exception):
    """ClickHouse could not be reached or did not answer in time."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[tuple[str, str]]  # (name, ClickHouse type)
    rows: list[tuple[Any, ...]]


class ClickHouseClient(Protocol):
    database: str

    def query(self, text: str, params: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None) -> QueryResult: ...  # fmt: skip
    def command(self, text: str, params: Mapping[str, Any] | None = None) -> None: ...
    def insert(self, table: str, columns: list[str], body: bytes,
               settings: Mapping[str, Any] | None = None) -> None: ...  # fmt: skip


# --- decoding JSONCompact (both adapters ask for it) -------------------------------------------------------------
def _unwrap(type_: str, wrapper: str) -> str | None:
    return type_[len(wrapper) + 1 : -1] if type_.startswith(wrapper + "(") else None


@cache
def _converter(type_: str) -> Any:
    inner = _unwrap(type_, "Nullable") or _unwrap(type_, "LowCardinality")
    if inner is not None:
        convert = _converter(inner)
        return lambda value: None if value is None else convert(value)
    item = _unwrap(type_, "Array")
    if item is not None:
        convert = _converter(item)
        return lambda value: [convert(v) for v in value]
    if type_ == "UUID":
        return uuid.UUID
    if type_.startswith("DateTime"):
        zone = type_.split("'")[1] if "'" in type_ else "UTC"
        tz = UTC if zone == "UTC" else ZoneInfo(zone)
        return lambda value: datetime.fromisoformat(value).replace(tzinfo=tz)
    if type_.startswith("Date"):
        return date.fromisoformat
    if type_.startswith(("Int", "UInt")):
        return int
    if type_.startswith("Float") or type_.startswith("Decimal"):
        return lambda value: float(value) if value is not None else None
    if type_ == "Bool":
        return bool
    return lambda value: value


# Infinities and NaN as quoted text (`"inf"`), which the Float converter reads, rather than JSON's null.
ANSWER_SETTINGS = {"output_format_json_quote_denormals": 1}


def decode_json_compact(body: bytes) -> QueryResult:
    if not body:
        return QueryResult([], [])
    document = orjson.loads(body)
    columns = [(column["name"], column["type"]) for column in document["meta"]]
    converters = [_converter(type_) for _, type_ in columns]
    rows = [tuple(convert(value) for convert, value in zip(converters, row, strict=True))
            for row in document["data"]]  # fmt: skip
    return QueryResult(columns, rows)


def _settings_clause(settings: Mapping[str, Any] | None) -> str:
    if not settings:
        return ""
    return " SETTINGS " + ", ".join(f"{name} = {orjson.dumps(value).decode()}".replace('"', "'")
                                    for name, value in settings.items())  # fmt: skip


# --- a ClickHouse server, through clickhouse-connect ------------------------------------------------------------
# Exception codes that say the server cannot serve anyone now, whatever the statement: the store is unavailable.
SERVER_UNAVAILABLE_CODES = frozenset({
    192,  # UNKNOWN_USER
    193,  # WRONG_PASSWORD
    194,  # REQUIRED_PASSWORD
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    242,  # TABLE_IS_READ_ONLY
    252,  # TOO_MANY_PARTS
    516,  # AUTHENTICATION_FAILED
})  # fmt: skip
# How much longer than a statement's max_execution_time the client waits: ClickHouse's own TIMEOUT_EXCEEDED (a 504
# query_timeout) should arrive before the connection is given up on (a 503).
EXECUTION_TIME_MARGIN_SECONDS = 5.0


def _server_message(error: Exception) -> str:
    """ClickHouse's own `Code: N. DB::Exception: ...` text, without clickhouse-connect's wrapper and the server's
    version trailer, so a refusal reads the same from a server as from chdb."""
    text = " ".join(str(error).split())
    found = re.search(r"Code: \d+\. .*", text)
    if not found:
        return text
    return re.sub(r"(\s*\((version [\w.]+|for url [^)]*)\))+$", "", found.group(0))


class ConnectClient:
    def __init__(self, url: str, *, timeout_seconds: float) -> None:
        parsed = urlparse(url)
        self.database = parsed.path.strip("/") or "default"
        self._url = parsed
        self._timeout = timeout_seconds
        self._clients: dict[float, Any] = {}  # by read timeout
        self._lock = threading.Lock()

    def _connected(self, read_timeout: float) -> Any:
        """clickhouse-connect asks the server for its version on creation: connect on first use, so a server that
        is down fails requests (a 503) rather than the process."""
        with self._lock:
            if read_timeout not in self._clients:
                self._clients[read_timeout] = self._connect(read_timeout)
            return self._clients[read_timeout]

    def _connect(self, read_timeout: float) -> Any:
        import clickhouse_connect  # imported here so a PostgreSQL-only server never loads it
        from urllib3 import Timeout

        parsed = self._url
        # clickhouse-connect truncates its timeouts to whole seconds (0.5 would be 0: no wait at all), so it is
        # created with whole seconds and then given the exact ones.
        client = clickhouse_connect.get_client(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (8443 if parsed.scheme in ("https", "clickhouses") else 8123),
            username=unquote(parsed.username or "default"),
            password=unquote(parsed.password or ""),
            database="default",
            secure=parsed.scheme in ("https", "clickhouses"),
            connect_timeout=math.ceil(self._timeout),
            send_receive_timeout=math.ceil(read_timeout),
            autogenerate_session_id=False,
        )
        client.timeout = Timeout(connect=self._timeout, read=read_timeout)
        return client

    def _call(self, call: Callable[[Any], T], *, execution_seconds: float | None = None) -> T:
        from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

        read_timeout = self._timeout
        if execution_seconds:
            read_timeout = max(read_timeout, execution_seconds + EXECUTION_TIME_MARGIN_SECONDS)
        try:
            return call(self._connected(read_timeout))
        except OperationalError as error:
            raise ClickHouseUnavailable(_server_message(error)) from error
        except DatabaseError as error:
            if error.code in SERVER_UNAVAILABLE_CODES:
                raise ClickHouseUnavailable(_server_message(error)) from error
            raise ClickHouseError(_server_message(error)) from error

    def query(self, text: str, params: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None) -> QueryResult:  # fmt: skip
        execution_seconds = float((settings or {}).get("max_execution_time") or 0)
        settings = {**ANSWER_SETTINGS, **(settings or {})}
        body = self._call(lambda client: client.raw_query(text, parameters=dict(params or {}), settings=settings,
                                                          fmt="JSONCompact"),
                          execution_seconds=execution_seconds)  # fmt: skip
        return decode_json_compact(body)

    def command(self, text: str, params: Mapping[str, Any] | None = None) -> None:
        self._call(lambda client: client.command(text, parameters=dict(params or {})))

    def insert(self, table: str, columns: list[str], body: bytes, settings: Mapping[str, Any] | None = None) -> None:
        self._call(lambda client: client.raw_insert(table, columns, insert_block=body, settings=settings,
                                                    fmt="JSONCompactEachRow"))  # fmt: skip


# --- chdb: ClickHouse's engine in this process ------------------------------------------------------------------
class ChdbClient:
    """One chdb session per data directory and process; chdb runs one statement at a time, so calls queue."""

    def __init__(self, path: str, *, database: str) -> None:
        from chdb import session

        self.database = database
        self._session = session.Session(path)
        self._lock = threading.Lock()

    def _run(self, text: str, params: Mapping[str, Any] | None, fmt: str = "JSONCompact") -> bytes:
        from chdb import ChdbError
        from clickhouse_connect.driver.binding import bind_query

        # Bound exactly as clickhouse-connect binds them for a server, so one text and one set of values serve both.
        text, bound = bind_query(text, dict(params or {}), UTC)
        values = {name.removeprefix("param_"): value for name, value in bound.items()}
        with self._lock:
            try:
                return self._session.query(text, fmt, params=values).bytes()
            except (ChdbError, RuntimeError) as error:
                # chdb 4.4 hands what a failed query had written to the next query's answer: drain it here.
                self._session.query("SELECT 1", "CSV")
                raise ClickHouseError(str(error).split("\n")[0]) from None

    def query(self, text: str, params: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None) -> QueryResult:  # fmt: skip
        return decode_json_compact(self._run(text + _settings_clause({**ANSWER_SETTINGS, **(settings or {})}), params))

    def command(self, text: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(text, params, fmt="CSV")

    def insert(self, table: str, columns: list[str], body: bytes, settings: Mapping[str, Any] | None = None) -> None:
        statement = f"INSERT INTO {table} ({', '.join(columns)}){_settings_clause(settings)} FORMAT JSONCompactEachRow"
        self._run(statement + "\n" + body.decode(), None, fmt="CSV")


_CHDB_SESSIONS: dict[str, ChdbClient] = {}


def client_for_url(url: str, *, timeout_seconds: float = 10.0) -> ClickHouseClient:
    """`http(s)://user:password@host:port/database` for a server, `chdb:///data/dir?database=name` for chdb."""
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        path = unquote(parsed.path)
        database = (parse_qs(parsed.query).get("database") or ["posthog"])[0]
        if path not in _CHDB_SESSIONS:  # one session per directory: chdb locks its data directory
            _CHDB_SESSIONS[path] = ChdbClient(path, database=database)
        return _CHDB_SESSIONS[path]
    if parsed.scheme in ("http", "https", "clickhouse", "clickhouses"):
        return ConnectClient(url, timeout_seconds=timeout_seconds)
    raise ValueError(f"CLICKHOUSE_URL must start with http://, https:// or chdb://, not {parsed.scheme}://")
