-- cleanup: the retention rules of computations.md ("cleanup"), one step per
-- rule, run last in the nightly pipeline for D.
--
-- Parameters: :day (D), :tz, :batch_size, and the retention days
-- :empty_session_days, :plan_days, :skipped_run_days, :step_detail_days,
-- :succeeded_run_days, :report_file_days.
--
-- "N days before the cut" means before start_of(D - N + 1) in :tz:
--   ((:day::date - N + 1)::timestamp AT TIME ZONE :tz)
-- i.e. end_of(D) minus N local days, the way `timestamptz - interval 'N
-- days'` counts in that zone.
--
-- How the file runs (Sources/LearningJobs/Cleanup.swift): the job is not one
-- transaction. In each step, every statement but the last runs once (bad-row
-- counts); the last statement deletes one batch of at most :batch_size rows
-- in a transaction of its own and is repeated while it returns more = true.
-- A batch statement returns rows_written (every row it deleted, including
-- the rows that go with the main ones), one count per table
-- (<table>_deleted, summed into the report's counters) and more. A dry run
-- runs everything in one transaction and rolls it back.
--
-- Never deleted: attempts, mastery_history, failed / interrupted / running
-- runs (so never the current run or its pipeline), and a run that belongs
-- to a pipeline run that is kept. Run rows go as whole trees (a top-level
-- run with its member runs and all their steps), so no step or member row
-- is ever left without its run.

-- step: delete-empty-sessions
-- Sessions without any attempt (an attempt after the cut, or a bad one,
-- keeps its session: attempts are never orphaned) that ended more than
-- :empty_session_days before the cut, with their analytics. Bad sessions
-- (batch.checked_sessions) are kept and counted.
SELECT count(*) FILTER (WHERE s.bad_reason = 'null_value')           AS bad_null_value,
       count(*) FILTER (WHERE s.bad_reason = 'ended_before_started') AS bad_ended_before_started
FROM batch.checked_sessions s
WHERE s.bad_reason IS NOT NULL
  AND s.ended_at < ((:day::date - :empty_session_days::int + 1)::timestamp AT TIME ZONE :tz::text)
  AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.session_id = s.id);

WITH victims AS (
    SELECT s.id
    FROM batch.checked_sessions s
    WHERE s.bad_reason IS NULL
      AND s.ended_at < ((:day::date - :empty_session_days::int + 1)::timestamp AT TIME ZONE :tz::text)
      AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.session_id = s.id)
    LIMIT :batch_size::int
),
analytics_gone AS (
    DELETE FROM session_analytics sa USING victims v WHERE sa.session_id = v.id
    RETURNING 1
),
sessions_gone AS (
    DELETE FROM sessions s USING victims v WHERE s.id = v.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM sessions_gone) + (SELECT count(*) FROM analytics_gone) AS rows_written,
       (SELECT count(*) FROM sessions_gone)                                        AS sessions_deleted,
       (SELECT count(*) FROM analytics_gone)                                       AS session_analytics_deleted,
       (SELECT count(*) FROM sessions_gone) = :batch_size::int                     AS more;

-- step: delete-orphaned-analytics
-- Analytics whose session is gone (interface.md: "Analytics of a deleted
-- session go with it"): the app deleted the session. session_analytics has
-- no foreign key into the app's table (that would put our trigger on the
-- app's deletes and fail a job that races one), so the nightly run removes
-- them: an anti-join of the two primary keys.
WITH victims AS (
    SELECT sa.session_id
    FROM session_analytics sa
    WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = sa.session_id)
    LIMIT :batch_size::int
),
gone AS (
    DELETE FROM session_analytics sa USING victims v
    WHERE sa.session_id = v.session_id
    RETURNING 1
)
SELECT count(*) AS rows_written, count(*) AS session_analytics_deleted, count(*) = :batch_size::int AS more FROM gone;

-- step: delete-old-plans
-- Plans with plan_date < D - :plan_days.
WITH victims AS (
    SELECT learner_id, plan_date, subcategory
    FROM plan_units
    WHERE plan_date < :day::date - :plan_days::int
    LIMIT :batch_size::int
),
gone AS (
    DELETE FROM plan_units p USING victims v
    WHERE p.learner_id = v.learner_id AND p.plan_date = v.plan_date AND p.subcategory = v.subcategory
    RETURNING 1
)
SELECT count(*) AS rows_written, count(*) AS plan_units_deleted, count(*) = :batch_size::int AS more FROM gone;

-- step: delete-skipped-runs
-- Top-level runs recorded 'skipped' that started more than
-- :skipped_run_days before the cut, when every member run is skipped too
-- (a skipped pipeline whose other members succeeded stays until the
-- succeeded-run rule takes it; a skipped member of a kept pipeline stays
-- with it). Whole trees, in id order, as many as fit in :batch_size rows
-- (runs + steps; at least one tree per batch).
WITH RECURSIVE tree AS (
    SELECT r.id AS root, r.id, r.status
    FROM batch.job_runs r
    WHERE r.parent_run_id IS NULL
      AND r.status = 'skipped'
      AND r.started_at < ((:day::date - :skipped_run_days::int + 1)::timestamp AT TIME ZONE :tz::text)
    UNION ALL
    SELECT t.root, c.id, c.status
    FROM tree t JOIN batch.job_runs c ON c.parent_run_id = t.id
),
roots AS (
    SELECT t.root, count(*) + sum(st.n) AS size
    FROM tree t
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM batch.job_run_steps s WHERE s.run_id = t.id) st
    GROUP BY t.root
    HAVING bool_and(t.status = 'skipped')
),
picked AS (
    SELECT root
    FROM (SELECT root, size, sum(size) OVER (ORDER BY root) AS running FROM roots) x
    WHERE running <= :batch_size::int OR running = size
),
victims AS (
    SELECT t.id FROM tree t JOIN picked p ON p.root = t.root
),
steps_gone AS (
    DELETE FROM batch.job_run_steps s USING victims v WHERE s.run_id = v.id
    RETURNING 1
),
runs_gone AS (
    DELETE FROM batch.job_runs r USING victims v WHERE r.id = v.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM runs_gone) + (SELECT count(*) FROM steps_gone) AS rows_written,
       (SELECT count(*) FROM runs_gone)                                      AS job_runs_deleted,
       (SELECT count(*) FROM steps_gone)                                     AS job_run_steps_deleted,
       (SELECT count(*) FROM picked) < (SELECT count(*) FROM roots)          AS more;

-- step: delete-old-run-steps
-- Step rows of succeeded runs that started more than :step_detail_days
-- before the cut; the run rows stay.
WITH victims AS (
    SELECT s.run_id, s.step_no
    FROM batch.job_run_steps s
    JOIN batch.job_runs r ON r.id = s.run_id
    WHERE r.status = 'succeeded'
      AND r.started_at < ((:day::date - :step_detail_days::int + 1)::timestamp AT TIME ZONE :tz::text)
    LIMIT :batch_size::int
),
gone AS (
    DELETE FROM batch.job_run_steps s USING victims v
    WHERE s.run_id = v.run_id AND s.step_no = v.step_no
    RETURNING 1
)
SELECT count(*) AS rows_written, count(*) AS job_run_steps_deleted, count(*) = :batch_size::int AS more FROM gone;

-- step: delete-old-succeeded-runs
-- Top-level succeeded runs (a pipeline with all its members) that started
-- more than :succeeded_run_days before the cut: trees in which every run
-- succeeded or was skipped and at least one succeeded. A tree holding a
-- failed, interrupted or running run is kept whole. Batching as for the
-- skipped runs.
WITH RECURSIVE tree AS (
    SELECT r.id AS root, r.id, r.status
    FROM batch.job_runs r
    WHERE r.parent_run_id IS NULL
      AND r.status IN ('succeeded', 'skipped')
      AND r.started_at < ((:day::date - :succeeded_run_days::int + 1)::timestamp AT TIME ZONE :tz::text)
    UNION ALL
    SELECT t.root, c.id, c.status
    FROM tree t JOIN batch.job_runs c ON c.parent_run_id = t.id
),
roots AS (
    SELECT t.root, count(*) + sum(st.n) AS size
    FROM tree t
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM batch.job_run_steps s WHERE s.run_id = t.id) st
    GROUP BY t.root
    HAVING bool_and(t.status IN ('succeeded', 'skipped')) AND bool_or(t.status = 'succeeded')
),
picked AS (
    SELECT root
    FROM (SELECT root, size, sum(size) OVER (ORDER BY root) AS running FROM roots) x
    WHERE running <= :batch_size::int OR running = size
),
victims AS (
    SELECT t.id FROM tree t JOIN picked p ON p.root = t.root
),
steps_gone AS (
    DELETE FROM batch.job_run_steps s USING victims v WHERE s.run_id = v.id
    RETURNING 1
),
runs_gone AS (
    DELETE FROM batch.job_runs r USING victims v WHERE r.id = v.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM runs_gone) + (SELECT count(*) FROM steps_gone) AS rows_written,
       (SELECT count(*) FROM runs_gone)                                      AS job_runs_deleted,
       (SELECT count(*) FROM steps_gone)                                     AS job_run_steps_deleted,
       (SELECT count(*) FROM picked) < (SELECT count(*) FROM roots)          AS more;

-- step: delete-old-report-files
-- Run report files in the report directory modified before this instant
-- (:report_file_days before the cut). Cleanup.swift lists and deletes
-- them (none in a dry run: it only counts them).
SELECT ((:day::date - :report_file_days::int + 1)::timestamp AT TIME ZONE :tz::text) AS files_before;
