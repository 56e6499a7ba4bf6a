"""Durable, distributed Spine runs on DBOS Transact (Postgres or SQLite)."""
