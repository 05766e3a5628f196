/**
 * Forward-only migrations: entry i moves the schema from version i to i+1. Applied on connect
 * (or by `migrate()`), in one transaction under an advisory lock, so concurrent connects agree.
 * Indexes serve every query the runtime and the client make; see the comment on each.
 */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE runs (
    run_id BIGSERIAL PRIMARY KEY,
    flow TEXT NOT NULL,
    user_name TEXT NOT NULL,
    status TEXT NOT NULL,
    params JSONB NOT NULL,
    tags JSONB NOT NULL,
    system_tags JSONB NOT NULL,
    code_hash TEXT NOT NULL,
    graph JSONB,
    origin_run_id TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    heartbeat_at BIGINT
  );
  -- latest run of a flow; runs of a flow newest first (cursor = run_id)
  CREATE INDEX runs_flow_id ON runs (flow, run_id DESC);
  -- runs by status (optionally of a flow)
  CREATE INDEX runs_flow_status_id ON runs (flow, status, run_id DESC);
  CREATE INDEX runs_status_id ON runs (status, run_id DESC);
  -- runs by user, newest first
  CREATE INDEX runs_user_id ON runs (user_name, run_id DESC);
  -- runs by time
  CREATE INDEX runs_created ON runs (created_at DESC);

  CREATE TABLE run_tags (
    run_id BIGINT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    system BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, tag)
  );
  -- runs by tag, newest first
  CREATE INDEX run_tags_tag ON run_tags (tag, run_id DESC);

  CREATE TABLE tasks (
    task_id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    flow TEXT NOT NULL,
    step TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INT NOT NULL DEFAULT 0,
    origin_pathspec TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (run_id, key)
  );
  -- tasks of a run (optionally of a step), paginated by task_id
  CREATE INDEX tasks_run_step ON tasks (run_id, step, task_id);
  CREATE INDEX tasks_run_id ON tasks (run_id, task_id);

  CREATE TABLE task_parents (
    task_id BIGINT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    parent_id BIGINT NOT NULL,
    position INT NOT NULL,
    PRIMARY KEY (task_id, parent_id)
  );
  -- lineage downwards: the children of a task
  CREATE INDEX task_parents_parent ON task_parents (parent_id);

  CREATE TABLE attempts (
    task_id BIGINT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    attempt INT NOT NULL,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    error_code TEXT,
    error_message TEXT,
    PRIMARY KEY (task_id, attempt)
  );

  CREATE TABLE artifacts (
    task_id BIGINT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    attempt INT NOT NULL,
    name TEXT NOT NULL,
    sha TEXT NOT NULL,
    size BIGINT NOT NULL,
    type TEXT NOT NULL,
    encoding TEXT NOT NULL,
    PRIMARY KEY (task_id, attempt, name)
  );
  -- which tasks reference a blob (garbage collection, provenance)
  CREATE INDEX artifacts_sha ON artifacts (sha);

  CREATE TABLE task_metadata (
    id BIGSERIAL PRIMARY KEY,
    task_id BIGINT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    ts BIGINT NOT NULL
  );
  CREATE INDEX task_metadata_task ON task_metadata (task_id, field, id);
  `,
  // v2: parents kept on the task row too, so reading tasks needs no join (task_parents stays for
  // lineage downwards: the children of a task).
  `
  ALTER TABLE tasks ADD COLUMN parents BIGINT[] NOT NULL DEFAULT '{}';
  UPDATE tasks t SET parents = p.ids FROM (SELECT task_id, array_agg(parent_id ORDER BY position) AS ids FROM task_parents GROUP BY task_id) p WHERE p.task_id = t.task_id;
  `,
  // v3: idempotency tokens. Each call of createRun, finishRun, startAttempt and finishAttempt
  // stores a token made for that call; when a retry finds its own token, the first try committed
  // (only its reply was lost) and the retry succeeds without doing the change twice.
  `
  ALTER TABLE runs ADD COLUMN create_token TEXT, ADD COLUMN finish_token TEXT;
  CREATE UNIQUE INDEX runs_create_token ON runs (create_token) WHERE create_token IS NOT NULL;
  ALTER TABLE attempts ADD COLUMN start_token TEXT, ADD COLUMN finish_token TEXT;
  `,
  // v4: the token of the call that registered a task, so a repeat of registerTask(s) with the
  // caller's idempotency key (WriteOptions) returns the tasks it registered.
  `
  ALTER TABLE tasks ADD COLUMN register_token TEXT;
  `,
];
