"""HogQL's `toDate` of a text is ClickHouse's `toDateOrNull` (as PostHog prints it; see
`query_languages.hogql.semantics.DATE_TEXT`). Its `toInt`/`toFloat` are ClickHouse's `accurateCastOrNull` (as PostHog prints them): NULL for whatever the
type cannot hold exactly (`12.9`, `'12.9'`, ' 5', a number beyond Int64), never an error. And integer arithmetic
beyond Int64 is NULL rather than PostgreSQL's `bigint out of range`. `/` by zero is an infinity, as in ClickHouse."""

from django.db import migrations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION posthog_to_int64(value numeric) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value = trunc(value) AND value >= -9223372036854775808 AND value <= 9223372036854775807
           THEN value::bigint END
$$;

CREATE OR REPLACE FUNCTION posthog_to_int64(value float8) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- NaN is above every number in PostgreSQL, so the upper bound refuses it as it refuses infinities.
    SELECT CASE WHEN value = trunc(value) AND value >= -9223372036854775808::float8
                AND value < 9223372036854775808::float8 THEN value::bigint END
$$;

CREATE OR REPLACE FUNCTION posthog_text_to_int64(value text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value ~ '^[-+]?[0-9]+$' AND length(ltrim(value, '-+0')) <= 19
           THEN posthog_to_int64(value::numeric) END
$$;

CREATE OR REPLACE FUNCTION posthog_int_to_float64(value numeric) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Only an integer a float holds exactly (every one up to 2^53, some beyond).
    SELECT CASE WHEN abs(value) <= 9007199254740992 THEN value::float8
                WHEN value <> trunc(value) THEN value::float8
                WHEN abs(value) < 9223372036854775807 AND abs(value::float8) < 9223372036854775807::float8
                     AND (value::float8)::bigint = value THEN value::float8 END
$$;

CREATE OR REPLACE FUNCTION posthog_text_to_float64(value text) RETURNS float8
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF value ~* '^[-+]?(inf|infinity|nan)$' THEN
        RETURN ltrim(value, '+')::float8;
    END IF;
    IF value !~ '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$' THEN
        RETURN NULL;
    END IF;
    RETURN value::float8;
EXCEPTION WHEN numeric_value_out_of_range THEN
    -- As ClickHouse reads them: too large is an infinity, too small is zero.
    IF value ~ '[eE]-' THEN
        RETURN 0;
    END IF;
    RETURN CASE WHEN value LIKE '-%' THEN '-Infinity'::float8 ELSE 'Infinity'::float8 END;
END
$$;

-- ClickHouse's float division: by zero it is an infinity of the dividend's sign (NaN for 0/0), as PostHog answers.
CREATE OR REPLACE FUNCTION posthog_divide(a float8, b float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN b <> 0 OR a IS NULL OR b IS NULL THEN a / b
                WHEN a = 0 OR a = 'NaN'::float8 THEN 'NaN'::float8
                WHEN (a > 0) = (b::text NOT LIKE '-%') THEN 'Infinity'::float8
                ELSE '-Infinity'::float8 END
$$;

-- A float as ClickHouse's toString prints it (semantics.float_text): from PostgreSQL's shortest exact digits.
CREATE OR REPLACE FUNCTION posthog_float_text(value float8) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    parts text[];
    sign text;
    digits text;
    point int;  -- where the decimal point falls in digits
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    ELSIF value = 'NaN'::float8 THEN
        RETURN 'nan';
    ELSIF value = 'Infinity'::float8 THEN
        RETURN 'inf';
    ELSIF value = '-Infinity'::float8 THEN
        RETURN '-inf';
    END IF;
    -- float8out with extra_float_digits 1 (the default) or more: the shortest digits that read back exactly.
    parts := regexp_match(float8out(value)::text, '^(-?)([0-9]+)(?:\.([0-9]+))?(?:e([-+][0-9]+))?$');
    sign := parts[1];
    digits := parts[2] || coalesce(parts[3], '');
    point := length(parts[2]) + coalesce(parts[4]::int, 0);
    WHILE length(digits) > 1 AND left(digits, 1) = '0' LOOP
        digits := substr(digits, 2);
        point := point - 1;
    END LOOP;
    digits := rtrim(digits, '0');
    IF digits = '' THEN
        RETURN sign || '0';
    ELSIF point - 1 > 20 OR point - 1 < -6 THEN
        RETURN sign || left(digits, 1) || CASE WHEN length(digits) > 1 THEN '.' || substr(digits, 2) ELSE '' END
               || 'e' || (point - 1)::text;
    ELSIF point <= 0 THEN
        RETURN sign || '0.' || repeat('0', -point) || digits;
    ELSIF point >= length(digits) THEN
        RETURN sign || digits || repeat('0', point - length(digits));
    END IF;
    RETURN sign || left(digits, point) || '.' || substr(digits, point + 1);
END
$$;

-- Within ClickHouse's Date (1970-01-01 to 2149-06-06), which holds the ends for what lies beyond; NULL stays NULL.
CREATE OR REPLACE FUNCTION posthog_clamp_date(value date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value < date '1970-01-01' THEN date '1970-01-01'
                WHEN value > date '2149-06-06' THEN date '2149-06-06' ELSE value END
$$;

CREATE OR REPLACE FUNCTION posthog_text_to_date(value text) RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    parts text[] := regexp_match(value, '^([0-9]{4})[-/]?([0-9]{1,2})[-/]?([0-9]{1,2})(?: [0-9]{2}:[0-9]{2}:[0-9]{2})?$');
    day date;
BEGIN
    IF parts IS NULL THEN
        RETURN NULL;
    END IF;
    day := make_date(parts[1]::int, parts[2]::int, parts[3]::int);
    RETURN CASE WHEN day BETWEEN date '1970-01-01' AND date '2149-06-06' THEN day END;
EXCEPTION WHEN datetime_field_overflow THEN
    RETURN NULL;  -- no day of the calendar
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS posthog_clamp_date(date);
DROP FUNCTION IF EXISTS posthog_float_text(float8);
DROP FUNCTION IF EXISTS posthog_divide(float8, float8);
DROP FUNCTION IF EXISTS posthog_text_to_date(text);
DROP FUNCTION IF EXISTS posthog_text_to_float64(text);
DROP FUNCTION IF EXISTS posthog_int_to_float64(numeric);
DROP FUNCTION IF EXISTS posthog_text_to_int64(text);
DROP FUNCTION IF EXISTS posthog_to_int64(float8);
DROP FUNCTION IF EXISTS posthog_to_int64(numeric);
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0003_try_numeric_ascii")]
    operations = [migrations.RunSQL(FUNCTIONS, reverse_sql=DROP)]
