"""Errors a person can act on, raised by the domain code and shown as-is by the CLI and tools.

PgcodeError
 ├── ConfigError          a setting has an invalid value (names the key and where it came from)
 ├── DatabaseUnavailable  the database cannot be reached or started
 ├── RepositoryNotFound   no indexed repository matches the name or path given
 ├── InvalidArgument      a request argument is out of range or malformed
 ├── PathOutsideRoot      a path does not lie inside an indexed root
 ├── ModelUnavailable     the embedding model cannot be loaded (says what was tried and how to fix it)
 ├── AccessDenied         the caller may not do this (its token's role, the read boundary)
 ├── IndexBusy            another process is indexing the repository right now
 └── SharedServerFailed   the shared server of stdio sessions could not be started or reached
"""

from __future__ import annotations


class PgcodeError(Exception):
    """Base class: its message is shown to people verbatim, so it must say what to do next."""


class ConfigError(PgcodeError):
    pass


class DatabaseUnavailable(PgcodeError):
    pass


class RepositoryNotFound(PgcodeError):
    pass


class InvalidArgument(PgcodeError):
    pass


class PathOutsideRoot(PgcodeError):
    pass


class ModelUnavailable(PgcodeError):
    pass


class AccessDenied(PgcodeError):
    pass


class IndexBusy(PgcodeError):
    """Another process holds the repository's indexing lock."""


class SharedServerFailed(PgcodeError):
    pass
