-- learning-impact: question difficulty and subcategory learning impact from
-- first attempts (computations.md, "learning-impact").
--
-- Parameters: :day (D), :tz, :window_start / :window_end (D's half-open
-- day; :window_end = end_of(D), the cut), :window_days, :prior_weight,
-- :global_prior, :provisional_below, :max_opportunity,
-- :min_per_opportunity, :min_opportunities.
--
-- W = the :window_days days ending with D: [start_of(D - window_days + 1),
-- end_of(D)) in the zone. First attempts only (attempt_no = 1, any
-- context); "correct" means correct without a hint. The whole file runs in
-- one transaction; every write changes a row only when a value differs, so
-- a rerun with unchanged inputs writes nothing.
--
-- Incremental aggregates (migration 0009; README, "Incremental
-- aggregates"): the cost follows the day's attempts, not the history.
--   * batch.li_question_day: good first attempts per local day and question;
--     n_q, c_q, N_S, C_S and mu_g are integer sums over W's days.
--   * batch.li_opportunity: each (learner, S)'s first :max_opportunity first
--     attempts numbered k by (created_at, id); batch.li_curve_day counts
--     them per (day, S, k); n_k and c_k are sums over the days <= D.
--   * batch.li_days: the days built. A run for D rebuilds D from D's
--     attempts (read through attempts_created_at_idx) and, in the same
--     set-based pass, every earlier day never built (a first install: all
--     history). When D's numbering changes, the later days lose their mark
--     (their k may shift): the rerun cascade, or the next run, rebuilds them.
--   * A different zone or :max_opportunity, or an attempted question that
--     moved to another subcategory, vanished, or lost a field its attempts
--     need, drops the aggregates: this run rebuilds them from all history.
--   * batch.li_excluded: the built days' first attempts left out as bad
--     rows. One that is good now (its question or learner was created later,
--     its question got its fields) makes this run rebuild from its day.
--   * Attempts stamped -infinity belong to no day and are not counted.
-- Attempts of an already built day that change later (inserted late with an
-- old created_at, deleted, their learner deleted) are seen when that day is
-- rerun (which cascades), as every nightly job reads a day's attempts when
-- it processes that day; batch.li_aggregate_drift(D, zone, max_opportunity)
-- lists any difference from a from-scratch recomputation.

-- step: check-aggregates
-- The questions whose first attempts are good rows, with their subcategory.
CREATE TEMP TABLE li_questions ON COMMIT DROP AS
SELECT id AS question_id, subcategory
FROM questions
WHERE subject IS NOT NULL AND topic IS NOT NULL AND subcategory IS NOT NULL;
ANALYZE li_questions;   -- statistics only: unanalyzed, the check below became a nested loop

CREATE TEMP TABLE li_reset ON COMMIT DROP AS
SELECT NOT EXISTS (SELECT 1 FROM batch.li_state s
                   WHERE s.timezone = :tz::text AND s.max_opportunity = :max_opportunity::int)
       OR EXISTS (SELECT 1 FROM batch.li_question_map m
                  LEFT JOIN li_questions q ON q.question_id = m.question_id
                  WHERE q.subcategory IS DISTINCT FROM m.subcategory) AS reset;

-- Aggregates counts go to the report's counters (aggregate_rows), not to
-- rows_written: they are this job's cache, not its output.
WITH d1 AS (DELETE FROM batch.li_days WHERE (SELECT reset FROM li_reset) RETURNING 1),
     d2 AS (DELETE FROM batch.li_question_day WHERE (SELECT reset FROM li_reset) RETURNING 1),
     d3 AS (DELETE FROM batch.li_opportunity WHERE (SELECT reset FROM li_reset) RETURNING 1),
     d4 AS (DELETE FROM batch.li_curve_day WHERE (SELECT reset FROM li_reset) RETURNING 1),
     d5 AS (DELETE FROM batch.li_question_map WHERE (SELECT reset FROM li_reset) RETURNING 1),
     d6 AS (DELETE FROM batch.li_excluded WHERE (SELECT reset FROM li_reset) RETURNING 1),
     st AS (INSERT INTO batch.li_state AS t (singleton, timezone, max_opportunity)
            VALUES (true, :tz::text, :max_opportunity::int)
            ON CONFLICT (singleton) DO UPDATE
            SET timezone = EXCLUDED.timezone, max_opportunity = EXCLUDED.max_opportunity
            WHERE (t.timezone, t.max_opportunity) IS DISTINCT FROM (EXCLUDED.timezone, EXCLUDED.max_opportunity)
            RETURNING 1)
SELECT (SELECT count(*) FROM d1) + (SELECT count(*) FROM d2) + (SELECT count(*) FROM d3)
       + (SELECT count(*) FROM d4) + (SELECT count(*) FROM d5) + (SELECT count(*) FROM d6)
       + (SELECT count(*) FROM st) AS aggregate_rows,
       (SELECT count(*) FROM d1) AS aggregate_days_dropped;

-- The earliest day with a left-out first attempt that is a good row now
-- (NULL: none), bound as :revalid_day; counted as aggregate_revalidated.
SELECT min(e.day)::text AS bind_revalid_day, count(*) AS aggregate_revalidated
FROM batch.li_excluded e
JOIN batch.checked_attempts a ON a.id = e.attempt_id
WHERE a.bad_reason IS NULL AND a.attempt_no = 1;

-- step: read-attempts
-- The first day to build: the earliest day, from the first attempt's day to
-- D - 1, that is not built, or the day of a left-out attempt that is good
-- now; else D itself (always rebuilt from its attempts). Bound as :from_day
-- for the rest of the run (JobSQL, bind_), so each range below is planned
-- with its value.
SELECT least(
         (SELECT min(g.day)::date
          FROM generate_series((SELECT (min(created_at) AT TIME ZONE :tz::text)::date FROM attempts
                                WHERE isfinite(created_at)),
                               :day::date - 1, interval '1 day') AS g(day)
          WHERE NOT EXISTS (SELECT 1 FROM batch.li_days d WHERE d.day = g.day::date)),
         :revalid_day::date,
         :day::date)::text AS bind_from_day;

-- The first attempts of [start_of(from_day), end_of(D)), good and bad (one
-- table: a first run builds all history through it), and in the same read
-- D's other bad attempts, for the report (`first` false; a good attempt
-- here is always a first attempt).
CREATE TEMP TABLE li_new ON COMMIT DROP AS
SELECT a.id, a.learner_id, a.question_id, a.subcategory, a.created_at,
       (a.correct AND NOT a.hint_used) AS ok,
       (a.created_at AT TIME ZONE :tz::text)::date AS day,
       a.bad_reason IS NULL AS good,
       coalesce(a.attempt_no = 1, false) AS first,
       a.bad_reason
FROM batch.checked_attempts a
WHERE (a.attempt_no = 1 OR (a.bad_reason IS NOT NULL AND a.created_at >= :window_start::timestamptz))
  AND a.created_at >= (:from_day::date::timestamp AT TIME ZONE :tz::text)
  AND a.created_at < :window_end::timestamptz;
ANALYZE li_new;

SELECT count(*) FILTER (WHERE good) AS rows_read, :day::date - :from_day::date + 1 AS aggregate_days_built
FROM li_new;

-- Bad rows among the attempts of D itself (each bad row is reported once,
-- by the run of its day), by first reason.
SELECT *
FROM batch.bad_reason_counts(ARRAY(
    SELECT bad_reason FROM li_new
    WHERE bad_reason IS NOT NULL AND created_at >= :window_start::timestamptz));

-- step: update-aggregates
-- The range's left-out first attempts.
WITH gone AS (
    DELETE FROM batch.li_excluded t
    WHERE t.day >= :from_day::date AND t.day <= :day::date
      AND NOT EXISTS (SELECT 1 FROM li_new r WHERE r.id = t.attempt_id AND NOT r.good AND r.first)
    RETURNING 1
), put AS (
    INSERT INTO batch.li_excluded AS t (attempt_id, day)
    SELECT id, day FROM li_new WHERE NOT good AND first
    ON CONFLICT (attempt_id) DO UPDATE SET day = EXCLUDED.day
    WHERE t.day IS DISTINCT FROM EXCLUDED.day
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM put) AS aggregate_rows;

-- Per (day, question) of the range; rows of the range not seen again go.
CREATE TEMP TABLE li_qd_new ON COMMIT DROP AS
SELECT day, question_id, count(*)::int AS n, count(*) FILTER (WHERE ok)::int AS c
FROM li_new
WHERE good
GROUP BY day, question_id;

WITH gone AS (
    DELETE FROM batch.li_question_day t
    WHERE t.day >= :from_day::date AND t.day <= :day::date
      AND NOT EXISTS (SELECT 1 FROM li_qd_new x WHERE x.day = t.day AND x.question_id = t.question_id)
    RETURNING 1
), put AS (
    INSERT INTO batch.li_question_day AS t (day, question_id, n, c)
    SELECT day, question_id, n, c FROM li_qd_new
    ON CONFLICT (day, question_id) DO UPDATE SET n = EXCLUDED.n, c = EXCLUDED.c
    WHERE (t.n, t.c) IS DISTINCT FROM (EXCLUDED.n, EXCLUDED.c)
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM put) AS aggregate_rows;

-- Does any opportunity lie in the range already (a rerun, or a backfill
-- before built days)? Usually not: the night's first run for D. Bound as
-- :opp_later, so that the probe below is planned for the case at hand.
SELECT EXISTS (SELECT 1 FROM batch.li_opportunity WHERE day >= :from_day::date)::text AS bind_opp_later;

-- The range's opportunities: each pair with first attempts in the range
-- continues from the count it had before the range (one probe of the
-- pair's at most :max_opportunity rows); pairs already full are skipped.
-- Without opportunities in the range, every row of the pair is before it:
-- the day test folds away and the count is an index-only scan of the
-- primary key (with the test, each row's day is read from the heap: 1.6x
-- slower at S; BENCHMARKS.md).
CREATE TEMP TABLE li_pairs ON COMMIT DROP AS
SELECT p.learner_id, p.subcategory, b.before
FROM (SELECT DISTINCT learner_id, subcategory FROM li_new WHERE good) p
CROSS JOIN LATERAL (
    SELECT count(*)::int AS before
    FROM batch.li_opportunity o
    WHERE o.learner_id = p.learner_id AND o.subcategory = p.subcategory
      AND (NOT :opp_later::boolean OR o.day < :from_day::date)
) b
WHERE b.before < :max_opportunity::int;
ANALYZE li_pairs;

CREATE TEMP TABLE li_opp_new ON COMMIT DROP AS
SELECT learner_id, subcategory, k::int AS k, day, ok
FROM (SELECT n.learner_id, n.subcategory, n.day, n.ok,
             p.before + row_number() OVER (PARTITION BY n.learner_id, n.subcategory COLLATE "C" ORDER BY n.created_at, n.id) AS k
      FROM li_new n
      JOIN li_pairs p ON p.learner_id = n.learner_id AND p.subcategory = n.subcategory
      WHERE n.good) x
WHERE k <= :max_opportunity::int;

-- Did the range's numbering change? Unchanged (a rerun with the same
-- inputs, or a day without new opportunities): nothing is written, and the
-- later days stay built. (count, not EXISTS: EXISTS is planned for an early
-- first match, a seq scan of all opportunities, where the usual answer is
-- "no difference" and the range's rows come through the day index.)
CREATE TEMP TABLE li_opp_changed ON COMMIT DROP AS
SELECT count(*) > 0 AS changed
FROM li_opp_new n
FULL JOIN (SELECT learner_id, subcategory, k, day, ok FROM batch.li_opportunity
           WHERE day >= :from_day::date AND day <= :day::date) o
  ON o.learner_id = n.learner_id AND o.subcategory = n.subcategory AND o.k = n.k
WHERE n.k IS NULL OR o.k IS NULL OR (n.day, n.ok) IS DISTINCT FROM (o.day, o.ok);

-- Changed: the range's rows are replaced, and every later day's rows go with
-- its mark (a later opportunity's k may have shifted).
WITH gone AS (
    DELETE FROM batch.li_opportunity t
    WHERE (SELECT changed FROM li_opp_changed) AND t.day >= :from_day::date
    RETURNING 1
)
SELECT count(*) AS aggregate_rows FROM gone;

WITH put AS (
    INSERT INTO batch.li_opportunity (learner_id, subcategory, k, day, ok)
    SELECT learner_id, subcategory, k, day, ok FROM li_opp_new
    WHERE (SELECT changed FROM li_opp_changed)
    RETURNING 1
), later_curve AS (
    DELETE FROM batch.li_curve_day t
    WHERE (SELECT changed FROM li_opp_changed) AND t.day > :day::date
    RETURNING 1
), later_days AS (
    DELETE FROM batch.li_days t
    WHERE (SELECT changed FROM li_opp_changed) AND t.day > :day::date
    RETURNING 1
)
SELECT (SELECT count(*) FROM put) + (SELECT count(*) FROM later_curve) + (SELECT count(*) FROM later_days) AS aggregate_rows,
       (SELECT count(*) FROM later_days) AS aggregate_days_dropped;

-- The range's (day, S, k) counts.
CREATE TEMP TABLE li_cd_new ON COMMIT DROP AS
SELECT day, subcategory, k, count(*)::int AS n, count(*) FILTER (WHERE ok)::int AS c
FROM li_opp_new
GROUP BY day, subcategory, k;

WITH gone AS (
    DELETE FROM batch.li_curve_day t
    WHERE t.day >= :from_day::date AND t.day <= :day::date
      AND NOT EXISTS (SELECT 1 FROM li_cd_new x WHERE x.day = t.day AND x.subcategory = t.subcategory AND x.k = t.k)
    RETURNING 1
), put AS (
    INSERT INTO batch.li_curve_day AS t (day, subcategory, k, n, c)
    SELECT day, subcategory, k, n, c FROM li_cd_new
    ON CONFLICT (day, subcategory, k) DO UPDATE SET n = EXCLUDED.n, c = EXCLUDED.c
    WHERE (t.n, t.c) IS DISTINCT FROM (EXCLUDED.n, EXCLUDED.c)
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM put) AS aggregate_rows;

-- The range is built; the mapping it was numbered with is recorded.
WITH days AS (
    INSERT INTO batch.li_days (day)
    SELECT g.day::date FROM generate_series(:from_day::date, :day::date, interval '1 day') AS g(day)
    ON CONFLICT (day) DO NOTHING
    RETURNING 1
), map AS (
    INSERT INTO batch.li_question_map (question_id, subcategory)
    SELECT q.question_id, q.subcategory
    FROM li_questions q
    WHERE EXISTS (SELECT 1 FROM li_qd_new x WHERE x.question_id = q.question_id)
    ON CONFLICT (question_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM days) + (SELECT count(*) FROM map) AS aggregate_rows;

-- step: compute-difficulty
-- mu_g = pooled accuracy of the first attempts in W (:global_prior if none);
-- per subcategory with questions: mu_S = (C_S + m * mu_g) / (N_S + m);
-- per question: p_q = (c_q + m * mu_S) / (n_q + m), or mu_S without first
-- attempts in W; difficulty = 1 - p_q; provisional = n_q < :provisional_below.
-- n_q, c_q: sums over W's days of the question's day rows, for the questions
-- whose attempts are good rows now.
CREATE TEMP TABLE li_question_counts ON COMMIT DROP AS
SELECT d.question_id, q.subcategory, sum(d.n)::int AS n, sum(d.c)::int AS c
FROM batch.li_question_day d
JOIN li_questions q ON q.question_id = d.question_id
WHERE d.day >= :day::date - :window_days::int + 1 AND d.day <= :day::date
GROUP BY d.question_id, q.subcategory;

CREATE TEMP TABLE li_sub ON COMMIT DROP AS
WITH g AS (
    SELECT CASE WHEN coalesce(sum(n), 0) = 0 THEN :global_prior::float8
                ELSE sum(c)::float8 / sum(n)::float8 END AS mu_g
    FROM li_question_counts
),
subs AS (
    SELECT DISTINCT subcategory FROM questions WHERE subcategory IS NOT NULL
),
counts AS (
    SELECT subcategory, sum(n)::int AS n, sum(c)::int AS c
    FROM li_question_counts
    GROUP BY subcategory
)
SELECT s.subcategory,
       coalesce(x.n, 0) AS first_attempts,
       coalesce(x.c, 0) AS first_correct,
       CASE WHEN x.n IS NULL AND :prior_weight::int = 0 THEN g.mu_g   -- 0 / 0: no data, no prior weight
            ELSE (coalesce(x.c, 0)::float8 + :prior_weight::float8 * g.mu_g)
                 / (coalesce(x.n, 0)::float8 + :prior_weight::float8) END AS pooled_accuracy
FROM subs s
CROSS JOIN g
LEFT JOIN counts x ON x.subcategory = s.subcategory;

CREATE TEMP TABLE li_question ON COMMIT DROP AS
SELECT q.id AS question_id,
       coalesce(x.n, 0) AS first_attempts,
       coalesce(x.c, 0) AS first_correct,
       p.p AS smoothed_accuracy,
       1 - p.p AS difficulty,
       coalesce(x.n, 0) < :provisional_below::int AS provisional
FROM questions q
JOIN li_sub s ON s.subcategory = q.subcategory
LEFT JOIN li_question_counts x ON x.question_id = q.id
CROSS JOIN LATERAL (
    SELECT CASE WHEN x.n IS NULL THEN s.pooled_accuracy
                ELSE (x.c::float8 + :prior_weight::float8 * s.pooled_accuracy)
                     / (x.n::float8 + :prior_weight::float8) END AS p
) p;

-- step: compute-impact
-- Each learner's first attempts in S up to the cut, numbered k = 1, 2, ...
-- by (created_at, id) (batch.li_opportunity, counted per day in
-- batch.li_curve_day); per k <= :max_opportunity: n_k, c_k and
-- a_k = (c_k + 1) / (n_k + 2); the k with n_k >= :min_per_opportunity are
-- kept. With at least :min_opportunities of them, LI_S = the n_k-weighted
-- least-squares slope of a_k on k (each sum over k ascending), clamped at 0;
-- else NULL with a note saying why.
CREATE TEMP TABLE li_curve ON COMMIT DROP AS
SELECT subcategory, k, sum(n)::int AS n, sum(c)::int AS c,
       (sum(c)::float8 + 1) / (sum(n)::float8 + 2) AS a
FROM batch.li_curve_day
WHERE day <= :day::date
  AND k <= :max_opportunity::int
GROUP BY subcategory, k
HAVING sum(n) >= :min_per_opportunity::int;

CREATE TEMP TABLE li_impact ON COMMIT DROP AS
WITH means AS (
    SELECT subcategory,
           count(*)::int AS kept,
           sum(n::float8 ORDER BY k) AS sw,
           sum(n::float8 * k::float8 ORDER BY k) AS snk,
           sum(n::float8 * a ORDER BY k) AS sna
    FROM li_curve
    GROUP BY subcategory
),
slope AS (
    SELECT m.subcategory,
           sum(v.n::float8 * (v.k::float8 - m.snk / m.sw) * (v.a - m.sna / m.sw) ORDER BY v.k)
             / sum(v.n::float8 * ((v.k::float8 - m.snk / m.sw) * (v.k::float8 - m.snk / m.sw)) ORDER BY v.k) AS li
    FROM means m
    JOIN li_curve v ON v.subcategory = m.subcategory
    WHERE m.kept >= :min_opportunities::int   -- at least 2 (config check): the denominator is > 0
    GROUP BY m.subcategory
)
SELECT s.subcategory,
       CASE WHEN coalesce(m.kept, 0) < :min_opportunities::int THEN NULL
            WHEN x.li > 0 THEN x.li
            ELSE 0::float8 END AS learning_impact,
       CASE WHEN coalesce(m.kept, 0) < :min_opportunities::int
            THEN format('too little data: %s of opportunities 1..%s reached by at least %s learners (%s needed)',
                        coalesce(m.kept, 0), :max_opportunity::int, :min_per_opportunity::int, :min_opportunities::int)
       END AS learning_impact_note
FROM li_sub s
LEFT JOIN means m ON m.subcategory = s.subcategory
LEFT JOIN slope x ON x.subcategory = s.subcategory;

-- step: write-question-stats
INSERT INTO question_stats AS t
       (question_id, as_of, first_attempts, first_correct, smoothed_accuracy, difficulty, provisional)
SELECT question_id, :day::date, first_attempts, first_correct, smoothed_accuracy, difficulty, provisional
FROM li_question
ON CONFLICT (question_id) DO UPDATE
SET as_of             = EXCLUDED.as_of,
    first_attempts    = EXCLUDED.first_attempts,
    first_correct     = EXCLUDED.first_correct,
    smoothed_accuracy = EXCLUDED.smoothed_accuracy,
    difficulty        = EXCLUDED.difficulty,
    provisional       = EXCLUDED.provisional
WHERE (t.as_of, t.first_attempts, t.first_correct, t.smoothed_accuracy, t.difficulty, t.provisional)
      IS DISTINCT FROM
      (EXCLUDED.as_of, EXCLUDED.first_attempts, EXCLUDED.first_correct, EXCLUDED.smoothed_accuracy,
       EXCLUDED.difficulty, EXCLUDED.provisional);

-- Questions gone (or without a subcategory now): their stats go too.
DELETE FROM question_stats t
WHERE NOT EXISTS (SELECT 1 FROM li_question q WHERE q.question_id = t.question_id);

-- D's difficulties, kept per date for session-analytics of D (migration
-- 0014): the job's own data, counted as aggregate_rows like the aggregates.
WITH upserted AS (
    INSERT INTO batch.li_question_difficulty AS t (day, question_id, difficulty)
    SELECT :day::date, question_id, difficulty
    FROM li_question
    ON CONFLICT (day, question_id) DO UPDATE
    SET difficulty = EXCLUDED.difficulty
    WHERE t.difficulty IS DISTINCT FROM EXCLUDED.difficulty
    RETURNING 1
),
gone AS (
    DELETE FROM batch.li_question_difficulty t
    WHERE t.day = :day::date
      AND NOT EXISTS (SELECT 1 FROM li_question q WHERE q.question_id = t.question_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted) + (SELECT count(*) FROM gone) AS aggregate_rows;

-- step: write-subcategory-stats
INSERT INTO subcategory_stats AS t
       (subcategory, as_of, first_attempts, first_correct, pooled_accuracy, learning_impact, learning_impact_note)
SELECT s.subcategory, :day::date, s.first_attempts, s.first_correct, s.pooled_accuracy,
       i.learning_impact, i.learning_impact_note
FROM li_sub s
JOIN li_impact i ON i.subcategory = s.subcategory
ON CONFLICT (subcategory) DO UPDATE
SET as_of                = EXCLUDED.as_of,
    first_attempts       = EXCLUDED.first_attempts,
    first_correct        = EXCLUDED.first_correct,
    pooled_accuracy      = EXCLUDED.pooled_accuracy,
    learning_impact      = EXCLUDED.learning_impact,
    learning_impact_note = EXCLUDED.learning_impact_note
WHERE (t.as_of, t.first_attempts, t.first_correct, t.pooled_accuracy, t.learning_impact, t.learning_impact_note)
      IS DISTINCT FROM
      (EXCLUDED.as_of, EXCLUDED.first_attempts, EXCLUDED.first_correct, EXCLUDED.pooled_accuracy,
       EXCLUDED.learning_impact, EXCLUDED.learning_impact_note);

-- Subcategories without questions any more: their stats go too.
DELETE FROM subcategory_stats t
WHERE NOT EXISTS (SELECT 1 FROM li_sub s WHERE s.subcategory = t.subcategory);
