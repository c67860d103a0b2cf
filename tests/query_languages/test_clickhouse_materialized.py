"""Materialised property columns on ClickHouse: a property read from its columns (`mat_<key>`, `mattype_<key>`) gives
exactly what reading it from the properties JSON gives, for every kind of value, in HogQL and in property filters,
for rows stored before the columns existed and after; and the printed SQL really reads the columns."""

from __future__ import annotations

from typing import Any

import pytest

from events.sql_schema import clickhouse_dialect, postgres_dialect
from events.stores.clickhouse_schema import materialize_properties
from query_languages import (
    Sql,
    compile_filters,
    materialized_columns,
    parse_property_filters,
    parse_select,
    print_select,
)
from tests.query_languages.engines import DATABASE, NOW, Engines, InDatabase, Stored

KEY = "tricky"
# One event per value (its distinct id names it); "missing" has no such key at all.
VALUES: dict[str, Any] = {
    "json null": None,
    "empty string": "",
    "int": 5,
    "negative float": -12.5,
    "whole float": 5.0,
    "negative zero": -0.0,
    "huge": 1e21,
    "tiny": 1.5e-7,
    "big int": 1234567890123456789,
    "true": True,
    "false": False,
    "string true": "true",
    "numeric string": "5",
    "exponent string": "1e3",
    "escapes": 'a "quoted" \\ back\nslash\ttab é \u2028 end',
    "array-like string": "[1,2]",
    "object-like string": '{"a": 1}',
    "leading dash string": "-x",
    "date string": "2024-01-05",
    "nested object": {"a": {"b": [1, "x", None]}, "c": True},
    "array": [1, "two", None, {"x": "y"}],
    "empty array": [],
    "plain": "Chrome",
}
QUERIES = [
    f"select distinct_id, properties.{KEY} from events order by distinct_id",
    f"select properties.{KEY}, count() from events group by properties.{KEY} order by properties.{KEY}",
    f"select distinct_id, properties.{KEY} is null, length(properties.{KEY}), toFloat(properties.{KEY}), "
    f"toInt(properties.{KEY}) from events order by distinct_id",
    f"select distinct_id from events where properties.{KEY} ilike '%e%' order by distinct_id",
    f"select distinct_id from events where properties.{KEY} = '5' or properties.{KEY} = 5 order by distinct_id",
]
FILTERS = [
    [{"key": KEY, "operator": "is_set"}],
    [{"key": KEY, "operator": "is_not_set"}],
    [{"key": KEY, "value": "5"}],
    [{"key": KEY, "value": 5}],
    [{"key": KEY, "value": ["", "Chrome", "true"]}],
    [{"key": KEY, "value": "Chrome", "operator": "is_not"}],
    [{"key": KEY, "value": "e", "operator": "icontains"}],
    [{"key": KEY, "value": ", ", "operator": "icontains"}],
    [{"key": KEY, "value": "^[-0-9]", "operator": "regex"}],
    [{"key": KEY, "value": "1", "operator": "gt"}],
    [{"key": KEY, "value": 0, "operator": "lt"}],
    [{"key": KEY, "value": "2024-01-01", "operator": "is_date_after"}],
]


@pytest.fixture
def corpus(engines: Engines) -> Engines:
    """Half the values stored before the columns are added (their parts compute the columns when read, until
    MATERIALIZE COLUMN has rewritten them), half after (computed at insert)."""
    events = [Stored(distinct_id=name, properties={KEY: value}) for name, value in VALUES.items()]
    events.append(Stored(distinct_id="missing", properties={"other": 1}))
    engines.store(events[::2])
    materialize_properties(InDatabase(engines.clickhouse, DATABASE), [KEY])
    engines.store(events[1::2])
    return engines


def test_the_columns_are_added_once_and_computed_at_insert(engines: Engines) -> None:
    in_database = InDatabase(engines.clickhouse, DATABASE)
    materialize_properties(in_database, [KEY])
    assert materialize_properties(in_database, [KEY]) == []
    columns = engines.clickhouse.query(
        "SELECT name, type, default_kind FROM system.columns WHERE database = {db:String} AND table = 'events' "
        "AND name LIKE {pattern:String} ORDER BY name",
        {"db": DATABASE, "pattern": f"%{KEY}"},
    ).rows
    assert [(name, kind) for name, _, kind in columns] == [(f"mat_{KEY}", "MATERIALIZED"),
                                                            (f"mattype_{KEY}", "MATERIALIZED")]  # fmt: skip
    assert columns[0][1] == "String" and columns[1][1].startswith("Enum8('Null' = 0, 'String' = 34")


@pytest.mark.parametrize("query", QUERIES)
def test_hogql_reads_the_same_values_from_the_columns(corpus: Engines, query: str) -> None:
    from_json = corpus.select(query, clickhouse_dialect(DATABASE))
    from_columns = corpus.select(query, clickhouse_dialect(DATABASE, materialized=[KEY]))
    assert from_columns == from_json
    assert len(from_json) > 1  # every query here finds something
    assert [tuple(map(str, row)) for row in corpus.select(query, postgres_dialect())] == [
        tuple(map(str, row)) for row in from_json
    ]


def test_every_kind_of_value_reads_as_its_text(corpus: Engines) -> None:
    rows = dict(corpus.select(f"select distinct_id, properties.{KEY} from events", clickhouse_dialect(DATABASE,
                                                                                                    materialized=[KEY])))  # fmt: skip
    assert rows["missing"] is None and rows["json null"] is None
    assert rows["empty string"] == "" and rows["plain"] == "Chrome"
    assert rows["int"] == "5" and rows["whole float"] == "5.0" and rows["negative zero"] == "0.0"
    assert rows["huge"] == "1000000000000000000000" and rows["tiny"] == "0.00000015"
    assert rows["true"] == "true" and rows["string true"] == "true"
    assert rows["escapes"] == VALUES["escapes"]
    assert rows["object-like string"] == '{"a": 1}' and rows["array-like string"] == "[1,2]"
    assert rows["nested object"] == '{"a": {"b": [1, "x", null]}, "c": true}'


@pytest.mark.parametrize("raw", FILTERS, ids=[str(raw) for raw in FILTERS])
def test_property_filters_match_the_same_events_from_the_columns(corpus: Engines, raw: Any) -> None:
    tree = parse_property_filters(raw)
    in_python = corpus.matching_in_python(tree)
    assert corpus.matching(tree, clickhouse_dialect(DATABASE, materialized=[KEY])) == in_python
    assert corpus.matching(tree, clickhouse_dialect(DATABASE)) == in_python


def test_the_printed_sql_reads_the_columns_not_the_json(corpus: Engines) -> None:
    dialect = clickhouse_dialect(DATABASE, materialized=[KEY])
    query = f"select properties.{KEY}, count() from events where properties.other = '1' group by properties.{KEY}"
    printed = print_select(parse_select(query), dialect=dialect, context=corpus.context, text=query).sql
    assert f"e.`mat_{KEY}`" in printed.text and f"e.`mattype_{KEY}`" in printed.text
    # The JSON is read for `other` only, which has no columns: the key is never looked up in it.
    assert "e.properties" in printed.text and "other" in printed.params and KEY not in printed.params
    for raw in FILTERS:
        where = compile_filters(parse_property_filters(raw), tz=NOW.tzinfo, now=NOW, dialect=dialect).where.text
        assert "e.properties" not in where and (f"e.`mat_{KEY}`" in where or f"e.`mattype_{KEY}`" in where), raw


def test_person_properties_and_nested_paths_still_read_the_json() -> None:
    dialect = clickhouse_dialect(DATABASE, materialized=[KEY])
    assert "mat_" not in dialect.json_text(Sql("e.properties"), (KEY, "inner")).text
    assert "mat_" not in dialect.json_text(Sql("e.person_properties"), (KEY,)).text
    with pytest.raises(ValueError, match="not a property key that can be materialised"):
        materialized_columns("a`b")
