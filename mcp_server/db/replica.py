"""How far a streaming replica is behind its primary, as the replica itself can tell: replay timestamp and received-vs-replayed WAL."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import asyncpg

# Every answer of a read-only server asks, and the lag changes by the second: it is read at most
# this often per pool.
LAG_MAX_AGE = 1.0

# Caught up (everything received is replayed, and the WAL receiver streams): 0, however old the last
# replayed transaction is (an idle primary sends nothing). Otherwise the age of the last replayed
# transaction: the primary's commits after it have not reached this replica's readers yet.
# pg_stat_wal_receiver shows only its pid to roles without pg_read_all_stats, which is enough here.
_LAG = """
SELECT pg_is_in_recovery() AS standby,
       EXISTS (SELECT 1 FROM pg_stat_wal_receiver) AS receiving,
       pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS replayed_all,
       pg_is_wal_replay_paused() AS paused,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_replay
"""
_PRIMARY_ONLY = "SELECT pg_is_in_recovery() AS standby"


@dataclass(frozen=True, slots=True)
class ReplicaLag:
    """The replica's view of itself; `standby` False on a primary (lag 0)."""

    standby: bool
    seconds: float
    receiving: bool = True
    paused: bool = False

    def note(self, threshold: float) -> str | None:
        """A sentence for answers when the lag exceeds `threshold` seconds, or the replica is cut off
        from its primary (then nobody here knows how far behind it is)."""
        if not self.standby:
            return None
        if not self.receiving:
            return (
                "this answer comes from a replica that is not receiving WAL from its primary (its last "
                f"replayed transaction is {self.seconds:.0f} s old): edits stored since may be missing"
            )
        if self.seconds <= threshold:
            return None
        paused = " (its WAL replay is paused)" if self.paused else ""
        return (
            f"this answer comes from a replica {self.seconds:.0f} s behind its primary{paused}: edits "
            "stored since then are not in it yet"
        )


_seen: dict[int, tuple[float, ReplicaLag]] = {}
_behind_since: dict[int, float] = {}  # per pool: when its replica was first seen behind, in this streak


async def replica_lag(pool: asyncpg.Pool) -> ReplicaLag:
    """The lag of the database behind `pool`, as of less than LAG_MAX_AGE seconds ago."""
    now = time.monotonic()
    seen = _seen.get(id(pool))
    if seen is not None and now - seen[0] < LAG_MAX_AGE:
        return seen[1]
    async with pool.acquire() as conn:
        lag = _bounded(id(pool), await measure(conn), now)
    if len(_seen) > 64:  # one entry per pool; tests open many
        _seen.clear()
        _behind_since.clear()
    _seen[id(pool)] = (now, lag)
    return lag


def _bounded(key: int, lag: ReplicaLag, now: float) -> ReplicaLag:
    """The age of the last replayed transaction counts the quiet spell before the WAL now waiting
    (a moment's replay after a quiet minute would read as a minute behind): a streaming replica is
    never taken to be further behind than for as long as this process has seen it behind."""
    if not lag.standby or not lag.receiving or lag.seconds == 0:
        _behind_since.pop(key, None)
        return lag
    since = _behind_since.setdefault(key, now)
    return dataclasses.replace(lag, seconds=min(lag.seconds, now - since))


async def measure(conn: asyncpg.Connection) -> ReplicaLag:
    """The lag now, uncached."""
    if not await conn.fetchval(_PRIMARY_ONLY):
        return ReplicaLag(standby=False, seconds=0.0)
    row = await conn.fetchrow(_LAG)
    if row is None or not row["standby"]:  # promoted between the two queries
        return ReplicaLag(standby=False, seconds=0.0)
    caught_up = row["replayed_all"] and row["receiving"]
    seconds = 0.0 if caught_up or row["since_replay"] is None else max(0.0, float(row["since_replay"]))
    return ReplicaLag(standby=True, seconds=seconds, receiving=bool(row["receiving"]), paused=bool(row["paused"]))
