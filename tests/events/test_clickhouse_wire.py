"""The production ClickHouse client (clickhouse-connect over HTTP) against a ClickHouse HTTP interface (the chdb-backed
fixture of tests/clickhouse_http.py): it answers as chdb in this process does, and every fault of the wire — a
refused statement, a truncated answer, a server that does not answer in time, wrong credentials — is a clear error,
never a 500, with nothing of an ingested batch stored and its retry stored once."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from events.models import PersonDistinctId
from events.stores import events_store
from events.stores.clickhouse import clickhouse_store
from events.stores.clickhouse_client import (
    ChdbClient,
    ClickHouseError,
    ClickHouseUnavailable,
    ConnectClient,
    client_for_url,
)
from posthog_clone.errors import Timeout
from query_languages import Sql
from tests.clickhouse_http import compress, decompress
from tests.evaluations.helpers import GENERATION_PROPERTIES, make_evaluation, recorded_runs
from tests.support.clickhouse import CLICKHOUSE_HTTP_DATABASE, ClickHouseHTTP
from tests.support.tenants import Tenant

EVENTS = f"{CLICKHOUSE_HTTP_DATABASE}.events"


@pytest.fixture
def wire(settings: Any, clickhouse_http_server: ClickHouseHTTP) -> Iterator[ClickHouseHTTP]:
    """Events on the HTTP fixture, with a short CLICKHOUSE_TIMEOUT_SECONDS; faults are cleared afterwards (events
    stay: see `events_backend`)."""
    settings.CLICKHOUSE_URL = clickhouse_http_server.url()
    settings.CLICKHOUSE_TIMEOUT_SECONDS = 3.0
    clickhouse_store.cache_clear()  # a store keeps the timeout it was made with
    try:
        yield clickhouse_http_server
    finally:
        clickhouse_http_server.set_fault("none")
        clickhouse_store.cache_clear()


def connect(server: ClickHouseHTTP, *, timeout: float = 10.0, password: str | None = None) -> ConnectClient:
    client = client_for_url(server.url(password=password), timeout_seconds=timeout)
    assert isinstance(client, ConnectClient)
    return client


class TestSameAnswers:
    # Values that cross the wire as parameters and come back through JSONCompact.
    STATEMENTS: list[tuple[str, dict[str, Any]]] = [
        ("SELECT {n:Int64} AS n, {big:UInt64} AS big, {f:Float64} AS f, {s:String} AS s",
         {"n": -(2**62), "big": 2**64 - 1, "f": 0.1, "s": "quote ' back \\ tab \t newline \n é 😀"}),
        ("SELECT {t:DateTime64(6, 'UTC')} AS t, toDate({t:DateTime64(6, 'UTC')}) AS d",
         {"t": datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)}),
        ("SELECT {ids:Array(UUID)} AS ids, CAST(NULL, 'Nullable(UUID)') AS missing",
         {"ids": [uuid.UUID(int=1), uuid.UUID(int=2**128 - 1)]}),
        ("SELECT length({many:Array(UUID)}) AS n", {"many": [uuid.UUID(int=n) for n in range(3000)]}),  # a form body
        ("SELECT number, toString(number) AS s FROM numbers(5) ORDER BY number DESC", {}),
    ]  # fmt: skip

    @pytest.mark.parametrize(("text", "params"), STATEMENTS)
    def test_a_statement_answers_as_chdb_does(self, text: str, params: dict[str, Any], clickhouse_url: str,
                                              clickhouse_http_server: ClickHouseHTTP) -> None:  # fmt: skip
        over_http = connect(clickhouse_http_server).query(text, params)
        in_process = client_for_url(clickhouse_url).query(text, params)
        assert over_http == in_process
        assert over_http.rows  # the comparison compared something

    def test_settings_reach_the_statement(self, clickhouse_url: str, clickhouse_http_server: ClickHouseHTTP) -> None:
        text = "SELECT getSetting('max_execution_time') AS t, getSetting('max_result_rows') AS r"
        settings = {"max_execution_time": 7, "max_result_rows": 1234}
        over_http = connect(clickhouse_http_server).query(text, settings=settings)
        assert over_http.rows == [(7.0, 1234)]
        assert over_http == client_for_url(clickhouse_url).query(text, settings=settings)
        # Settings last for their statement only, as a URL's do.
        assert connect(clickhouse_http_server).query(text).rows[0][1] == 0

    def test_a_refused_statement_carries_clickhouses_code_and_text(self, clickhouse_url: str,
                                                                   clickhouse_http_server: ClickHouseHTTP) -> None:  # fmt: skip
        text = "SELECT no_such_function(1)"
        with pytest.raises(ClickHouseError) as over_http:
            connect(clickhouse_http_server).query(text)
        chdb = client_for_url(clickhouse_url)
        assert isinstance(chdb, ChdbClient)
        with pytest.raises(ClickHouseError) as in_process:
            chdb.query(text)
        assert over_http.value.code == in_process.value.code == 46  # UNKNOWN_FUNCTION
        # The server's own text, as chdb gives it: no client wrapper, server address or version trailer.
        assert str(over_http.value).startswith("Code: 46. DB::Exception: ")
        assert "127.0.0.1" not in str(over_http.value) and "(version" not in str(over_http.value)

    @pytest.mark.django_db
    def test_a_refused_user_query_is_a_400_through_the_api(self, wire: ClickHouseHTTP, tenant: Tenant,
                                                           key_client: Any) -> None:  # fmt: skip
        response = key_client("query:read").post(f"/api/environments/{tenant.team.id}/query/",
                                                 {"query": {"kind": "HogQLQuery", "query": "select count() from events"}},
                                                 format="json")  # fmt: skip
        assert response.json()["results"] == [[0]]
        wire.set_fault("error", match="SELECT", code=47, message="Missing columns: 'x'. (UNKNOWN_IDENTIFIER)")
        response = key_client("query:read").post(f"/api/environments/{tenant.team.id}/query/",
                                                 {"query": {"kind": "HogQLQuery", "query": "select 1 from events"}},
                                                 format="json")  # fmt: skip
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "hogql_query_error"
        assert "Code: 47. DB::Exception: Missing columns" in response.json()["detail"]
        assert "127.0.0.1" not in response.json()["detail"]


class TestTimeouts:
    def test_the_timeout_is_the_configured_one_to_a_fraction_of_a_second(
        self, clickhouse_http_server: ClickHouseHTTP
    ) -> None:
        client = connect(clickhouse_http_server, timeout=1.5)
        assert client.query("SELECT 1").rows == [(1,)]  # connected, before the fault
        clickhouse_http_server.set_fault("hang", match="hang-here")
        try:
            started = time.monotonic()
            with pytest.raises(ClickHouseUnavailable, match="timed out"):
                client.query("SELECT 'hang-here'")
            waited = time.monotonic() - started
        finally:
            clickhouse_http_server.set_fault("none")
        assert 1.5 <= waited < 6  # clickhouse-connect alone would have made it 1 s (it truncates to whole seconds)
        assert client.query("SELECT 2").rows == [(2,)]

    @pytest.mark.django_db
    def test_a_user_query_may_run_its_full_time_and_then_times_out_as_such(self, wire: ClickHouseHTTP,
                                                                           settings: Any) -> None:  # fmt: skip
        settings.CLICKHOUSE_TIMEOUT_SECONDS = 0.5
        settings.QUERY_TIMEOUT_SECONDS = 1.5
        clickhouse_store.cache_clear()
        started = time.monotonic()
        with pytest.raises(Timeout) as raised:  # ClickHouse's TIMEOUT_EXCEEDED (a 504), not a connection given up
            events_store().run_query(Sql("SELECT count() FROM numbers(100000000000)"), seconds=1.5)
        assert raised.value.code == "query_timeout"
        assert time.monotonic() - started >= 1.5


def batch(token: str, events: list[dict[str, Any]]) -> Any:
    return Client().post("/batch/", json.dumps({"api_key": token, "batch": events}), content_type="application/json")


def stored_count(server: ClickHouseHTTP, team_id: int) -> int:
    rows = connect(server).query(f"SELECT count() FROM {EVENTS} WHERE team_id = {{team:Int64}}", {"team": team_id})
    return int(rows.rows[0][0])


@pytest.mark.django_db
class TestIngestionFaults:
    @pytest.fixture
    def generation(self, tenant: Tenant) -> dict[str, Any]:
        make_evaluation(tenant, conditions=[{"id": str(uuid.uuid4()), "rollout_percentage": 100, "properties": []}])
        return {"event": "$ai_generation", "distinct_id": "new-user", "uuid": str(uuid.uuid4()),
                "timestamp": "2026-11-01T12:00:00Z", "properties": {**GENERATION_PROPERTIES, "$set": {"plan": "pro"}}}  # fmt: skip

    def assert_refused_and_nothing_kept(self, response: Any, wire: ClickHouseHTTP, tenant: Tenant) -> None:
        assert response.status_code == 503, response.content
        assert response["Retry-After"] == "1"
        body = response.json()
        assert set(body) == {"type", "code", "detail", "attr"}
        assert (body["type"], body["code"]) == ("server_error", "clickhouse_unavailable")
        assert not PersonDistinctId.objects.filter(team=tenant.team, distinct_id="new-user").exists()  # rolled back
        assert recorded_runs().count() == 0

    def assert_a_retry_is_stored_once(self, event: dict[str, Any], wire: ClickHouseHTTP, tenant: Tenant) -> None:
        for _ in range(2):
            response = batch(tenant.team.api_token, [event])
            assert response.status_code == 200, response.content
        assert stored_count(wire, tenant.team.id) == 1
        assert PersonDistinctId.objects.filter(team=tenant.team, distinct_id="new-user").count() == 1

    @pytest.mark.parametrize(
        ("mode", "match"),
        [
            ("error", "INSERT INTO"),  # ClickHouse refuses the insert (MEMORY_LIMIT_EXCEEDED)
            ("error", "SELECT"),  # ...or the look-up of uuids it already holds
            ("truncate", "SELECT"),  # the look-up's answer is cut short
            ("hang", "INSERT INTO"),  # no answer within CLICKHOUSE_TIMEOUT_SECONDS
            ("hang", "SELECT"),
        ],
    )
    def test_a_fault_is_a_503_and_the_retry_is_stored_once(self, mode: str, match: str, wire: ClickHouseHTTP,
                                                           tenant: Tenant, generation: dict[str, Any]) -> None:  # fmt: skip
        warm_up = {"event": "warm-up", "distinct_id": "warm-up", "uuid": str(uuid.uuid4())}
        assert batch(tenant.team.api_token, [warm_up]).status_code == 200  # connected: the fault hits the batch
        connect(wire).command(f"TRUNCATE TABLE {EVENTS}")
        wire.set_fault(mode, match=match)
        self.assert_refused_and_nothing_kept(batch(tenant.team.api_token, [generation]), wire, tenant)
        wire.set_fault("none")
        assert stored_count(wire, tenant.team.id) == 0
        self.assert_a_retry_is_stored_once(generation, wire, tenant)
        assert recorded_runs().count() == 1

    def test_an_insert_whose_answer_is_lost_is_stored_once(self, wire: ClickHouseHTTP, tenant: Tenant,
                                                            generation: dict[str, Any]) -> None:  # fmt: skip
        wire.set_fault("truncate", match="INSERT INTO")  # ClickHouse stored the rows; the client cannot know
        self.assert_refused_and_nothing_kept(batch(tenant.team.api_token, [generation]), wire, tenant)
        wire.set_fault("none")
        assert stored_count(wire, tenant.team.id) == 1
        self.assert_a_retry_is_stored_once(generation, wire, tenant)

    def test_an_insert_whose_answer_is_lost_keeps_its_runs_and_its_person(self, wire: ClickHouseHTTP, tenant: Tenant,
                                                                          generation: dict[str, Any]) -> None:  # fmt: skip
        """The first attempt's PostgreSQL side (a new person, the online run) rolled back after ClickHouse kept the
        rows; the retry records that side again, and the person it makes is the one the kept rows name."""
        wire.set_fault("truncate", match="INSERT INTO")
        assert batch(tenant.team.api_token, [generation]).status_code == 503
        assert recorded_runs().count() == 0
        wire.set_fault("none")
        assert batch(tenant.team.api_token, [generation]).status_code == 200
        [run] = recorded_runs()
        assert str(run.target_event_id) == generation["uuid"]
        assert batch(tenant.team.api_token, [generation]).status_code == 200  # a duplicate: no second run
        assert [r.id for r in recorded_runs()] == [run.id]
        assert stored_count(wire, tenant.team.id) == 1
        person = PersonDistinctId.objects.select_related("person").get(distinct_id="new-user").person
        assert person.properties == {"plan": "pro"}
        stamped = connect(wire).query(f"SELECT person_id FROM {EVENTS} WHERE team_id = {{team:Int64}}",
                                      {"team": tenant.team.id}).rows  # fmt: skip
        assert stamped == [(person.uuid,)]

    def test_wrong_credentials_are_a_503_and_the_retry_is_stored_once(
        self, wire: ClickHouseHTTP, settings: Any, tenant: Tenant, generation: dict[str, Any]
    ) -> None:
        with pytest.raises(ClickHouseUnavailable, match=r"Code: 516\. .*AUTHENTICATION_FAILED"):
            connect(wire, password="wrong").query("SELECT 1")
        settings.CLICKHOUSE_URL = wire.url(password="wrong")
        self.assert_refused_and_nothing_kept(batch(tenant.team.api_token, [generation]), wire, tenant)
        settings.CLICKHOUSE_URL = wire.url()
        assert stored_count(wire, tenant.team.id) == 0
        self.assert_a_retry_is_stored_once(generation, wire, tenant)
        assert recorded_runs().count() == 1

    def test_a_truncated_answer_to_a_read_is_a_503(self, wire: ClickHouseHTTP, tenant: Tenant,
                                                   key_client: Any) -> None:  # fmt: skip
        api = key_client("query:read")
        url = f"/api/environments/{tenant.team.id}/events/"
        assert api.get(url).status_code == 200
        wire.set_fault("truncate", match="SELECT")
        response = api.get(url)
        assert response.status_code == 503, response.content
        assert response.json()["code"] == "clickhouse_unavailable"


def http(server: ClickHouseHTTP, params: dict[str, str], body: bytes = b"", headers: dict[str, str] | None = None,
         *, auth: tuple[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    user, password = auth or (server.user, server.password)
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/?{urlencode(params)}", data=body or None,
                                     headers={"Authorization": f"Basic {credentials}", **(headers or {})})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class TestTheFixtureSpeaksClickHouseHTTP:
    """What clickhouse-connect relies on, checked on the raw HTTP answers (as a server gives them)."""

    def test_a_query_with_parameters_settings_and_a_format(self, clickhouse_http_server: ClickHouseHTTP) -> None:
        status, headers, body = http(clickhouse_http_server, {
            "query": "SELECT {x:UInt32} + 1 AS y, getSetting('max_result_rows') AS r", "param_x": "41",
            "max_result_rows": "77", "default_format": "JSONCompact", "query_id": "fixture-1",
        })  # fmt: skip
        assert status == 200
        assert json.loads(body)["data"] == [[42, 77]]
        assert headers["X-ClickHouse-Format"] == "JSONCompact"
        assert headers["X-ClickHouse-Query-Id"] == "fixture-1"
        assert headers["X-ClickHouse-Timezone"] and headers["X-ClickHouse-Server-Display-Name"]
        assert set(json.loads(headers["X-ClickHouse-Summary"])) >= {"read_rows", "read_bytes", "elapsed_ns"}

    @pytest.mark.parametrize(("text", "status", "code"), [
        ("SELEC 1", 400, 62),  # SYNTAX_ERROR
        ("SELECT * FROM no_such_database.t", 404, 81),  # UNKNOWN_DATABASE
        ("SELECT throwIf(1)", 500, 395),  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    ])  # fmt: skip
    def test_an_error_as_clickhouse_answers_it(self, text: str, status: int, code: int,
                                               clickhouse_http_server: ClickHouseHTTP) -> None:  # fmt: skip
        answered, headers, body = http(clickhouse_http_server, {}, text.encode())
        assert (answered, headers["X-ClickHouse-Exception-Code"]) == (status, str(code))
        assert body.decode().startswith(f"Code: {code}. DB::Exception: ")
        assert body.decode().endswith(")\n") and "(version " in body.decode()

    def test_credentials(self, clickhouse_http_server: ClickHouseHTTP) -> None:
        server = clickhouse_http_server
        status, headers, body = http(server, {"query": "SELECT 1"}, auth=(server.user, "wrong"))
        assert (status, headers["X-ClickHouse-Exception-Code"]) == (403, "516")
        assert b"AUTHENTICATION_FAILED" in body
        for user_headers in ({"X-ClickHouse-User": server.user, "X-ClickHouse-Key": server.password},
                             {"X-ClickHouse-User": server.user, "X-ClickHouse-Key": "wrong"}):  # fmt: skip
            request = urllib.request.Request(f"http://127.0.0.1:{server.port}/?query=SELECT%201", headers=user_headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            assert status == (200 if user_headers["X-ClickHouse-Key"] == server.password else 403)

    @pytest.mark.parametrize("encoding", ["gzip", "lz4", "zstd"])
    def test_compressed_inserts_and_answers(self, encoding: str, clickhouse_http_server: ClickHouseHTTP) -> None:
        client = connect(clickhouse_http_server)
        table = f"{CLICKHOUSE_HTTP_DATABASE}.compressed_{encoding}"
        client.command(f"CREATE TABLE {table} (n UInt32, s String) ENGINE = Memory")
        try:
            connected = client._connected(10.0)  # clickhouse-connect itself compresses the body
            rows = b"\n".join(json.dumps([n, f"row {n}"]).encode() for n in range(1000))
            connected.raw_insert(table, ["n", "s"], insert_block=compress(rows, encoding), fmt="JSONCompactEachRow",
                                 compression=encoding)  # fmt: skip
            assert connected.query(f"SELECT count(), sum(n) FROM {table}").result_rows == [(1000, 499500)]
            status, headers, body = http(clickhouse_http_server, {
                "query": f"SELECT n FROM {table} ORDER BY n LIMIT 3", "enable_http_compression": "1"},
                headers={"Accept-Encoding": encoding})  # fmt: skip
            assert (status, headers["Content-Encoding"]) == (200, encoding)
            assert decompress(body, encoding) == b"0\n1\n2\n"
        finally:
            client.command(f"DROP TABLE {table}")

    def test_a_chunked_insert(self, clickhouse_http_server: ClickHouseHTTP) -> None:
        client = connect(clickhouse_http_server)
        table = f"{CLICKHOUSE_HTTP_DATABASE}.chunked"
        client.command(f"CREATE TABLE {table} (n UInt32) ENGINE = Memory")
        try:
            statement = urlencode({"query": f"INSERT INTO {table} FORMAT JSONCompactEachRow"})
            request = urllib.request.Request(
                f"http://127.0.0.1:{clickhouse_http_server.port}/?{statement}", method="POST",
                data=iter([b"[1]\n", b"[2]\n[3]"]),
                headers={"X-ClickHouse-User": clickhouse_http_server.user,
                         "X-ClickHouse-Key": clickhouse_http_server.password, "Transfer-Encoding": "chunked"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
            assert client.query(f"SELECT sum(n) FROM {table}").rows == [(6,)]
        finally:
            client.command(f"DROP TABLE {table}")
