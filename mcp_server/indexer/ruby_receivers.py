"""Whether an untyped Ruby receiver's name spells the type of the one method a name guess would pick."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

# the receiver's last name: `req`, `@parser`, `env[KEY]` has none, nor `split(',')` or `(1..9)`
_RECEIVER = re.compile(r"(?:^|\.)[@$]{0,2}([A-Za-z_]\w*)\.[\w?!=]+$")


class _Named(Protocol):
    qname: str


def spells_owner(target: str, options: Sequence[_Named]) -> bool:
    """`req.path_info`, `opts.parse!`, `res.set_cookie_header`: Ruby code names a value after its type
    (Request, Server::Options, Response), and a guess whose owner the receiver's name spells in order,
    from its first letter, held on rack (16 of 17 hand-checked right); `uri.host`, `@mutex.unlock`,
    `template.result` (a URI, a Mutex, an ERB) guessed onto Request#host, Lock#unlock and
    Parser#result did not. Any option's owner may match: the guess itself still needs it unique."""
    m = _RECEIVER.search(target)
    if m is None:
        return False
    name = m.group(1).lower()
    return any(_spells(name, seg.lower()) for o in options for seg in re.split(r"::|#|\.", o.qname)[:-1] if seg)


def _spells(name: str, owner: str) -> bool:
    if len(name) < 2 or name[0] != owner[0]:
        return False
    rest = iter(owner)
    return all(ch in rest for ch in name)
