"""A pyrate-limiter SQLite bucket shared by every process on one machine.

pyrate-limiter's own cross-process mode takes a file lock around each slot and
then counts and inserts in separate statements, which costs more than the
request it guards. Here one INSERT ... SELECT ... WHERE count < limit takes the
slot: SQLite runs a write statement under its database write lock, so the count
and the insert of one process cannot interleave with another's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pyrate_limiter import Decision, Rate, RateItem, SQLiteBucket
from pyrate_limiter.abstracts.algorithm import ADMITTED
from pyrate_limiter.buckets.sqlite_bucket import Queries


class SharedSQLiteBucket(SQLiteBucket):
    """A sliding-window log with one rate, admitting an item in one statement."""

    def put(self, item: RateItem) -> bool:
        if len(self.rates) != 1 or item.weight != 1:
            return self._put_in_transaction(item)
        rate = self.rates[0]
        with self.lock:
            cursor = self.conn.execute(
                f"INSERT INTO '{self.table}' (name, item_timestamp) SELECT ?, ? "
                f"WHERE (SELECT COUNT(*) FROM '{self.table}' WHERE item_timestamp > ?) < ?",
                (item.name, item.timestamp, item.timestamp - rate.interval, rate.limit),
            )
            admitted = cursor.rowcount == 1
            cursor.close()
            self.conn.commit()
        # A denial records only the failing rate; pyrate-limiter then works out
        # the wait from the oldest entry still in the window.
        return self._record(item, ADMITTED if admitted else Decision(failing_rate=rate))

    def _put_in_transaction(self, item: RateItem) -> bool:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                admitted = super().put(item)
            except BaseException:
                self.conn.rollback()
                raise
            if not admitted:
                # The parent returns without committing when the bucket is full.
                self.conn.rollback()
            return admitted


def open_bucket(path: Path, table: str, rates: list[Rate]) -> SharedSQLiteBucket:
    connection = sqlite3.connect(path, isolation_level="DEFERRED", check_same_thread=False, timeout=30)
    # WAL without a sync per commit keeps a slot cheap. A power cut can at worst
    # forget the last few slots, which loosens the limit for one window.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(Queries.CREATE_BUCKET_TABLE.format(table=table))
    connection.execute(Queries.CREATE_INDEX_ON_TIMESTAMP.format(index_name=f"idx_{table}_rate_item_timestamp",
                                                                table_name=table))
    connection.commit()
    return SharedSQLiteBucket(rates, connection, table=table)
