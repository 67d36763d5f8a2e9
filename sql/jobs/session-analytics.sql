-- session-analytics: every field of session_analytics for the sessions the
-- logical date D covers (computations.md, "session-analytics").
--
-- Parameters: :day (D), :tz, :window_end (the cut end_of(D)), :as_of
-- (= :window_end, stamped into computed_at), :easy_below, :hard_from,
-- :attention_gap, :active_cap, :target_accuracy, :band_min_attempts,
-- :velocity_min_active, :velocity_min_attempts.
--
-- The whole file runs in one transaction. A row changes only when a value
-- differs, so a rerun with unchanged inputs writes nothing and computed_at
-- keeps its value. The temp table sa_warnings holds counts the Swift
-- wrapper turns into report warnings.

-- step: read-sessions
-- Covered: sessions that ended before the cut and either started on D-1 or
-- D (in TZ: [start_of(D-1), end_of(D))) or have no analytics row yet. A row
-- computed by a run for a later date (as_of > D: this is a rerun of an older
-- date) counts as "not yet": in a day-by-day history it did not exist at D
-- (see sql/migrations/0005_session_analytics_as_of.sql).
--
-- "No analytics yet" first, on its own: the spec's rule tests every
-- session that ended before the cut, every night. Both tables have an
-- index that carries the column this filters on (migration 0015):
-- sessions_id_ended_idx each session's id and ended_at,
-- session_analytics_id_as_of_idx each row's session and as_of; where the
-- visibility maps are set (0016 has autovacuum set session_analytics'
-- after every night), the planner merges the two indexes in key order and
-- reads neither heap. At 300 days of history (833k sessions): 191-257 ms
-- once autovacuum has been by since the last night's writes (the whole
-- read-sessions step 187-236 ms in the benchmark, after the day between
-- two nights or a VACUUM), 410-470 ms right after them (their rows are
-- spread over a third of the heap's pages, which are then read), against
-- 488-645 ms for the anti-join of the two heaps before 0015; on an older D
-- of a backfill 138-156 ms against 205-273 ms (BENCHMARKS.md, "Night round
-- 4" and "Night round 5").
-- Without parallel workers: a parallel plan (a hash anti-join in two
-- workers, the planner's choice) took 0.35 s here, and would read the
-- inner index once per worker in a merge. RESET gives back the session's
-- default (server, database, role, connection options).
SET LOCAL max_parallel_workers_per_gather = 0;

CREATE TEMP TABLE sa_unanalyzed ON COMMIT DROP AS
SELECT p.id
FROM sessions p
WHERE p.ended_at < :window_end::timestamptz
  AND NOT EXISTS (SELECT 1 FROM session_analytics x
                  WHERE x.session_id = p.id AND x.as_of <= :day::date);

RESET max_parallel_workers_per_gather;
ANALYZE sa_unanalyzed;

-- Then the covered sessions, in two branches, so that each has its own
-- access path: the window through sessions_started_at_idx, the sessions
-- without analytics by key (written as one OR, it was a filter evaluated on
-- every session in the database, 3x slower; BENCHMARKS.md).
CREATE TEMP TABLE sa_candidates ON COMMIT DROP AS
SELECT s.id, s.started_at, s.ended_at, s.bad_reason
FROM batch.checked_sessions s
WHERE s.ended_at < :window_end::timestamptz
  AND s.started_at >= ((:day::date - 1)::timestamp AT TIME ZONE :tz::text)
  AND s.started_at < :window_end::timestamptz
UNION
SELECT s.id, s.started_at, s.ended_at, s.bad_reason
FROM batch.checked_sessions s
JOIN sa_unanalyzed u ON u.id = s.id
WHERE s.ended_at < :window_end::timestamptz;  -- again: this statement's snapshot is newer

CREATE TEMP TABLE sa_sessions ON COMMIT DROP AS
SELECT id, started_at, ended_at
FROM sa_candidates
WHERE bad_reason IS NULL;

-- Temp tables have no statistics until analyzed; without them the planner
-- hashes every attempt in the database instead of probing the covered
-- sessions' attempts through attempts_session_created_idx (BENCHMARKS.md).
ANALYZE sa_sessions;

-- Rows read (covered sessions) and the covered sessions the batch excludes.
SELECT count(*) FILTER (WHERE bad_reason IS NULL)                    AS rows_read,
       count(*) FILTER (WHERE bad_reason = 'null_value')             AS bad_null_value,
       count(*) FILTER (WHERE bad_reason = 'ended_before_started')   AS bad_ended_before_started
FROM sa_candidates;

-- The difficulties of D (computations.md: "each is (re)computed with the
-- question_stats of D"): learning-impact's for D, kept per date (migration
-- 0014); question_stats for a D learning-impact has no record of (its newest
-- computation, as before 0014).
CREATE TEMP TABLE sa_difficulty ON COMMIT DROP AS
SELECT question_id, difficulty
FROM batch.li_question_difficulty
WHERE day = :day::date
UNION ALL
SELECT question_id, difficulty
FROM question_stats
WHERE NOT EXISTS (SELECT 1 FROM batch.li_question_difficulty WHERE day = :day::date);

ANALYZE sa_difficulty;

-- step: read-attempts
-- One pass over the covered sessions' attempts, straight into one row per
-- session (no table of attempts in between: with one, written and read
-- back, the job took 0.519 s at S, without 0.448 s; BENCHMARKS.md):
--
-- 1. Read every attempt of the covered sessions once, through
--    attempts_session_created_idx: the planner probes per covered session
--    (sa_sessions is analyzed and small next to attempts) and joins
--    questions and learners by hash. `counts` marks the attempts that count
--    (not bad, created before the cut); the others are only counted for the
--    report. Each carries its question's current difficulty band (0 easy:
--    < easy_below, 1 medium, 2 hard: >= hard_from; no stats: medium).
-- 2. Number them by (created_at, id), with the previous attempt's time and
--    subcategory. The window is partitioned by (session, counts), so an
--    attempt that does not count is nobody's "previous" and takes no number
--    among those that do.
-- 3. Give each its run's start, in the same window order (no new sort): the
--    latest attempt at or before it that begins a run (the first, or one
--    after a gap of more than :attention_gap seconds; created_at does not
--    decrease with n, so that is the max). The longest attempt - run start
--    of a session is its longest run's last - first (the same subtraction,
--    so the same value).
-- 4. Aggregate per session, reading the windows' output in session order;
--    every measure takes only the attempts that count (FILTER).
--
-- Per session; a session without attempts that count gets 0 counts, '{}'
-- subjects, an all-zero distribution and NULL for the rest (sa_result).
--   accuracy = round(100 * correct / attempted) in numeric (halves up)
--   avg_time_per_question_ms = total_time_ms / attempted (integer division)
--   attention span: runs split where a gap exceeds :attention_gap seconds;
--     the longest run's last - first, in minutes (epoch seconds / 60.0)
--   learning_velocity = correct / (active_seconds / 3600.0), NULL below the
--     thresholds
-- sum() of an integer column is a bigint (of a bigint it would be numeric,
-- and total / attempted would no longer be an integer division).
CREATE TEMP TABLE sa_agg ON COMMIT DROP AS
SELECT session_id,
       count(*) FILTER (WHERE counts)::int                                AS questions_attempted,
       count(*) FILTER (WHERE counts AND correct)::int                    AS questions_correct,
       1000 * sum(time_sec) FILTER (WHERE counts)                         AS total_time_ms,
       array_agg(DISTINCT subject COLLATE "C" ORDER BY subject COLLATE "C")
           FILTER (WHERE counts)                                          AS subjects_practiced,
       count(DISTINCT subcategory) FILTER (WHERE counts)::int             AS topics_covered,
       count(*) FILTER (WHERE counts AND band = 0)::int                   AS easy,
       count(*) FILTER (WHERE counts AND band = 1)::int                   AS medium,
       count(*) FILTER (WHERE counts AND band = 2)::int                   AS hard,
       count(*) FILTER (WHERE counts AND band = 0 AND correct)::int       AS easy_correct,
       count(*) FILTER (WHERE counts AND band = 1 AND correct)::int       AS medium_correct,
       count(*) FILTER (WHERE counts AND band = 2 AND correct)::int       AS hard_correct,
       count(*) FILTER (WHERE counts AND n > 1 AND subcategory <> prev_subcategory)::int AS concept_switches,
       sum(least(time_sec, :active_cap::int)) FILTER (WHERE counts)       AS active_seconds,
       max(extract(epoch FROM created_at - run_start)::float8 / 60.0::float8)
           FILTER (WHERE counts)                                          AS attention_span_minutes,
       -- for the report: counted with the session, but warned about
       count(*) FILTER (WHERE counts AND after_end)::int                  AS after_end,
       -- for the report: the attempts that do not count, by first reason
       -- (counted through batch.bad_reason_counts below)
       array_agg(bad_reason) FILTER (WHERE bad_reason IS NOT NULL)        AS bad_reasons,
       count(*) FILTER (WHERE bad_reason IS NULL AND NOT counts)::int     AS bad_created_after_cut
FROM (
    SELECT x.*,
           max(CASE WHEN x.n = 1 OR extract(epoch FROM x.created_at - x.prev_created_at) > :attention_gap::numeric
                    THEN x.created_at END)
             OVER (PARTITION BY x.session_id, x.counts ORDER BY x.created_at, x.id) AS run_start
    FROM (
        SELECT a.session_id,
               a.id,
               a.created_at,
               a.correct,
               a.time_sec,
               a.subject,
               a.subcategory,
               a.bad_reason,
               a.counts,
               a.created_at > s.ended_at AS after_end,
               CASE WHEN qs.difficulty IS NULL                   THEN 1
                    WHEN qs.difficulty < :easy_below::float8     THEN 0
                    WHEN qs.difficulty < :hard_from::float8      THEN 1
                    ELSE 2 END AS band,
               row_number() OVER w           AS n,
               lag(a.created_at) OVER w      AS prev_created_at,
               lag(a.subcategory) OVER w     AS prev_subcategory
        FROM sa_sessions s
        JOIN (SELECT c.*, (c.bad_reason IS NULL AND c.created_at < :window_end::timestamptz) AS counts
              FROM batch.checked_attempts c) a ON a.session_id = s.id
        LEFT JOIN sa_difficulty qs ON qs.question_id = a.question_id
        WINDOW w AS (PARTITION BY a.session_id, a.counts ORDER BY a.created_at, a.id)
    ) x
) r
GROUP BY session_id;

-- Rows read (attempts that count) and the covered sessions' attempts the
-- batch excludes, by first reason.
SELECT (SELECT sum(questions_attempted) FROM sa_agg)   AS rows_read,
       (SELECT sum(bad_created_after_cut) FROM sa_agg) AS bad_created_after_cut,
       b.*
FROM batch.bad_reason_counts(ARRAY(SELECT unnest(g.bad_reasons) FROM sa_agg g)) b;

-- Counted with their session, but reported: attempts after the session's end.
CREATE TEMP TABLE sa_warnings ON COMMIT DROP AS
SELECT 'attempts created after their session''s ended_at (counted with the session)'::text AS message,
       coalesce(sum(after_end), 0)::int AS n
FROM sa_agg;

-- step: compute
-- The optimal band: among the bands with at least :band_min_attempts
-- attempts, the one whose accuracy c/n is closest to :target_accuracy,
-- compared exactly in numeric by cross-multiplication
-- (|c1 - t n1| * n2 vs |c2 - t n2| * n1), ties to the easier band. The
-- three bands' counts come from sa_agg (one row per session). A band wins
-- when it has enough attempts and no other band that has is strictly closer
-- or as close and easier: one CASE over the three bands' distances (until
-- 2026-12-02 a subquery over a VALUES list per session, 55 ms of the step's
-- 61 at S with 300 days; the same answer on every combination of up to 7
-- attempts per band, BENCHMARKS.md "Night round 9").
CREATE TEMP TABLE sa_result ON COMMIT DROP AS
SELECT s.id AS session_id,
       coalesce(g.questions_attempted, 0)                        AS questions_attempted,
       coalesce(g.questions_correct, 0)                          AS questions_correct,
       CASE WHEN g.questions_attempted > 0
            THEN round(100::numeric * g.questions_correct / g.questions_attempted)::int
       END                                                       AS accuracy,
       coalesce(g.total_time_ms, 0)::bigint                      AS total_time_ms,
       CASE WHEN g.questions_attempted > 0
            THEN g.total_time_ms / g.questions_attempted
       END::bigint                                               AS avg_time_per_question_ms,
       coalesce(g.subjects_practiced, '{}')::text[]              AS subjects_practiced,
       coalesce(g.topics_covered, 0)                             AS topics_covered,
       jsonb_build_object('easy',   coalesce(g.easy, 0),
                          'medium', coalesce(g.medium, 0),
                          'hard',   coalesce(g.hard, 0))         AS difficulty_distribution,
       coalesce(g.concept_switches, 0)                           AS concept_switches,
       coalesce(g.active_seconds, 0)::bigint                     AS active_seconds,
       g.attention_span_minutes,
       CASE WHEN b.easy_ok
                 AND (NOT b.medium_ok OR b.d_easy * g.medium <= b.d_medium * g.easy)
                 AND (NOT b.hard_ok OR b.d_easy * g.hard <= b.d_hard * g.easy)     THEN 'easy'
            WHEN b.medium_ok
                 AND (NOT b.easy_ok OR b.d_medium * g.easy < b.d_easy * g.medium)
                 AND (NOT b.hard_ok OR b.d_medium * g.hard <= b.d_hard * g.medium) THEN 'medium'
            WHEN b.hard_ok
                 AND (NOT b.easy_ok OR b.d_hard * g.easy < b.d_easy * g.hard)
                 AND (NOT b.medium_ok OR b.d_hard * g.medium < b.d_medium * g.hard) THEN 'hard'
       END                                                       AS optimal_difficulty_range,
       CASE WHEN g.active_seconds >= :velocity_min_active::bigint
             AND g.active_seconds > 0
             AND g.questions_attempted >= :velocity_min_attempts::int
            THEN g.questions_correct::float8 / (g.active_seconds::float8 / 3600.0::float8)
       END                                                       AS learning_velocity
FROM sa_sessions s
LEFT JOIN sa_agg g ON g.session_id = s.id
-- Per band: enough attempts (at least :band_min_attempts, and some), and
-- the distance |c - target * n| in numeric (exact for these inputs). All
-- NULL for a session without attempts that count: no band.
CROSS JOIN LATERAL (
    SELECT g.easy > 0   AND g.easy >= :band_min_attempts::numeric   AS easy_ok,
           g.medium > 0 AND g.medium >= :band_min_attempts::numeric AS medium_ok,
           g.hard > 0   AND g.hard >= :band_min_attempts::numeric   AS hard_ok,
           abs(g.easy_correct - :target_accuracy::numeric * g.easy)     AS d_easy,
           abs(g.medium_correct - :target_accuracy::numeric * g.medium) AS d_medium,
           abs(g.hard_correct - :target_accuracy::numeric * g.hard)     AS d_hard
) b;

-- step: write-analytics
-- Upsert; a row changes only when a value or its as_of differs, and gets
-- computed_at = :as_of only when a value differs.
INSERT INTO session_analytics AS t
       (session_id, questions_attempted, questions_correct, accuracy, total_time_ms,
        avg_time_per_question_ms, subjects_practiced, topics_covered, difficulty_distribution,
        concept_switches, active_seconds, attention_span_minutes, optimal_difficulty_range,
        learning_velocity, as_of, computed_at)
SELECT session_id, questions_attempted, questions_correct, accuracy, total_time_ms,
       avg_time_per_question_ms, subjects_practiced, topics_covered, difficulty_distribution,
       concept_switches, active_seconds, attention_span_minutes, optimal_difficulty_range,
       learning_velocity, :day::date, :as_of::timestamptz
FROM sa_result
ON CONFLICT (session_id) DO UPDATE
SET questions_attempted      = EXCLUDED.questions_attempted,
    questions_correct        = EXCLUDED.questions_correct,
    accuracy                 = EXCLUDED.accuracy,
    total_time_ms            = EXCLUDED.total_time_ms,
    avg_time_per_question_ms = EXCLUDED.avg_time_per_question_ms,
    subjects_practiced       = EXCLUDED.subjects_practiced,
    topics_covered           = EXCLUDED.topics_covered,
    difficulty_distribution  = EXCLUDED.difficulty_distribution,
    concept_switches         = EXCLUDED.concept_switches,
    active_seconds           = EXCLUDED.active_seconds,
    attention_span_minutes   = EXCLUDED.attention_span_minutes,
    optimal_difficulty_range = EXCLUDED.optimal_difficulty_range,
    learning_velocity        = EXCLUDED.learning_velocity,
    as_of                    = EXCLUDED.as_of,
    -- computed_at says when the values last changed: a row recomputed with
    -- the same values for a later date only moves its as_of.
    computed_at              = CASE
        WHEN (t.questions_attempted, t.questions_correct, t.accuracy, t.total_time_ms,
              t.avg_time_per_question_ms, t.subjects_practiced, t.topics_covered, t.difficulty_distribution,
              t.concept_switches, t.active_seconds, t.attention_span_minutes, t.optimal_difficulty_range,
              t.learning_velocity)
             IS DISTINCT FROM
             (EXCLUDED.questions_attempted, EXCLUDED.questions_correct, EXCLUDED.accuracy, EXCLUDED.total_time_ms,
              EXCLUDED.avg_time_per_question_ms, EXCLUDED.subjects_practiced, EXCLUDED.topics_covered,
              EXCLUDED.difficulty_distribution, EXCLUDED.concept_switches, EXCLUDED.active_seconds,
              EXCLUDED.attention_span_minutes, EXCLUDED.optimal_difficulty_range, EXCLUDED.learning_velocity)
        THEN EXCLUDED.computed_at ELSE t.computed_at END
WHERE (t.questions_attempted, t.questions_correct, t.accuracy, t.total_time_ms,
       t.avg_time_per_question_ms, t.subjects_practiced, t.topics_covered, t.difficulty_distribution,
       t.concept_switches, t.active_seconds, t.attention_span_minutes, t.optimal_difficulty_range,
       t.learning_velocity, t.as_of)
      IS DISTINCT FROM
      (EXCLUDED.questions_attempted, EXCLUDED.questions_correct, EXCLUDED.accuracy, EXCLUDED.total_time_ms,
       EXCLUDED.avg_time_per_question_ms, EXCLUDED.subjects_practiced, EXCLUDED.topics_covered,
       EXCLUDED.difficulty_distribution, EXCLUDED.concept_switches, EXCLUDED.active_seconds,
       EXCLUDED.attention_span_minutes, EXCLUDED.optimal_difficulty_range, EXCLUDED.learning_velocity,
       EXCLUDED.as_of);

-- A covered session that is now bad (say its ended_at was moved before its
-- start) is excluded from every job: its analytics from an earlier run go.
DELETE FROM session_analytics t
USING sa_candidates c
WHERE t.session_id = c.id
  AND c.bad_reason IS NOT NULL;
