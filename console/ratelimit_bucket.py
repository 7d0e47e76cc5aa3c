"""A pyrate-limiter SQLite bucket shared by every process on one machine.

pyrate-limiter's own cross-process mode takes a file lock around each slot,
which costs more than the SQLite work itself. Here SQLite's write lock does
that job: each slot is taken inside BEGIN IMMEDIATE, so the count and the
insert of one process cannot interleave with another's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pyrate_limiter import Rate, RateItem, SQLiteBucket
from pyrate_limiter.buckets.sqlite_bucket import Queries


class SharedSQLiteBucket(SQLiteBucket):
    def put(self, item: RateItem) -> bool:
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
