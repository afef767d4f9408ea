"""Programs, the session runner, metrics and the SQLite session log."""
