-- Views the dashboards and `studybuddy-batch status` read (interface.md,
-- "Job-run tables"). Dry runs (args.dry_run = true) are ignored everywhere.

-- The schedule in a form the views can compute slots from; written by the
-- daemon at start and reload, and by `migrate`, from the config.
ALTER TABLE batch.job_schedule
    ADD COLUMN kind          text,      -- 'nightly' (one logical date per day) or 'slot'
    ADD COLUMN times         text[],    -- daily wall-clock times 'HH:MM' in `timezone` (nightly, decay)
    ADD COLUMN every_minutes integer;   -- or: a slot every N minutes (session-close)

-- Real (not dry) runs only.
CREATE VIEW batch.real_runs AS
SELECT r.*
FROM batch.job_runs r
WHERE NOT coalesce((r.args->>'dry_run')::boolean, false);

COMMENT ON VIEW batch.real_runs IS 'batch.job_runs without dry runs';

-- One row per job (scheduled, or seen in the run history):
--   job                     the job's name
--   last_run_id             the newest run (by started_at, then id)
--   last_status             its status: running, succeeded, failed, interrupted, skipped
--   last_trigger            schedule, catchup, manual or backfill
--   last_logical_date       its logical date (NULL for a slot run)
--   last_window_end         its window end: end_of(D), or the slot instant T
--   last_started_at         when it started
--   last_duration_ms        how long it took (NULL while running)
--   last_success_run_id     the newest succeeded run
--   last_success_at         when that run finished
--   last_success_logical_date  its logical date
--   last_failure_run_id     the newest failed run
--   last_failure_at         when it finished
--   last_failure_code       its SQLSTATE (or a batch code)
--   last_failure_message    its error message
--   consecutive_failures    failed runs since the newest success (skipped and
--                           interrupted runs neither count nor reset)
--   next_due                the next scheduled slot (batch.job_schedule)
CREATE VIEW batch.job_status AS
WITH jobs AS (
    SELECT job FROM batch.job_schedule
    UNION
    SELECT DISTINCT job FROM batch.real_runs
)
SELECT j.job,
       l.id              AS last_run_id,
       l.status          AS last_status,
       l.trigger         AS last_trigger,
       l.logical_date    AS last_logical_date,
       l.window_end      AS last_window_end,
       l.started_at      AS last_started_at,
       l.duration_ms     AS last_duration_ms,
       s.id              AS last_success_run_id,
       s.finished_at     AS last_success_at,
       s.logical_date    AS last_success_logical_date,
       f.id              AS last_failure_run_id,
       f.finished_at     AS last_failure_at,
       f.error_code      AS last_failure_code,
       f.error_message   AS last_failure_message,
       (SELECT count(*) FROM batch.real_runs c
        WHERE c.job = j.job AND c.status = 'failed'
          AND c.started_at > coalesce(s.started_at, '-infinity'))::int AS consecutive_failures,
       sch.next_due
FROM jobs j
LEFT JOIN batch.job_schedule sch ON sch.job = j.job
LEFT JOIN LATERAL (SELECT * FROM batch.real_runs r WHERE r.job = j.job
                   ORDER BY r.started_at DESC, r.id DESC LIMIT 1) l ON true
LEFT JOIN LATERAL (SELECT * FROM batch.real_runs r WHERE r.job = j.job AND r.status = 'succeeded'
                   ORDER BY r.started_at DESC, r.id DESC LIMIT 1) s ON true
LEFT JOIN LATERAL (SELECT * FROM batch.real_runs r WHERE r.job = j.job AND r.status = 'failed'
                   ORDER BY r.started_at DESC, r.id DESC LIMIT 1) f ON true;

COMMENT ON VIEW batch.job_status IS
    'per job: last run, last success, last failure, consecutive failures, next due slot (dry runs ignored)';

-- Per scheduled job, what is missing:
--   job            the job
--   logical_date   nightly jobs: a logical date of the last 30 days (in the
--                  schedule's zone) whose nightly slot has passed and that
--                  has no successful run
--   slot           slot jobs: a slot instant of the last 7 days without a
--                  successful run as of exactly that instant
-- Exactly one of logical_date and slot is set.
CREATE VIEW batch.job_gaps AS
WITH sched AS (
    SELECT job, timezone, kind, times, every_minutes,
           (now() AT TIME ZONE timezone)::date AS today
    FROM batch.job_schedule
),
nightly_dates AS (
    SELECT s.job, d::date AS logical_date
    FROM sched s
    CROSS JOIN LATERAL generate_series(s.today - 30, s.today - 1, interval '1 day') d
    WHERE s.kind = 'nightly'
      AND ((d::date + 1) + coalesce(s.times[1], '00:00')::time) AT TIME ZONE s.timezone <= now()
),
daily_slots AS (
    SELECT s.job, ((d::date + t::time) AT TIME ZONE s.timezone) AS slot
    FROM sched s
    CROSS JOIN LATERAL unnest(s.times) t
    CROSS JOIN LATERAL generate_series(s.today - 7, s.today, interval '1 day') d
    WHERE s.kind = 'slot' AND s.every_minutes IS NULL
),
interval_slots AS (
    SELECT s.job, x AS slot
    FROM sched s
    CROSS JOIN LATERAL generate_series(
        to_timestamp(floor(extract(epoch FROM now() - interval '7 days') / (s.every_minutes * 60)) * s.every_minutes * 60),
        now(), make_interval(mins => s.every_minutes)) x
    WHERE s.kind = 'slot' AND s.every_minutes IS NOT NULL
)
SELECT n.job, n.logical_date, NULL::timestamptz AS slot
FROM nightly_dates n
WHERE NOT EXISTS (SELECT 1 FROM batch.real_runs r
                  WHERE r.job = n.job AND r.status = 'succeeded' AND r.logical_date = n.logical_date)
UNION ALL
SELECT x.job, NULL::date, x.slot
FROM (SELECT * FROM daily_slots UNION ALL SELECT * FROM interval_slots) x
WHERE x.slot > now() - interval '7 days' AND x.slot <= now()
  AND NOT EXISTS (SELECT 1 FROM batch.real_runs r
                  WHERE r.job = x.job AND r.status = 'succeeded' AND r.logical_date IS NULL
                    AND r.window_end = x.slot);

COMMENT ON VIEW batch.job_gaps IS
    'per scheduled job: logical dates (last 30 days) and slots (last 7 days) without a successful, non-dry run';
