"""The regular expressions every engine reads property text with, as the PostgreSQL functions a `PostgresSchema`
names (its caller's migrations define them) read it. Each is valid for Python's `re` and for RE2 (ClickHouse), and
means the same in both."""

from __future__ import annotations

# PostgreSQL's `\s` (iswspace): what may surround a version.
POSTGRES_SPACE = "[\t\n\v\f\r \u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000]"
# Numeric text (`try_numeric`): only ASCII whitespace around it, the only whitespace its cast skips.
NUMERIC_TEXT = r"^[\t\n\v\f\r ]*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,4})?[\t\n\v\f\r ]*$"
INTEGER_TEXT = r"^[\t\n\v\f\r ]*[-+]?[0-9]+[\t\n\v\f\r ]*$"
# Text read as a date (`json_timestamptz`) starts with one.
DATE_PREFIX = r"^[\t\n\v\f\r ]*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
# A semantic version's major, minor and patch (`semver_key`).
SEMVER_KEY = "^" + POSTGRES_SPACE + r"*v?([0-9]{1,15})(?:\.([0-9]{1,15}))?(?:\.([0-9]{1,15}))?"
