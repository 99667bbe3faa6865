#!/usr/bin/env python3
"""The floor of a first sync's writes on SQLite (issue #33): how long the database alone takes to take
the rows a first sync wrote, in the shape the writer writes them, with none of the service's work.

    python3 scripts/first-fill-floor.py CATALOGUE.db [REPEAT]

CATALOGUE.db is a SQLite catalogue a first sync made (`./scripts/bench floor` makes one and runs this).
Into a fresh file beside it with the same schema (read from CATALOGUE.db's own `sqlite_master`: every
table, index and trigger as migrated), its `ml_models` rows are copied by `INSERT … SELECT` with the
writer's settings — 8 KiB pages, WAL, synchronous=NORMAL, a 16 MiB cache, a checkpoint every 8,192
pages (src/store/sqlite.rs), 5,000 rows a transaction, 1,000 a statement (src/sync/write.rs,
src/store/sync_batch.rs) — in five ways, taking turns, REPEAT times (default 3): reading the rows
alone; the schema as migrated; without the word index's insert trigger, the index rebuilt after; without
the secondary indexes, created after; without both. Prints a Markdown table of medians (seconds).

It runs Python's own SQLite library, not the one built into the service: the numbers are the database's
floor for this schema, not the service's time.
"""
import os
import sqlite3
import statistics
import sys
import time

PRAGMAS = [
    "page_size = 8192",
    "journal_mode = WAL",
    "synchronous = NORMAL",
    "foreign_keys = ON",
    "cache_size = -16384",
    "wal_autocheckpoint = 8192",
]
BATCH_ROWS = 5000
STATEMENT_ROWS = 1000
WORD_TRIGGER = "ml_models_fts_insert"


def schema(src):
    """The catalogue's tables, indexes and triggers in the order they were made (FTS5's own shadow
    tables and SQLite's automatic indexes are made by what they belong to)."""
    db = sqlite3.connect(src)
    rows = db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ).fetchall()
    db.close()
    shadows = {"ml_models_fts_" + s for s in ("data", "idx", "content", "docsize", "config")}
    return [r for r in rows if r[1] not in shadows]


def secondary_indexes(rows):
    return {name for kind, name, table, _ in rows if kind == "index" and table == "ml_models"}


def fill(src, rows, defer, read_only=False):
    """Copies the rows into a fresh database; (seconds to insert, seconds to build what was deferred)."""
    path = src + ".floor"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    for p in PRAGMAS:
        db.execute("PRAGMA " + p)
    later = []
    for _, name, _, sql in rows:
        if name in defer:
            later.append(sql)
        else:
            db.execute(sql)
    db.execute("ATTACH ? AS src", (src,))
    for table in ("users", "catalog_revision"):
        db.execute(f"DELETE FROM {table}")
        db.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
    columns = ", ".join(r[1] for r in db.execute("PRAGMA src.table_info(ml_models)"))
    rowids = [r[0] for r in db.execute("SELECT rowid FROM src.ml_models ORDER BY rowid")]
    started = time.perf_counter()
    for b in range(0, len(rowids), BATCH_ROWS):
        db.execute("BEGIN")
        for s in range(b, min(b + BATCH_ROWS, len(rowids)), STATEMENT_ROWS):
            low, high = rowids[s], rowids[min(s + STATEMENT_ROWS, len(rowids)) - 1]
            select = f"SELECT {columns} FROM src.ml_models WHERE rowid BETWEEN ? AND ?"
            if read_only:
                db.execute(select, (low, high)).fetchall()
            else:
                db.execute(f"INSERT INTO ml_models ({columns}) {select}", (low, high))
        db.execute("COMMIT")
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    db.execute("BEGIN")
    if WORD_TRIGGER in defer:
        db.execute("INSERT INTO ml_models_fts (ml_models_fts) VALUES ('rebuild')")
    for sql in later:
        if sql.lstrip().upper().startswith("CREATE INDEX"):
            db.execute(sql)
    db.execute("COMMIT")
    built = time.perf_counter() - started
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return inserted, built


def main():
    src = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = schema(src)
    indexes = secondary_indexes(rows)
    ways = [
        ("reading the rows alone", set(), True),
        ("the schema as migrated", set(), False),
        ("word index rebuilt after", {WORD_TRIGGER}, False),
        (f"{len(indexes)} secondary indexes created after", indexes, False),
        ("both after", indexes | {WORD_TRIGGER}, False),
    ]
    times = {label: [] for label, _, _ in ways}
    for _ in range(repeat):
        for label, defer, read_only in ways:
            times[label].append(fill(src, rows, defer, read_only))
    n = sqlite3.connect(src).execute("SELECT COUNT(*) FROM ml_models").fetchone()[0]
    reading = statistics.median(t[0] for t in times["reading the rows alone"])
    print(f"{n:,} rows, SQLite {sqlite3.sqlite_version} (Python's), medians of {repeat}:")
    print()
    print("| way | insert (s) | built after (s) | total (s) | total less reading (s) | each total (s) |")
    print("|---|---|---|---|---|---|")
    for label, _, _ in ways:
        inserted = statistics.median(t[0] for t in times[label])
        built = statistics.median(t[1] for t in times[label])
        totals = [a + b for a, b in times[label]]
        total = statistics.median(totals)
        less = "—" if label == ways[0][0] else f"{total - reading:.2f}"
        each = " / ".join(f"{t:.2f}" for t in totals)
        print(f"| {label} | {inserted:.2f} | {built:.2f} | {total:.2f} | {less} | {each} |")


if __name__ == "__main__":
    main()
