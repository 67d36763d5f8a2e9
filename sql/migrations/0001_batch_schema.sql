-- Job-run tables (interface.md, "Job-run tables"), read by dashboards.
CREATE SCHEMA IF NOT EXISTS batch;

-- One row per run, inserted (status 'running') when the run starts and
-- updated when it ends, so a dashboard sees work in progress.
CREATE TABLE batch.job_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_run_id  bigint REFERENCES batch.job_runs (id) ON DELETE CASCADE,
    job            text        NOT NULL,
    logical_date   date,                      -- nightly jobs: D
    window_start   timestamptz,               -- [window_start, window_end)
    window_end     timestamptz,
    trigger        text        NOT NULL
                   CHECK (trigger IN ('schedule', 'catchup', 'manual', 'backfill')),
    status         text        NOT NULL
                   CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'skipped')),
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    duration_ms    bigint,
    rows_read      bigint,
    rows_written   bigint,
    host           text,
    pid            integer,
    version        text,
    args           jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- never holds a password
    error_code     text,                      -- SQLSTATE, or a batch code such as 'BATCH'
    error_message  text,
    report         jsonb
);

-- status/job_status: the latest runs of a job.
CREATE INDEX job_runs_job_started_idx ON batch.job_runs (job, started_at DESC);
-- Marking runs of dead processes 'interrupted': only the few running rows.
CREATE INDEX job_runs_running_idx ON batch.job_runs (job) WHERE status = 'running';
-- Members of a pipeline run.
CREATE INDEX job_runs_parent_idx ON batch.job_runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
-- "Newest processed date of a job" (rerun cascades, catch-up, gaps).
CREATE INDEX job_runs_job_date_idx ON batch.job_runs (job, logical_date)
    WHERE status = 'succeeded' AND logical_date IS NOT NULL;

-- One row per step of a run; `detail` carries progress while running.
CREATE TABLE batch.job_run_steps (
    run_id         bigint  NOT NULL REFERENCES batch.job_runs (id) ON DELETE CASCADE,
    step_no        integer NOT NULL,
    name           text    NOT NULL,
    status         text    NOT NULL
                   CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'skipped')),
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    duration_ms    bigint,
    rows_affected  bigint,
    detail         jsonb,
    PRIMARY KEY (run_id, step_no)
);

-- The schedule as the daemon (or `migrate`, with the config's defaults) sees it.
CREATE TABLE batch.job_schedule (
    job        text PRIMARY KEY,
    schedule   text NOT NULL,
    timezone   text NOT NULL,
    next_due   timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
