"""Autocapture elements and PostHog's `elements_chain` string.

A chain lists elements innermost (clicked) first, separated by `;`. Each element is
`tag.classA.classB:attr="value"attr2="value"` with its classes sorted and its attributes sorted by name; quotes
inside values are escaped as `\\"`.
"""

from __future__ import annotations

import re
from typing import Any

ATTRIBUTE = re.compile(r'([-_a-zA-Z0-9.:]+)="((?:[^"\\]|\\.)*)"')
ELEMENT_HEAD = re.compile(r'^(?P<head>(?:[^:"\\]|\\.)*?)(?::|$)')


def _escape(value: str) -> str:
    return value.replace('"', '\\"')


def _unescape(value: str) -> str:
    return value.replace('\\"', '"')


def _split_elements(chain: str) -> list[str]:
    """Split on `;` outside quoted attribute values, in one pass."""
    parts, start, in_quotes, escaped = [], 0, False, False
    for index, char in enumerate(chain):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == ";" and not in_quotes:
            parts.append(chain[start:index])
            start = index + 1
    parts.append(chain[start:])
    return parts


def _classes(raw: dict[str, Any]) -> list[str]:
    classes = raw.get("attr__class", raw.get("classes"))
    if isinstance(classes, str):
        classes = classes.split()
    if not isinstance(classes, list):
        return []
    return sorted({str(c).replace('"', "").replace(".", "").strip() for c in classes if str(c).strip()})


def element_to_string(raw: dict[str, Any]) -> str:
    """One autocapture element (as posthog-js sends it in `$elements`) in chain form."""
    tag = str(raw.get("tag_name") or "")
    head = tag + "".join(f".{name}" for name in _classes(raw))
    attributes: dict[str, str] = {}
    text = raw.get("$el_text", raw.get("text"))
    if text:
        attributes["text"] = str(text)
    attributes["nth-child"] = str(raw.get("nth_child") or 0)
    attributes["nth-of-type"] = str(raw.get("nth_of_type") or 0)
    href = raw.get("attr__href", raw.get("href"))
    if href:
        attributes["href"] = str(href)
    element_id = raw.get("attr__id", raw.get("attr_id"))
    if element_id:
        attributes["attr_id"] = str(element_id)
    for name, value in raw.items():
        if isinstance(name, str) and name.startswith("attr__") and value is not None:
            attributes[name] = str(value)
    return head + ":" + "".join(f'{name}="{_escape(attributes[name])}"' for name in sorted(attributes))


def elements_to_chain(elements: Any) -> str:
    if not isinstance(elements, list):
        return ""
    return ";".join(element_to_string(raw) for raw in elements if isinstance(raw, dict))


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_elements_chain(chain: str) -> list[dict[str, Any]]:
    """The chain as PostHog's API returns `elements`: one dict per element, `order` 0 for the innermost."""
    if not chain:
        return []
    elements = []
    for order, part in enumerate(_split_elements(chain)):
        head_match = ELEMENT_HEAD.match(part)
        head = head_match.group("head") if head_match else ""
        tag, *classes = head.split(".")
        attribute_text = part[len(head) :].removeprefix(":")
        attributes = {name: _unescape(value) for name, value in ATTRIBUTE.findall(attribute_text)}
        elements.append(
            {
                "event": None,
                "text": attributes.get("text"),
                "tag_name": tag or None,
                "attr_class": [c for c in classes if c] or None,
                "href": attributes.get("href"),
                "attr_id": attributes.get("attr_id"),
                "nth_child": _int_or_none(attributes.get("nth-child")),
                "nth_of_type": _int_or_none(attributes.get("nth-of-type")),
                "attributes": {name: value for name, value in attributes.items() if name.startswith("attr__")},
                "order": order,
            }
        )
    return elements
