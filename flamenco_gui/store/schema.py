"""The SQLite schema and its migrations.

The schema version lives in `PRAGMA user_version`; each migration moves it up by one
inside the same transaction as its DDL, so a crash mid-migration leaves the old schema.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils
from sqlite_utils.db import DescIndex


def _v1(db: sqlite_utils.Database) -> None:
    db.table("settings").create({"key": str, "value": str}, pk="key")
    db.table("workers").create(
        {
            "id": int,
            "hostname": str,
            "secret_hash": str,
            "system": str,
            "ip_address": str,
            "port": int,
            "status": str,
            "connection": str,
            "activity": str,
            "current_task": int,
            "log": str,
            "time_cost": float,
            "mac_address": str,
            "update_frequent": str,
            "update_less_frequent": str,
            "last_seen": float,
            "created": float,
        },
        pk="id",
        not_null=["hostname", "status", "connection"],
        defaults={"status": "enabled", "connection": "online"},
    )
    db.table("workers").create_index(["hostname"], unique=True)
    db.table("workers").create_index(["secret_hash"])
    db.table("jobs").create(
        {
            "id": int,
            "name": str,
            "type": str,
            "settings": str,
            "priority": int,
            "chunk_size": int,
            "status": str,
            "frame_start": int,
            "frame_end": int,
            "created": float,
            "updated": float,
        },
        pk="id",
        not_null=["name", "type", "status", "priority"],
    )
    db.table("tasks").create(
        {
            "id": int,
            "job_id": int,
            "external_id": int,
            "type": str,
            "parser": str,
            "settings": str,
            "commands": str,
            "priority": int,
            "job_priority": int,
            "status": str,
            "worker_id": int,
            "lease": int,
            "frame_start": int,
            "frame_end": int,
            "frame_current": int,
            "format": str,
            "progress": float,
            "activity": str,
            "attempts": int,
            "time_cost": float,
            "error": str,
            "created": float,
            "updated": float,
            "started": float,
            "finished": float,
            "last_progress": float,
        },
        pk="id",
        foreign_keys=[("job_id", "jobs", "id"), ("worker_id", "workers", "id")],
        not_null=["type", "status", "priority", "job_priority", "lease", "attempts"],
        defaults={"lease": 0, "attempts": 0, "progress": 0.0, "job_priority": 0},
    )
    # Dispatch reads the head of this index: queued, by job priority, task priority, age.
    db.table("tasks").create_index(
        ["status", DescIndex("job_priority"), DescIndex("priority"), "id"], "tasks_dispatch"
    )
    db.table("tasks").create_index(["job_id", "status"], "tasks_job_status")
    db.table("tasks").create_index(["worker_id"], "tasks_worker")
    db.table("task_history").create(
        {
            "id": int,
            "task_id": int,
            "worker_id": int,
            "lease": int,
            "started": float,
            "ended": float,
            "outcome": str,
            "reason": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("task_history").create_index(["task_id"])


def _v2(db: sqlite_utils.Database) -> None:
    """The per-job blocklist: workers that failed too many of a job's tasks."""
    db.table("job_blocklist").create(
        {"job_id": int, "worker_id": int, "created": float, "reason": str},
        pk=("job_id", "worker_id"),
        foreign_keys=[("job_id", "jobs", "id"), ("worker_id", "workers", "id")],
    )


def _v3(db: sqlite_utils.Database) -> None:
    """How many tasks a job was submitted with: a big job is inserted in several
    transactions, and one a crash cut short is recognised (and removed) at start."""
    db.table("jobs").add_column("tasks_expected", int)


def _v4(db: sqlite_utils.Database) -> None:
    """Task dependencies: a task runs only once every task it depends on completed."""
    db.table("task_deps").create(
        {"task_id": int, "depends_on": int},
        pk=("task_id", "depends_on"),
        foreign_keys=[("task_id", "tasks", "id"), ("depends_on", "tasks", "id")],
    )
    db.table("task_deps").create_index(["depends_on"])
    # Preview-first ordering: every Nth chunk of the job was queued ahead of the rest.
    db.table("jobs").add_column("preview_first", int)


_COUNT_NEW = (
    "INSERT INTO job_task_counts (job_id, status, n) VALUES (NEW.job_id, NEW.status, 1)"
    " ON CONFLICT (job_id, status) DO UPDATE SET n = n + 1"
)
_UNCOUNT_OLD = (
    "UPDATE job_task_counts SET n = n - 1 WHERE job_id = OLD.job_id AND status = OLD.status"
)


def _v5(db: sqlite_utils.Database) -> None:
    """Each job's task count per status, kept by triggers.

    A job's figures were a `GROUP BY` over its tasks on every status change: 0.6 ms for
    a 4,000-task job, most of a dispatch cycle's cost. Triggers keep the counts in the
    same transaction as the change, whatever statement made it, so they cannot drift.
    Rows that reach 0 stay (cheap) and are filtered on read.
    """
    statements = [
        "CREATE TABLE job_task_counts (job_id INTEGER NOT NULL, status TEXT NOT NULL,"
        " n INTEGER NOT NULL, PRIMARY KEY (job_id, status)) WITHOUT ROWID",
        "INSERT INTO job_task_counts (job_id, status, n) SELECT job_id, status, count(*)"
        " FROM tasks WHERE job_id IS NOT NULL GROUP BY job_id, status",
        f"CREATE TRIGGER job_task_counts_insert AFTER INSERT ON tasks"
        f" WHEN NEW.job_id IS NOT NULL BEGIN {_COUNT_NEW}; END",
        f"CREATE TRIGGER job_task_counts_delete AFTER DELETE ON tasks"
        f" WHEN OLD.job_id IS NOT NULL BEGIN {_UNCOUNT_OLD}; END",
        f"CREATE TRIGGER job_task_counts_update AFTER UPDATE OF status ON tasks"
        f" WHEN OLD.job_id IS NOT NULL AND NEW.status IS NOT OLD.status"
        f" BEGIN {_UNCOUNT_OLD}; {_COUNT_NEW}; END",
    ]
    # One statement at a time: executescript() would commit the migration's transaction.
    for sql in statements:
        db.conn.execute(sql)


def _v6(db: sqlite_utils.Database) -> None:
    """A worker's leased tasks found without reading its whole history.

    Every pull and every lease watch asks which tasks a worker is rendering; on the
    index of `worker_id` alone that read every task the worker ever ran, a list that
    only grows on a long-lived farm.
    """
    db.conn.execute("DROP INDEX tasks_worker")
    db.table("tasks").create_index(["worker_id", "status"], "tasks_worker_status")


def _v7(db: sqlite_utils.Database) -> None:
    """A job being deleted. A 100,000-task job is deleted in slices with the loop
    running in between; marked first, it is gone for dispatch and every reader at once,
    and a crash half-way leaves a marked job that the next start finishes deleting."""
    db.table("jobs").add_column("deleted", float)


def _v8(db: sqlite_utils.Database) -> None:
    """Failures a wrangler forgave by clearing a worker's blocklist entry: counting
    them again would blocklist the worker at its next failure of the job. Kept as the
    last history row at the time of the clear; only later failures count."""
    db.table("blocklist_forgiven").create(
        {"job_id": int, "worker_id": int, "after_history": int}, pk=("job_id", "worker_id")
    )


def _v9(db: sqlite_utils.Database) -> None:
    """Which build each worker runs, on its row: the window's workers table and `GET
    /workers` read it by the usual path (events after commit), and it survives a
    restart of the manager. `build` is JSON text: platform, arch, whether it runs the
    one-file executable (only that updates itself), its SHA-256 and when it said so."""
    db.table("workers").add_column("version", str)
    db.table("workers").add_column("build", str)


def _v10(db: sqlite_utils.Database) -> None:
    """Worker identity and what a node accepts (docs/security.md).

    A worker is the random `uuid` it generated, not its hostname: two nodes cloned from
    one disk image are two workers, so the hostname stops being unique. `accepts` is
    the job types the node's owner allows (a comma-framed list; NULL for a 2015 client
    that never said, which gets anything). `needs` is what running a task takes: its
    kind (compilers/kinds.py), backfilled from the type for older tasks (the worker's
    own check still covers their Blender Python). Written to be safe to run
    whatever the other migrations did (it only adds, and replaces one index).
    """
    columns = db.table("workers").columns_dict
    if "uuid" not in columns:
        db.table("workers").add_column("uuid", str)
    if "accepts" not in columns:
        db.table("workers").add_column("accepts", str)
    if "needs" not in db.table("tasks").columns_dict:
        db.table("tasks").add_column("needs", str)
    db.conn.execute(
        "UPDATE tasks SET needs = CASE type WHEN 'simple_blender_render' THEN 'blender_render'"
        " ELSE type END WHERE needs IS NULL"
    )
    db.conn.execute("DROP INDEX IF EXISTS idx_workers_hostname")
    db.conn.execute("CREATE INDEX IF NOT EXISTS workers_hostname ON workers (hostname)")
    db.conn.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS workers_uuid ON workers (uuid) WHERE uuid IS NOT NULL"
    )


def _v11_job_started(db: sqlite_utils.Database) -> None:
    """When a job's current run began rendering (a requeue starts a new run), so its
    Elapsed counts from there, not from its first submission; NULL: not yet."""
    if "started" not in db.table("jobs").columns_dict:
        db.table("jobs").add_column("started", float)


def _v12_tags_job_deps_worker_control(db: sqlite_utils.Database) -> None:
    """Which work on which machine, and when (issue 16; docs/decisions.md).

    Workers: `tags` the wrangler set (comma-framed, NULL: never set) and `tags_offered`
    by the worker's `--tags`, used while the wrangler has set none; `control`, the
    wrangler's pending remote action (JSON); `allow_power`, whether its owner allowed
    shutdown and reboot (`--allow-power`); `schedule`, its sleep schedule (JSON);
    `broadcasts`, the broadcast addresses of its subnets (comma list), for Wake-on-LAN.
    Jobs: `tags` they need (JSON list), `waiting` (1 while a job it depends on has not
    completed, NULL once free: dispatch reads it on the job row it already looks at),
    and `job_deps` (job, the job it waits for). `jobs_restricted` indexes the live jobs
    a pull may have to skip.
    """
    for column in ("tags", "tags_offered", "control", "schedule", "broadcasts"):
        if column not in db.table("workers").columns_dict:
            db.table("workers").add_column(column, str)
    if "allow_power" not in db.table("workers").columns_dict:
        db.table("workers").add_column("allow_power", int)
    if "tags" not in db.table("jobs").columns_dict:
        db.table("jobs").add_column("tags", str)
    if "waiting" not in db.table("jobs").columns_dict:
        db.table("jobs").add_column("waiting", int)
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS job_deps (job_id INTEGER NOT NULL, depends_on INTEGER"
        " NOT NULL, PRIMARY KEY (job_id, depends_on)) WITHOUT ROWID"
    )
    db.conn.execute("CREATE INDEX IF NOT EXISTS job_deps_parent ON job_deps (depends_on)")
    # The jobs a pull may have to skip (store/scheduler.py): few, whatever the history.
    # Only a queued or rendering job has queued tasks (farm/states.py: job_status).
    db.conn.execute(
        "CREATE INDEX IF NOT EXISTS jobs_restricted ON jobs (id) WHERE status IN"
        " ('queued', 'rendering') AND (deleted IS NOT NULL OR waiting IS NOT NULL"
        " OR tags IS NOT NULL)"
    )


def _v13_job_files(db: sqlite_utils.Database) -> None:
    """Jobs whose files travel through the manager (docs/storage.md).

    `jobs.storage` is `manager` for such a job (NULL: `shared`, today's behaviour).
    `job_files` is its manifest: each path in the pack and the SHA-256 of its bytes in
    the manager's file store. The hash index answers "does any job still use this
    file?" for the clean-up, and "may this worker fetch it?" for a download.
    `task_frames`: the frames each task of such a job placed on the manager.
    Safe to run again (it only adds)."""
    if "storage" not in db.table("jobs").columns_dict:
        db.table("jobs").add_column("storage", str)
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS job_files (job_id INTEGER NOT NULL REFERENCES jobs (id),"
        " path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,"
        " PRIMARY KEY (job_id, path))"
    )
    db.conn.execute("CREATE INDEX IF NOT EXISTS job_files_sha256 ON job_files (sha256)")
    # The frames each task of such a job has placed on the manager: it completes only
    # once it has one per frame of its range.
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS task_frames (job_id INTEGER NOT NULL,"
        " task_id INTEGER NOT NULL, path TEXT NOT NULL, PRIMARY KEY (task_id, path))"
    )


def _v14_frame_records(db: sqlite_utils.Database) -> None:
    """What each frame took and whether it is sound (docs/statistics.md), and what a
    deleted job leaves behind (`farm_history`, one row per job).

    A frame has one record per job, the last render's: a re-rendered frame replaces
    it. Timestamps and figures are the worker's (its clock, Blender's own render time
    and memory peak); `check` is "ok" or the reason the frame failed its check.
    """
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS frame_records ("
        " job_id INTEGER NOT NULL, frame INTEGER NOT NULL, task_id INTEGER,"
        " worker_id INTEGER, lease INTEGER, started REAL, finished REAL,"
        " render_seconds REAL, peak_memory_mb REAL, path TEXT, bytes INTEGER,"
        " startup_seconds REAL,"
        ' "check" TEXT, PRIMARY KEY (job_id, frame))'
    )
    db.conn.execute("CREATE INDEX IF NOT EXISTS frame_records_finished ON frame_records (finished)")
    # A job's ETA reads its latest frames (store/eta.py), never all of them.
    db.conn.execute(
        "CREATE INDEX IF NOT EXISTS frame_records_job_finished ON frame_records (job_id, finished)"
    )
    # The statistics read the attempts of the last days by their end.
    db.conn.execute("CREATE INDEX IF NOT EXISTS task_history_ended ON task_history (ended)")
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS farm_history ("
        " job_id INTEGER PRIMARY KEY, name TEXT, type TEXT, status TEXT, created REAL,"
        " first_started REAL, last_finished REAL, deleted REAL, frames INTEGER,"
        " frames_rendered INTEGER, tasks INTEGER, failures INTEGER, node_seconds REAL)"
    )


def _v15_attempt_triggers(db: sqlite_utils.Database) -> None:
    """A task's attempts (`task_history`) opened and closed by triggers on its status.

    An attempt begins when a task enters `rendering` (the claim: its worker, lease and
    start) and ends when it leaves it, with the task's new status as the outcome and
    "by the worker" as the reason; the state machine corrects the outcome and reason
    when they are not those (a failed attempt retried, a timeout, the wrangler). The
    claim and the completion, every cycle of the farm, then cost no statement of
    their own for the history (issue 20).
    """
    statements = [
        "CREATE TRIGGER IF NOT EXISTS task_attempt_opens AFTER UPDATE OF status ON tasks"
        " WHEN NEW.status = 'rendering' AND OLD.status IS NOT 'rendering'"
        " BEGIN INSERT INTO task_history (task_id, worker_id, lease, started)"
        " VALUES (NEW.id, NEW.worker_id, NEW.lease, NEW.started); END",
        "CREATE TRIGGER IF NOT EXISTS task_attempt_ends AFTER UPDATE OF status ON tasks"
        " WHEN OLD.status = 'rendering' AND NEW.status IS NOT 'rendering'"
        " BEGIN UPDATE task_history SET ended = NEW.updated, outcome = NEW.status,"
        " reason = 'by the worker'"
        " WHERE task_id = OLD.id AND lease = OLD.lease AND ended IS NULL; END",
    ]
    for sql in statements:
        db.conn.execute(sql)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10,
    _v11_job_started, _v12_tags_job_deps_worker_control, _v13_job_files, _v14_frame_records,
    _v15_attempt_triggers,
]  # fmt: skip
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it found."""
    conn = db.conn
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {found} is newer than this program's {SCHEMA_VERSION}"
        )
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](db)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found
