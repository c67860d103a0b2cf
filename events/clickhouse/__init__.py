"""ClickHouse as the events store: the client adapters (a server over HTTP, or chdb in process), the schema and its
migrations, and the store that implements the events reads and writes on it."""
