"""Advisory lock keys shared by the processes of one database, kept where both the write side and the admin tasks can see them."""

from __future__ import annotations

# First key of every repository's lease (a session-level advisory lock); the second is the
# repository id. Held by the one process that indexes the repository.
REPOSITORY_LEASE = 0x7067
