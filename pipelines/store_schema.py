"""The store's schema as a list of migrations: version N is MIGRATIONS[N-1] applied in order.

Append only: a released migration never changes, so every workspace, old or new, reaches
the same schema by the same steps (``Store.migrate``).
"""

# Version 1: the schema before versioning (workspaces made before leases existed).
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    split_hash TEXT NOT NULL,
    task TEXT NOT NULL,
    labels TEXT NOT NULL,
    n_train INTEGER, n_validation INTEGER, n_test INTEGER,
    info TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT,
    error TEXT,
    run_id TEXT,
    worker_pid INTEGER,
    heartbeat REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    job_id INTEGER,
    kind TEXT NOT NULL,
    name TEXT,
    dataset_id TEXT NOT NULL,
    split_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    method TEXT,
    path TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_split ON runs(split_hash);
CREATE TABLE IF NOT EXISTS history (
    job_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    epoch REAL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS history_job ON history(job_id);
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""

# Each entry upgrades the schema by one version, in one transaction. Append only: a released
# migration never changes, so every workspace reaches the same schema by the same steps.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    tuple(stmt for stmt in SCHEMA_V1.split(";") if stmt.strip()),
    (  # 2: leases, attempts, queue priority, sweeps
        "ALTER TABLE jobs ADD COLUMN worker_id TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_expires REAL",
        "ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE jobs ADD COLUMN priority REAL NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN sweep TEXT",
        "CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(status, priority, id)",
    ),
    (  # 3: runs remember their sweep, so Compare can fold a sweep without joining jobs
        "ALTER TABLE runs ADD COLUMN sweep TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

