"""The SQLite store: connection set-up, numbered migrations, transactions."""
