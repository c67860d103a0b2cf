"""Two thin ways to talk to ClickHouse with the same calls: `query` (SQL text with `{name:Type}` server-side
parameters, answered as JSONCompact) and `insert` (rows as JSONCompactEachRow). `ConnectClient` passes both through
clickhouse-connect to a server unchanged; `ChdbClient` runs them on chdb's engine inside this process (tests, the
benchmark, single-process use). Decoding the answer is shared, so both give the same Python values."""

from __future__ import annotations

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
class ConnectClient:
    def __init__(self, url: str, *, timeout_seconds: float) -> None:
        parsed = urlparse(url)
        self.database = parsed.path.strip("/") or "default"
        self._url = parsed
        self._timeout = timeout_seconds
        self._client: Any = None

    def _connected(self) -> Any:
        """clickhouse-connect asks the server for its version on creation: connect on first use, so a server that
        is down fails requests (a 503) rather than the process."""
        if self._client is None:
            import clickhouse_connect  # imported here so a PostgreSQL-only server never loads it

            parsed = self._url
            self._client = clickhouse_connect.get_client(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (8443 if parsed.scheme in ("https", "clickhouses") else 8123),
                username=unquote(parsed.username or "default"),
                password=unquote(parsed.password or ""),
                database="default",
                secure=parsed.scheme in ("https", "clickhouses"),
                connect_timeout=self._timeout,
                send_receive_timeout=self._timeout,
                autogenerate_session_id=False,
            )
        return self._client

    def _call(self, call: Callable[[Any], T]) -> T:
        from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

        try:
            return call(self._connected())
        except OperationalError as error:
            raise ClickHouseUnavailable(" ".join(str(error).split())) from error
        except DatabaseError as error:
            raise ClickHouseError(" ".join(str(error).split())) from error

    def query(self, text: str, params: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None) -> QueryResult:  # fmt: skip
        body = self._call(lambda client: client.raw_query(text, parameters=dict(params or {}), settings=settings,
                                                          fmt="JSONCompact"))  # fmt: skip
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
        return decode_json_compact(self._run(text + _settings_clause(settings), params))

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
