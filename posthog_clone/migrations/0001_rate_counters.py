from django.db import migrations

# Rate-limit counters when no Redis is configured: UNLOGGED, because a counter lost in a crash costs nothing and
# skipping the WAL keeps the per-request upsert cheap.
CREATE = """
CREATE UNLOGGED TABLE posthog_clone_rate_counter (
    key text PRIMARY KEY,
    count integer NOT NULL,
    expires_at timestamptz NOT NULL
)
"""


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations = [migrations.RunSQL(CREATE, "DROP TABLE posthog_clone_rate_counter")]
