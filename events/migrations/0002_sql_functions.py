"""SQL helpers the property-filter compiler uses: casts that answer NULL instead of failing the query, so a
property holding "abc" never breaks a numeric or date filter, and a sortable key for semantic versions."""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION posthog_try_numeric(value text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value ~ '^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,4})?\s*$' THEN value::numeric END
$$;

CREATE OR REPLACE FUNCTION posthog_json_numeric(value jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(value)
        WHEN 'number' THEN value::numeric
        WHEN 'string' THEN posthog_try_numeric(value #>> '{}')
    END
$$;

CREATE OR REPLACE FUNCTION posthog_json_timestamptz(value jsonb) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    seconds numeric;
    text_value text;
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    seconds := posthog_json_numeric(value);
    IF seconds IS NOT NULL THEN
        IF abs(seconds) >= 1e11 THEN
            seconds := seconds / 1000;  -- milliseconds
        END IF;
        IF abs(seconds) > 253402300799 THEN  -- past the year 9999
            RETURN NULL;
        END IF;
        RETURN to_timestamp(seconds::double precision);
    END IF;
    IF jsonb_typeof(value) <> 'string' THEN
        RETURN NULL;
    END IF;
    text_value := value #>> '{}';
    IF text_value !~ '^\s*\d{4}-\d{1,2}-\d{1,2}' THEN
        RETURN NULL;
    END IF;
    RETURN text_value::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- Values of one field across the elements of an autocapture chain: tag names, or a quoted attribute.
CREATE OR REPLACE FUNCTION posthog_chain_values(chain text, field text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN field = 'tag_name' THEN
        ARRAY(SELECT m[1] FROM regexp_matches(chain, '(?:^|;)([^.:;"]+)', 'g') AS m)
    ELSE
        ARRAY(SELECT replace(m[1], '\"', '"')
              FROM regexp_matches(chain, '(?:^|[:"])' || field || '="((?:[^"\\]|\\.)*)"', 'g') AS m)
    END
$$;

CREATE OR REPLACE FUNCTION posthog_semver_key(value text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN parts IS NOT NULL THEN
        ARRAY[parts[1]::bigint, coalesce(parts[2], '0')::bigint, coalesce(parts[3], '0')::bigint]
    END
    FROM regexp_match(value, '^\s*v?(\d{1,15})(?:\.(\d{1,15}))?(?:\.(\d{1,15}))?') AS parts
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS posthog_semver_key(text);
DROP FUNCTION IF EXISTS posthog_chain_values(text, text);
DROP FUNCTION IF EXISTS posthog_json_timestamptz(jsonb);
DROP FUNCTION IF EXISTS posthog_json_numeric(jsonb);
DROP FUNCTION IF EXISTS posthog_try_numeric(text);
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
