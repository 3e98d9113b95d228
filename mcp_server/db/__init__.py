"""Database access: embedded server, connection pool, migrations, vector indexes."""
