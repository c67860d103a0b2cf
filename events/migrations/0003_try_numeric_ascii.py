"""`posthog_try_numeric` reads only what its cast accepts: ASCII digits and ASCII whitespace. It used `\\s`, which
also matches Unicode spaces the cast refuses, so a property like "\\u20037" failed a numeric filter's query."""

from django.db import migrations

ASCII = r"""
CREATE OR REPLACE FUNCTION posthog_try_numeric(value text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value ~ '^[ \t\n\v\f\r]*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,4})?[ \t\n\v\f\r]*$'
           THEN value::numeric END
$$;
"""

UNICODE = r"""
CREATE OR REPLACE FUNCTION posthog_try_numeric(value text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value ~ '^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,4})?\s*$' THEN value::numeric END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0002_sql_functions")]
    operations = [migrations.RunSQL(ASCII, reverse_sql=UNICODE)]
