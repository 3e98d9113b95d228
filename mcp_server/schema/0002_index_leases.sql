-- Who indexes each repository right now. The lease itself is a session-level advisory lock
-- (class 0x7067, key repository id) held on the owner's dedicated connection: it dies with that
-- connection, so a crashed owner frees the repository at once. This row only says who holds it;
-- a row whose backend no longer holds the lock is stale and readers ignore it.
CREATE TABLE index_leases (
    repository_id  integer PRIMARY KEY REFERENCES repositories ON DELETE CASCADE,
    owner          text NOT NULL,                   -- hostname:pid of the pgcode process
    backend_pid    integer NOT NULL,                -- pg_backend_pid() of the connection holding the lock
    acquired_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz NOT NULL DEFAULT now()
);
