"""The test app on python3's own sqlite3 module (an independent SQLite build).

Speaks the same JSON-lines protocol as app-child.ts: options as argv[1],
one command per stdin line, one reply per stdout line.
"""
import json
import os
import sqlite3
import sys

options = json.loads(sys.argv[1])
db = sqlite3.connect(options["dbPath"], isolation_level=None)
if options.get("pageSize"):
    db.execute(f"PRAGMA page_size = {int(options['pageSize'])}")
db.execute("PRAGMA journal_mode = WAL")
if options.get("autocheckpoint") is not None:
    db.execute(f"PRAGMA wal_autocheckpoint = {int(options['autocheckpoint'])}")
if options.get("cacheSize"):
    db.execute(f"PRAGMA cache_size = {int(options['cacheSize'])}")
db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)")


def insert_rows(count, size, per_tx):
    done = 0
    while done < count:
        db.execute("BEGIN")
        for _ in range(min(per_tx, count - done)):
            db.execute("INSERT INTO t (body) VALUES (?)", (os.urandom(size),))
        db.execute("COMMIT")
        done += per_tx
    return count


def handle(command):
    op = command["op"]
    if op == "exec":
        db.executescript(command["sql"])
        return None
    if op == "insert":
        return insert_rows(command["count"], command.get("size", 100), command.get("perTx", 1))
    if op == "beginHold":
        db.execute("BEGIN IMMEDIATE")
        for _ in range(command.get("rows", 0)):
            db.execute("INSERT INTO t (body) VALUES (?)", (os.urandom(command.get("size", 100)),))
        return None
    if op == "commitHold":
        db.execute("COMMIT")
        return None
    if op == "rollbackHold":
        db.execute("ROLLBACK")
        return None
    if op == "checkpoint":
        return list(db.execute(f"PRAGMA wal_checkpoint({command['mode']})").fetchone())
    if op == "query":
        cursor = db.execute(command["sql"])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    if op == "close":
        db.close()
        return None
    raise ValueError(f"unknown op {op}")


def reply(message):
    sys.stdout.write(json.dumps(message, default=lambda b: b.hex()) + "\n")
    sys.stdout.flush()


reply({"ok": True, "result": "ready"})
for line in sys.stdin:
    command = json.loads(line)
    try:
        reply({"ok": True, "result": handle(command)})
    except Exception as error:  # the test sees the message and fails there
        reply({"ok": False, "error": str(error)})
    if command["op"] == "close":
        break
