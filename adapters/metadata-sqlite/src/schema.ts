/**
 * Marks a SQLite file as Tributary's (`PRAGMA application_id`, the SQLite header field meant for
 * this): "Trib". Files written before it was set are recognised by their tables.
 */
export const APPLICATION_ID = 0x54726962;

/** Tables every Tributary schema has (from version 1 on). */
export const TABLES = ['runs', 'run_tags', 'tasks', 'task_parents', 'attempts', 'artifacts', 'task_metadata'];

/**
 * Forward-only migrations. Each entry moves the schema from version i to i+1; a database at a
 * newer version than this code knows is refused rather than guessed at.
 */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    flow TEXT NOT NULL,
    user TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    tags TEXT NOT NULL,
    system_tags TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    graph TEXT NOT NULL,
    origin_run_id TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    heartbeat_at INTEGER
  );
  CREATE INDEX runs_flow ON runs (flow, run_id DESC);
  CREATE INDEX runs_status ON runs (status, run_id DESC);
  CREATE TABLE run_tags (
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    tag TEXT NOT NULL,
    system INTEGER NOT NULL,
    PRIMARY KEY (run_id, tag)
  );
  CREATE INDEX run_tags_tag ON run_tags (tag, run_id DESC);
  CREATE TABLE tasks (
    task_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    flow TEXT NOT NULL,
    step TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    origin_pathspec TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    UNIQUE (run_id, key)
  );
  CREATE INDEX tasks_run_step ON tasks (run_id, step, task_id);
  CREATE TABLE task_parents (
    task_id INTEGER NOT NULL,
    parent_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (task_id, parent_id)
  );
  CREATE INDEX task_parents_parent ON task_parents (parent_id);
  CREATE TABLE attempts (
    task_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    error_code TEXT,
    error_message TEXT,
    PRIMARY KEY (task_id, attempt)
  );
  CREATE TABLE artifacts (
    task_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    sha TEXT NOT NULL,
    size INTEGER NOT NULL,
    type TEXT NOT NULL,
    encoding TEXT NOT NULL,
    PRIMARY KEY (task_id, attempt, name)
  );
  CREATE INDEX artifacts_sha ON artifacts (sha);
  CREATE TABLE task_metadata (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    ts INTEGER NOT NULL
  );
  CREATE INDEX task_metadata_task ON task_metadata (task_id, field, id);
  `,
  // v2: listRuns by user (newest first) and by creation time (since / until).
  `
  CREATE INDEX runs_user ON runs (user, run_id DESC);
  CREATE INDEX runs_created ON runs (created_at);
  `,
  // v3: idempotency keys (WriteOptions). A write given a key stores it; a repeat of the call that
  // finds its own key returns the first result instead of writing twice.
  `
  ALTER TABLE runs ADD COLUMN create_key TEXT;
  ALTER TABLE runs ADD COLUMN finish_key TEXT;
  CREATE UNIQUE INDEX runs_create_key ON runs (create_key) WHERE create_key IS NOT NULL;
  ALTER TABLE tasks ADD COLUMN register_key TEXT;
  ALTER TABLE attempts ADD COLUMN start_key TEXT;
  ALTER TABLE attempts ADD COLUMN finish_key TEXT;
  `,
];
