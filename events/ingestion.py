"""Decoding PostHog capture requests and normalising their events (no database access here).

Accepted bodies, as PostHog's SDKs send them: JSON (`{"api_key", "batch": [...], "sent_at"}`, a single event, or a
list of events), gzip (`Content-Encoding: gzip` or `?compression=gzip-js`), and posthog-js's form-encoded
`data=<base64 or JSON>`, also as a GET query string.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import orjson

from events.records import EventInput
from posthog_clone import json_limits
from posthog_clone.ids import uuid7
from query_languages import elements_to_chain, from_unix, parse_iso

# What one request may make the server do: inflate at most as much as a plain body may carry, hold at most this
# many events, and link (and so perhaps merge) at most this many persons. Each refusal names its limit.
MAX_DECOMPRESSED_BYTES = 20 * 1024 * 1024
MAX_EVENTS_PER_REQUEST = 10_000
MAX_PERSON_LINKS_PER_REQUEST = 100
LINKING_EVENTS = frozenset({"$identify", "$create_alias", "$merge_dangerously"})
MAX_NAME_LENGTH = 400
# Like PostHog: a timestamp more than 23 hours ahead of the server clock is not believed.
FUTURE_TOLERANCE = timedelta(hours=23)
TOKEN_FIELDS = ("api_key", "token", "$token")
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class CaptureError(Exception):
    """A request that cannot be ingested at all (4xx, PostHog's error body)."""

    def __init__(self, detail: str, *, code: str, status: int = 400, error_type: str = "validation_error") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status
        self.error_type = error_type


@dataclass(frozen=True)
class RejectedEvent:
    index: int
    attr: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "type": "validation_error", "code": "invalid_event", "detail": self.detail,
                "attr": self.attr}  # fmt: skip


@dataclass
class CapturePayload:
    token: str | None
    raw_events: list[Any]
    sent_at: datetime | None
    batch: bool
    events: list[EventInput] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)


# --- decoding -----------------------------------------------------------------------------------------------


def _gunzip(body: bytes) -> bytes:
    try:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = decompressor.decompress(body, MAX_DECOMPRESSED_BYTES)
        if decompressor.unconsumed_tail:
            raise CaptureError(f"Decompressed payload is larger than {MAX_DECOMPRESSED_BYTES // 2**20} MiB.",
                               code="payload_too_large", status=413)  # fmt: skip
        return data
    except (zlib.error, EOFError, gzip.BadGzipFile) as error:
        raise CaptureError(f"Malformed request data: invalid gzip body ({error}).", code="invalid_payload") from None


def _json_int(text: str) -> int | float:
    # Integers past 64 bits become floats, as orjson (the fast path) reads them.
    value = int(text)
    return value if -(2**63) <= value < 2**64 else float(value)


def _without_nan(text: str) -> Any:
    # Python's json writes NaN/Infinity (the Python SDK can send them); they become null.
    return json.loads(text, parse_constant=lambda _: None, parse_int=_json_int)


def _clean(value: Any) -> Any:
    """Strip what PostgreSQL's jsonb refuses: NUL characters and lone surrogates."""
    if isinstance(value, str):
        return UNSTORABLE_CHARACTERS.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_clean(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def parse_json(data: bytes | str) -> Any:
    """JSON as the SDKs send it, nested at most `json_limits.MAX_DEPTH` levels."""
    try:
        try:
            return json_limits.loads(data)
        except orjson.JSONDecodeError:
            pass
        try:
            text = data.decode("utf-8", "surrogatepass") if isinstance(data, bytes) else data
            value = _without_nan(text)
        except RecursionError:
            raise json_limits.NestedTooDeeply() from None
        except (ValueError, UnicodeDecodeError) as error:
            raise CaptureError(f"Malformed request data: {error}", code="invalid_payload") from None
        json_limits.check_depth(value)
        return _clean(value)
    except json_limits.NestedTooDeeply as error:
        raise CaptureError(str(error), code="nested_too_deeply") from None


def _decode_data_field(data: str) -> Any:
    """posthog-js's `data=` value: base64 of JSON (standard or URL-safe alphabet), or JSON itself."""
    text = data.strip()
    if text[:1] in ("{", "["):
        return parse_json(text)
    try:
        padded = text + "=" * (-len(text) % 4)
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/").replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError):
        raise CaptureError(
            "Malformed request data: `data` is neither JSON nor base64.", code="invalid_payload"
        ) from None
    return parse_json(decoded)


def decode_capture_request(
    *, body: bytes, content_type: str, content_encoding: str, query: dict[str, list[str]]
) -> CapturePayload:
    compression = (query.get("compression") or [""])[0].lower()
    form: dict[str, list[str]] = {}
    if content_type.startswith("application/x-www-form-urlencoded") or body.startswith(b"data="):
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        compression = (form.get("compression") or [compression])[0].lower()
        body = b""
    if compression in ("lz64", "lz-string"):
        raise CaptureError(f"Unsupported compression: {compression}. Use gzip-js or base64.", code="invalid_payload")
    data_field = (form.get("data") or query.get("data") or [None])[0]
    if data_field is not None:
        payload = _decode_data_field(data_field)
    else:
        if not body:
            raise CaptureError("Malformed request data: the body is empty.", code="invalid_payload")
        if "gzip" in content_encoding.lower() or compression.startswith("gzip") or body[:2] == b"\x1f\x8b":
            body = _gunzip(body)
        # jsonb refuses NUL characters; only bodies that spell one out need the (slower) cleaning pass.
        payload = _clean(parse_json(body)) if b"\\u0000" in body else parse_json(body)
    return _payload_from_json(payload, query)


def _token_from(container: Any) -> str | None:
    if isinstance(container, dict):
        for name in TOKEN_FIELDS:
            value = container.get(name)
            if isinstance(value, str) and value:
                return value
    return None


def _payload_from_json(payload: Any, query: dict[str, list[str]]) -> CapturePayload:
    batch = True
    if isinstance(payload, dict) and "batch" in payload:
        raw_events = payload["batch"]
        if not isinstance(raw_events, list):
            raise CaptureError("Malformed request data: `batch` must be a list of events.", code="invalid_payload")
    elif isinstance(payload, dict) and isinstance(payload.get("data"), dict | list):
        return _payload_from_json(payload["data"], query)
    elif isinstance(payload, list):
        raw_events = payload
    elif isinstance(payload, dict):
        raw_events, batch = [payload], False
    else:
        raise CaptureError("Malformed request data: expected an event or a batch of events.", code="invalid_payload")
    # One project per request, as PostHog: events may repeat the request's token, not name another project's.
    token = _token_from(payload) or _token_from({k: v[0] for k, v in query.items() if v})
    # One pass over the events for both the tokens they name and the person links they ask for.
    others: set[str] = set()
    links = 0
    for raw in raw_events:
        if isinstance(raw, dict):
            if event_token := _token_from(raw) or _token_from(raw.get("properties")):
                others.add(event_token)
            if raw.get("event") in LINKING_EVENTS:
                links += 1
    if token:
        others.discard(token)
    if len(others) > (0 if token else 1):
        raise CaptureError("A request may only carry events of one project (one project API key).",
                           code="multiple_tokens")  # fmt: skip
    token = token or next(iter(others), None)
    if len(raw_events) > MAX_EVENTS_PER_REQUEST:
        raise CaptureError(f"A request may carry at most {MAX_EVENTS_PER_REQUEST:,} events; send smaller batches.",
                           code="too_many_events", status=413)  # fmt: skip
    if links > MAX_PERSON_LINKS_PER_REQUEST:
        raise CaptureError(
            f"A request may carry at most {MAX_PERSON_LINKS_PER_REQUEST:,} $identify, $create_alias and "
            "$merge_dangerously events; send smaller batches.",
            code="too_many_person_links",
        )
    sent_at_raw = payload.get("sent_at") if isinstance(payload, dict) else None
    sent_at = _parse_moment(sent_at_raw) if sent_at_raw is not None else None
    if sent_at is None and query.get("_"):  # posthog-js sends its clock as `?_=<unix ms>`
        sent_at = _parse_moment(query["_"][0])
    return CapturePayload(token=token, raw_events=raw_events, sent_at=sent_at, batch=batch)


# --- normalising one event ----------------------------------------------------------------------------------


def _parse_moment(value: Any) -> datetime | None:
    """An event timestamp or sent_at: ISO 8601 (UTC when naive), or a unix time in seconds or milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return from_unix(float(value))
    if isinstance(value, str):
        text = value.strip()
        if ":" in text:  # a time of day: ISO 8601 (the SDKs' usual form), never a unix time
            return parse_iso(text, tz=UTC)
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return from_unix(float(text))
        return parse_iso(text, tz=UTC)
    return None


def _name(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:MAX_NAME_LENGTH]


def _timestamp(raw: dict[str, Any], properties: dict[str, Any], now: datetime, sent_at: datetime | None) -> datetime:
    """PostHog's rules: correct the client's clock skew with `sent_at`, else use `offset` (ms before now)."""
    raw_timestamp = raw.get("timestamp")
    if raw_timestamp is not None:
        timestamp = _parse_moment(raw_timestamp)
        if timestamp is None:
            raise ValueError(f"timestamp: '{raw_timestamp}' is not an ISO 8601 date-time.")
        event_sent_at = _parse_moment(raw["sent_at"]) if raw.get("sent_at") is not None else sent_at
        if event_sent_at is not None and not properties.get("$ignore_sent_at"):
            timestamp = now + (timestamp - event_sent_at)
    elif raw.get("offset") is not None:
        offset = raw["offset"]
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            raise ValueError("offset: must be a number of milliseconds.")
        timestamp = now - timedelta(milliseconds=offset)
    else:
        timestamp = now
    return now if timestamp > now + FUTURE_TOLERANCE else timestamp


def normalize_event(raw: Any, *, index: int, now: datetime, sent_at: datetime | None) -> EventInput | RejectedEvent:
    """Validate one raw event; a problem rejects this event only, with the field at fault."""
    if not isinstance(raw, dict):
        return RejectedEvent(index, "", "An event must be a JSON object.")
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        return RejectedEvent(index, "properties", "properties must be a JSON object.")
    event = _name(raw.get("event"))
    if event is None:
        return RejectedEvent(index, "event", "The event name is missing.")
    # The properties' ids are looked up only when the event has no `distinct_id` of its own (rarely).
    distinct_id = _name(
        raw["distinct_id"] if "distinct_id" in raw else properties.get("distinct_id", properties.get("$distinct_id"))
    )
    if distinct_id is None:
        return RejectedEvent(index, "distinct_id", "The distinct_id is missing.")
    event_uuid = raw.get("uuid")
    try:
        parsed_uuid = uuid.UUID(str(event_uuid)) if event_uuid is not None else None
    except ValueError:
        return RejectedEvent(index, "uuid", f"'{event_uuid}' is not a valid UUID.")
    try:
        timestamp = _timestamp(raw, properties, now, sent_at)
    except (ValueError, OverflowError) as error:
        attr, _, detail = str(error).partition(": ")
        return RejectedEvent(index, attr, detail or str(error))

    properties = dict(properties)
    for person_field in ("$set", "$set_once"):
        top_level = raw.get(person_field)
        if isinstance(top_level, dict):
            in_properties = properties.get(person_field)
            properties[person_field] = {**top_level, **(in_properties if isinstance(in_properties, dict) else {})}
    elements_chain = properties.pop("$elements_chain", None)
    elements = properties.pop("$elements", None)
    if not isinstance(elements_chain, str):
        elements_chain = elements_to_chain(elements) if elements is not None else ""
    return EventInput(
        uuid=parsed_uuid or uuid7(),
        event=event,
        distinct_id=distinct_id,
        properties=properties,
        timestamp=timestamp,
        elements_chain=elements_chain,
    )


def normalize_payload(payload: CapturePayload, *, now: datetime) -> CapturePayload:
    for index, raw in enumerate(payload.raw_events):
        result = normalize_event(raw, index=index, now=now, sent_at=payload.sent_at)
        if isinstance(result, RejectedEvent):
            payload.rejected.append(result)
        else:
            payload.events.append(result)
    return payload
