// The journal's tables, as GRDB migrations. A migration is never edited once released: a new
// schema is a new migration appended here. `Schema.version` is also written to `PRAGMA
// user_version` so that `sqlite3` users can see it.
import GRDB

enum Schema {
    /// Number of migrations this build knows.
    static let version = 5

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // One row: the grid this journal belongs to.
            try db.execute(sql: """
                CREATE TABLE meta (
                  id INTEGER PRIMARY KEY CHECK (id = 1),
                  schemaVersion INTEGER NOT NULL,
                  specJSON BLOB NOT NULL,
                  specHash TEXT NOT NULL,
                  jobCount INTEGER NOT NULL,
                  createdAt REAL NOT NULL
                ) STRICT;
                """)
            // One row per job, inserted once when the file is created. `attempt` is the attempt of
            // the current lease (running, orphaned), of the next lease (queued) or of the last one
            // (done, failed). The CHECKs make a half-applied transition impossible to commit.
            try db.execute(sql: """
                CREATE TABLE jobs (
                  id INTEGER PRIMARY KEY,
                  key TEXT NOT NULL UNIQUE,
                  kind TEXT NOT NULL CHECK (kind IN ('warm-start', 'measure', 'trivial')),
                  seedIndex INTEGER NOT NULL,
                  dependsOn INTEGER REFERENCES jobs(id),
                  cost INTEGER NOT NULL,
                  state TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'orphaned', 'done', 'failed')),
                  attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
                  leaseWorker TEXT,
                  leaseStartedAt REAL,
                  orphanedAt REAL,
                  retries INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),
                  failure TEXT CHECK (failure IN ('deterministic', 'exhausted', 'dependency')),
                  lastError TEXT,
                  finishedAt REAL,
                  CHECK ((state IN ('running', 'orphaned')) = (leaseWorker IS NOT NULL AND leaseStartedAt IS NOT NULL)),
                  CHECK ((state = 'orphaned') = (orphanedAt IS NOT NULL)),
                  CHECK ((state = 'failed') = (failure IS NOT NULL)),
                  CHECK ((state IN ('done', 'failed')) = (finishedAt IS NOT NULL))
                ) STRICT;
                CREATE INDEX jobs_by_state_cost ON jobs(state, cost DESC, id);
                CREATE INDEX jobs_by_dependency ON jobs(dependsOn);
                """)
            // The first valid result of each job, ever: a done result or a deterministic failure.
            try db.execute(sql: """
                CREATE TABLE results (
                  jobId INTEGER PRIMARY KEY REFERENCES jobs(id),
                  attempt INTEGER NOT NULL,
                  outcome TEXT NOT NULL CHECK (outcome IN ('done', 'failed')),
                  result BLOB,
                  checkpoint BLOB,
                  message TEXT,
                  wallSeconds REAL NOT NULL,
                  worker TEXT NOT NULL,
                  committedAt REAL NOT NULL,
                  CHECK ((outcome = 'done') = (result IS NOT NULL)),
                  CHECK ((outcome = 'failed') = (message IS NOT NULL))
                ) STRICT;
                """)
            // Append-only journal of everything that happened to a job (and to workers), but for
            // a counted result, which is its row in `results` (release 0.5.0 on; before, a `done`
            // event repeated it). No foreign key: it also records traffic about jobs that do not exist.
            try db.execute(sql: """
                CREATE TABLE events (
                  seq INTEGER PRIMARY KEY,
                  at REAL NOT NULL,
                  jobId INTEGER,
                  attempt INTEGER,
                  kind TEXT NOT NULL,
                  worker TEXT,
                  message TEXT
                ) STRICT;
                CREATE INDEX events_by_job ON events(jobId, seq);
                """)
            try db.execute(sql: """
                CREATE TABLE workers (
                  identity TEXT PRIMARY KEY,
                  name TEXT NOT NULL,
                  host TEXT NOT NULL,
                  pid INTEGER NOT NULL,
                  cores INTEGER NOT NULL,
                  buildCPU TEXT NOT NULL,
                  version TEXT NOT NULL,
                  firstSeen REAL NOT NULL,
                  lastSeen REAL NOT NULL
                ) STRICT;
                """)
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        migrator.registerMigration("v2") { db in
            // `status` counts duplicate and stale results; a partial index holds only those rows,
            // so the count stays cheap on a long journal and the other events cost nothing more.
            try db.execute(sql: """
                CREATE INDEX events_misfits ON events(kind) WHERE kind IN ('duplicate', 'stale');
                UPDATE meta SET schemaVersion = 2;
                PRAGMA user_version = 2;
                """)
        }
        migrator.registerMigration("v3") { db in
            // The `cancelled` state (thermosweep cancel): a job that ended without a result because
            // a user does not want it. SQLite cannot change a CHECK in place, so the jobs table is
            // rebuilt (sqlite.org/lang_altertable.html, "other kinds of table schema changes"):
            // every row copied as it is, in this migration's one transaction, with foreign keys
            // checked when it commits (GRDB defers them during a migration). The CREATE TABLE
            // repeats v1's on purpose, with one state more: a migration is frozen history and
            // must make exactly the schema the release that shipped it made (SQLite keeps the
            // statement's text as the table's schema), so neither is written from the other.
            try db.execute(sql: """
                CREATE TABLE jobs_v3 (
                  id INTEGER PRIMARY KEY,
                  key TEXT NOT NULL UNIQUE,
                  kind TEXT NOT NULL CHECK (kind IN ('warm-start', 'measure', 'trivial')),
                  seedIndex INTEGER NOT NULL,
                  dependsOn INTEGER REFERENCES jobs(id),
                  cost INTEGER NOT NULL,
                  state TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'orphaned', 'done', 'failed', 'cancelled')),
                  attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
                  leaseWorker TEXT,
                  leaseStartedAt REAL,
                  orphanedAt REAL,
                  retries INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),
                  failure TEXT CHECK (failure IN ('deterministic', 'exhausted', 'dependency')),
                  lastError TEXT,
                  finishedAt REAL,
                  CHECK ((state IN ('running', 'orphaned')) = (leaseWorker IS NOT NULL AND leaseStartedAt IS NOT NULL)),
                  CHECK ((state = 'orphaned') = (orphanedAt IS NOT NULL)),
                  CHECK ((state = 'failed') = (failure IS NOT NULL)),
                  CHECK ((state IN ('done', 'failed', 'cancelled')) = (finishedAt IS NOT NULL))
                ) STRICT;
                INSERT INTO jobs_v3 (id, key, kind, seedIndex, dependsOn, cost, state, attempt, leaseWorker,
                  leaseStartedAt, orphanedAt, retries, failure, lastError, finishedAt)
                SELECT id, key, kind, seedIndex, dependsOn, cost, state, attempt, leaseWorker, leaseStartedAt,
                  orphanedAt, retries, failure, lastError, finishedAt FROM jobs;
                DROP TABLE jobs;
                ALTER TABLE jobs_v3 RENAME TO jobs;
                CREATE INDEX jobs_by_state_cost ON jobs(state, cost DESC, id);
                CREATE INDEX jobs_by_dependency ON jobs(dependsOn);
                UPDATE meta SET schemaVersion = 3;
                PRAGMA user_version = 3;
                """)
        }
        migrator.registerMigration("v4") { db in
            // The grid a journal holds can grow (README, "Growing a study"): `meta` holds the grid
            // as it is now, and this table every grid it has been, oldest first. A journal from
            // before v4 starts its history with the grid it was created with.
            try db.execute(sql: """
                CREATE TABLE gridHistory (
                  seq INTEGER PRIMARY KEY,
                  at REAL NOT NULL,
                  specJSON BLOB NOT NULL,
                  specHash TEXT NOT NULL,
                  jobCount INTEGER NOT NULL,
                  added INTEGER NOT NULL CHECK (added >= 0),
                  dropped INTEGER NOT NULL CHECK (dropped >= 0),
                  summary TEXT NOT NULL
                ) STRICT;
                INSERT INTO gridHistory (at, specJSON, specHash, jobCount, added, dropped, summary)
                  SELECT createdAt, specJSON, specHash, jobCount, jobCount, 0, 'created' FROM meta;
                UPDATE meta SET schemaVersion = 4;
                PRAGMA user_version = 4;
                """)
        }
        migrator.registerMigration("v5") { db in
            // The same table, cheaper to write. SQLite (3.40) checks `x IN (a, b, c)` in a CHECK by
            // filling a temporary b-tree with the list for every row it checks, so inserting a job
            // row built four of them and each state change two: three times the cost of the
            // write itself (21 against 6 µs per inserted row, measured with Debian's SQLite). The
            // same sets written as `=` … `OR` chains accept and refuse exactly the same rows.
            // `jobs_by_state_cost` goes: it served a SQL dispatch queue, and the scheduler keeps
            // its queue in memory; each state change rewrote an entry of it.
            try db.execute(sql: """
                CREATE TABLE jobs_v5 (
                  id INTEGER PRIMARY KEY,
                  key TEXT NOT NULL UNIQUE,
                  kind TEXT NOT NULL CHECK (kind = 'warm-start' OR kind = 'measure' OR kind = 'trivial'),
                  seedIndex INTEGER NOT NULL,
                  dependsOn INTEGER REFERENCES jobs(id),
                  cost INTEGER NOT NULL,
                  state TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state = 'queued' OR state = 'running' OR state = 'orphaned' OR state = 'done'
                           OR state = 'failed' OR state = 'cancelled'),
                  attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
                  leaseWorker TEXT,
                  leaseStartedAt REAL,
                  orphanedAt REAL,
                  retries INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),
                  failure TEXT CHECK (failure = 'deterministic' OR failure = 'exhausted' OR failure = 'dependency'),
                  lastError TEXT,
                  finishedAt REAL,
                  CHECK ((state = 'running' OR state = 'orphaned') = (leaseWorker IS NOT NULL AND leaseStartedAt IS NOT NULL)),
                  CHECK ((state = 'orphaned') = (orphanedAt IS NOT NULL)),
                  CHECK ((state = 'failed') = (failure IS NOT NULL)),
                  CHECK ((state = 'done' OR state = 'failed' OR state = 'cancelled') = (finishedAt IS NOT NULL))
                ) STRICT;
                INSERT INTO jobs_v5 (id, key, kind, seedIndex, dependsOn, cost, state, attempt, leaseWorker,
                  leaseStartedAt, orphanedAt, retries, failure, lastError, finishedAt)
                SELECT id, key, kind, seedIndex, dependsOn, cost, state, attempt, leaseWorker, leaseStartedAt,
                  orphanedAt, retries, failure, lastError, finishedAt FROM jobs;
                DROP TABLE jobs;
                ALTER TABLE jobs_v5 RENAME TO jobs;
                CREATE INDEX jobs_by_dependency ON jobs(dependsOn);
                UPDATE meta SET schemaVersion = 5;
                PRAGMA user_version = 5;
                """)
        }
        return migrator
    }
}
