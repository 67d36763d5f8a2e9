-- usage-stats: daily_usage for logical date D, one row per subject with
-- attempts on D and one row with subject '*' for all (computations.md,
-- "usage-stats").
--
-- Parameters: :day (D), :window_start / :window_end (D's half-open window
-- in the configured zone; :window_end is the cut end_of(D)).
--
-- Which rows count:
-- - Attempts: the good attempts (batch.checked_attempts) created in D's
--   window. An attempt's subject is its question's subject.
-- - Sessions: the good sessions (batch.checked_sessions) started in D's
--   window that have at least one of those attempts (by session_id).
--   Sessions without attempts count nowhere (cleanup may delete them). An
--   attempt after the cut is not seen, so a session started late on D whose
--   first attempt falls on D+1 counts on neither day.
-- - A session counts under its own sessions.subject (the spec's
--   sessions_started), whatever the subjects of its attempts, and always
--   under '*'. Rows exist only for subjects with attempts on D, so a
--   session whose sessions.subject has no attempts on D counts only in '*'
--   (there '*' can exceed the sum over the subjects).
--
-- Per subject S (and '*' = all subjects):
--   active_learners     distinct learners with attempts on D in S
--   new_learners        of those, learners without a good attempt in S
--                       before D (for '*': without any good attempt before D)
--   sessions_started    counted sessions with sessions.subject = S
--   attempts, correct   correct counts hinted or not
--   correct_ratio       correct / attempts (double precision)
--   practice_seconds    sum(time_sec)
--   avg_session_minutes over the counted sessions with ended_at < end_of(D):
--                       sum(seconds(ended_at - started_at)) / (60 * n), the
--                       sum taken exactly, one double division; NULL if n = 0
--
-- The '*' row is written for every processed day, also one without any
-- attempt (all counts 0, correct_ratio and avg_session_minutes NULL), so
-- that a quiet day reads as zero usage rather than as a missing day.
--
-- The day's rows are replaced as a whole: a subject without attempts on D
-- loses its row; unchanged rows are not rewritten. (A question subject
-- spelled '*' would collide with the overall row: not supported.)
--
-- Who is new (migrations 0011 and 0017; README, "Incremental
-- aggregates"): asked of the attempts, "did this learner have a good
-- attempt in S before D?" reads the learner's earlier attempts, which grow
-- with the history. batch.us_first_seen keeps, per (learner, subject or
-- '*'), the created_at of one good attempt that showed it, a witness. Each
-- run checks the day's pairs' witnesses with one probe each of
-- attempts_learner_good_idx (batch.us_good_attempt_keys): a good attempt of
-- that learner and subject at that instant, before D. A witness that holds
-- is proof, so the pair is not new. Only the other pairs read the history,
-- through the same index: the learners new on D, and pairs whose witness
-- was deleted, corrected or is later than D (a rerun of an older date). A
-- witness that does not hold only sends the pair to that probe, so the
-- counts are exactly those of a from-scratch computation after late
-- inserts, deletions, corrections and reruns alike, with nothing to
-- rebuild. A witness that holds is not rewritten, and one that is replaced
-- gets the earliest good attempt before D (or the pair's first of D): a
-- rerun, of dates in any order, writes nothing. Neither probe reads the
-- attempts heap where its visibility map is set (0017).

-- step: read-activity
-- The day's attempts, read once.
CREATE TEMP TABLE us_attempts ON COMMIT DROP AS
SELECT learner_id, session_id, subject, correct, time_sec, created_at, bad_reason
FROM batch.checked_attempts
WHERE created_at >= :window_start::timestamptz
  AND created_at <  :window_end::timestamptz;

-- The bad ones leave the table, counted by first reason (from this one
-- read of the day).
WITH bad AS (
    DELETE FROM us_attempts WHERE bad_reason IS NOT NULL RETURNING bad_reason
)
SELECT * FROM batch.bad_reason_counts(ARRAY(SELECT bad_reason FROM bad));
ANALYZE us_attempts;

CREATE TEMP TABLE us_sessions ON COMMIT DROP AS
SELECT s.id, s.subject, s.started_at, s.ended_at
FROM batch.checked_sessions s
WHERE s.started_at >= :window_start::timestamptz
  AND s.started_at <  :window_end::timestamptz
  AND s.bad_reason IS NULL
  AND EXISTS (SELECT 1 FROM us_attempts a WHERE a.session_id = s.id);

-- Rows read (the day's good attempts and sessions started on D) and the
-- bad sessions started on D, by first reason.
SELECT (SELECT count(*) FROM us_attempts)
       + count(*) FILTER (WHERE bad_reason IS NULL)                AS rows_read,
       count(*) FILTER (WHERE bad_reason = 'null_value')           AS bad_null_value,
       count(*) FILTER (WHERE bad_reason = 'ended_before_started') AS bad_ended_before_started
FROM batch.checked_sessions
WHERE started_at >= :window_start::timestamptz
  AND started_at <  :window_end::timestamptz;

-- step: first-seen
-- The day's (learner, subject) pairs and (learner, '*'); the learners come
-- from the day's distinct pairs, not from a second pass over its attempts.
-- In learner order, so that the probes below walk the index (and the
-- witnesses' primary key) in key order.
CREATE TEMP TABLE us_pairs ON COMMIT DROP AS
WITH day_pairs AS (
    SELECT DISTINCT learner_id, subject FROM us_attempts
)
SELECT learner_id, subject
FROM (SELECT learner_id, subject
      FROM day_pairs
      WHERE subject <> '*'            -- a subject spelled '*' is not supported (see above)
      UNION ALL
      SELECT DISTINCT learner_id, '*'
      FROM day_pairs) p
ORDER BY learner_id, subject;
ANALYZE us_pairs;

-- Pairs whose kept witness holds: a good attempt of that learner (and
-- subject) at the witness's instant, created before D. One probe of the
-- index per pair (LATERAL with LIMIT: per pair by key whatever the table
-- sizes, never a join of all witnesses with all attempts). The learner
-- exists: the pairs come from the day's good attempts, in this snapshot.
CREATE TEMP TABLE us_verified ON COMMIT DROP AS
SELECT p.learner_id, p.subject
FROM us_pairs p
JOIN batch.us_first_seen w ON w.learner_id = p.learner_id AND w.subject = p.subject
CROSS JOIN LATERAL (
    SELECT 1
    FROM batch.us_good_attempt_keys g
    WHERE g.learner_id = p.learner_id
      AND g.created_at = w.created_at
      AND g.created_at < :window_start::timestamptz
      AND (p.subject = '*' OR g.subject = p.subject)
    LIMIT 1
) v;
ANALYZE us_verified;

-- The other pairs: new on D, or their witness no longer holds. Taken with
-- EXCEPT (a hashed set operation whatever the estimates; as an anti-join
-- planned on a temp table's sampled statistics it once became a nested
-- loop over both tables, 6 s at M; BENCHMARKS.md). Counted as
-- first_seen_probed.
CREATE TEMP TABLE us_unverified ON COMMIT DROP AS
SELECT learner_id, subject FROM us_pairs
EXCEPT
SELECT learner_id, subject FROM us_verified;
ANALYZE us_unverified;

-- Who is not new: the verified pairs, and those of the others whose probe
-- of the learner's earlier good attempts (the same index, oldest first, up
-- to the first in the subject) finds one, with its instant (NULL for the
-- pairs whose witness held).
CREATE TEMP TABLE us_known ON COMMIT DROP AS
SELECT learner_id, subject, NULL::timestamptz AS created_at
FROM us_verified
UNION ALL
SELECT k.learner_id, k.subject, x.created_at
FROM us_unverified k
CROSS JOIN LATERAL (
    SELECT g.created_at
    FROM batch.us_good_attempt_keys g
    WHERE g.learner_id = k.learner_id
      AND g.created_at < :window_start::timestamptz
      AND (k.subject = '*' OR g.subject = k.subject)
    ORDER BY g.created_at
    LIMIT 1
) x;
ANALYZE us_known;

-- The pairs new on D: neither verified nor found (EXCEPT, as above),
-- unless their witness is still a good attempt of that learner and
-- subject (created after D: a rerun of an older date; kept, so reruns of
-- dates in any order write nothing).
CREATE TEMP TABLE us_new ON COMMIT DROP AS
SELECT n.learner_id, n.subject
FROM (SELECT learner_id, subject FROM us_unverified
      EXCEPT
      SELECT learner_id, subject FROM us_known) n
WHERE NOT EXISTS (SELECT 1
                  FROM batch.us_first_seen w
                  CROSS JOIN LATERAL (SELECT 1
                                      FROM batch.us_good_attempt_keys g
                                      WHERE g.learner_id = n.learner_id
                                        AND g.created_at = w.created_at
                                        AND (n.subject = '*' OR g.subject = n.subject)
                                      LIMIT 1) g
                  WHERE w.learner_id = n.learner_id AND w.subject = n.subject);
ANALYZE us_new;

-- New witnesses for the pairs whose witness did not hold: a pair the
-- probe found gets the instant found (its earliest good attempt before D:
-- after a rerun of an older date, earlier than the witness it replaces); a
-- pair new on D gets its first attempt of D. Counted as
-- first_seen_written (a cache, not output: not rows_written), with the
-- pairs that read the history as first_seen_probed.
WITH fresh AS (
    SELECT learner_id, subject, created_at
    FROM us_known
    WHERE created_at IS NOT NULL          -- found by the probe (a verified pair has none)
    UNION ALL
    SELECT n.learner_id, n.subject, min(a.created_at)
    FROM us_new n
    JOIN us_attempts a ON a.learner_id = n.learner_id AND (n.subject = '*' OR a.subject = n.subject)
    GROUP BY n.learner_id, n.subject
), put AS (
    INSERT INTO batch.us_first_seen AS w (learner_id, subject, created_at)
    SELECT learner_id, subject, created_at FROM fresh
    ON CONFLICT (learner_id, subject) DO UPDATE
    SET created_at = EXCLUDED.created_at
    WHERE w.created_at IS DISTINCT FROM EXCLUDED.created_at
    RETURNING 1
)
SELECT (SELECT count(*) FROM put) AS first_seen_written,
       (SELECT count(*) FROM us_unverified) AS first_seen_probed;

-- step: compute-usage
CREATE TEMP TABLE us_rows ON COMMIT DROP AS
-- The day's attempts are read once here, per subject; '*' is the sum of
-- the subjects' rows (exact: integer sums). (A subject spelled '*', not
-- supported, adds to the '*' row twice, as a grouping of the attempts under
-- their subject and under '*' would.)
WITH att_subject AS (
    SELECT subject,
           count(*)::int                            AS attempts,
           count(*) FILTER (WHERE correct)::int     AS correct,
           sum(time_sec)::bigint                    AS practice_seconds
    FROM us_attempts
    GROUP BY subject
),
att AS (
    SELECT subject, attempts, correct, practice_seconds FROM att_subject WHERE subject <> '*'
    UNION ALL
    SELECT '*',
           (sum(attempts) + coalesce(sum(attempts) FILTER (WHERE subject = '*'), 0))::int,
           (sum(correct) + coalesce(sum(correct) FILTER (WHERE subject = '*'), 0))::int,
           (sum(practice_seconds) + coalesce(sum(practice_seconds) FILTER (WHERE subject = '*'), 0))::bigint
    FROM att_subject
    HAVING count(*) > 0
),
-- Active and new learners from the day's pairs (distinct already): new in
-- S without a known (learner, S); new overall without any known pair.
learners AS (
    SELECT p.subject,
           count(*)::int AS active_learners,
           count(*) FILTER (WHERE CASE WHEN p.subject = '*' THEN kl.learner_id IS NULL
                                       ELSE k.learner_id IS NULL END)::int AS new_learners
    FROM us_pairs p
    LEFT JOIN us_known k ON k.learner_id = p.learner_id AND k.subject = p.subject
    LEFT JOIN (SELECT DISTINCT learner_id FROM us_known) kl ON p.subject = '*' AND kl.learner_id = p.learner_id
    GROUP BY p.subject
),
ses AS (
    SELECT subject,
           count(*)::int                                                    AS sessions_started,
           count(*) FILTER (WHERE ended_at < :window_end::timestamptz)      AS ended,
           sum(extract(epoch FROM ended_at - started_at))
               FILTER (WHERE ended_at < :window_end::timestamptz)           AS ended_seconds
    FROM (SELECT subject, started_at, ended_at FROM us_sessions
          UNION ALL
          SELECT '*', started_at, ended_at FROM us_sessions) x
    GROUP BY subject
)
SELECT k.subject,
       coalesce(n.active_learners, 0)                 AS active_learners,
       coalesce(n.new_learners, 0)                    AS new_learners,
       coalesce(s.sessions_started, 0)                AS sessions_started,
       coalesce(att.attempts, 0)                      AS attempts,
       coalesce(att.correct, 0)                       AS correct,
       CASE WHEN att.attempts > 0
            THEN att.correct::float8 / att.attempts::float8
       END                                            AS correct_ratio,
       coalesce(att.practice_seconds, 0)              AS practice_seconds,
       CASE WHEN s.ended > 0
            THEN s.ended_seconds::float8 / (60 * s.ended)::float8
       END                                            AS avg_session_minutes
FROM (SELECT '*' AS subject UNION SELECT subject FROM att_subject) k
LEFT JOIN att ON att.subject = k.subject
LEFT JOIN learners n ON n.subject = k.subject
LEFT JOIN ses s ON s.subject = k.subject;

-- step: write-usage
-- A subject of an earlier run without attempts on D any more loses its row.
DELETE FROM daily_usage u
WHERE u.day = :day::date
  AND NOT EXISTS (SELECT 1 FROM us_rows r WHERE r.subject = u.subject);

INSERT INTO daily_usage AS u
       (day, subject, active_learners, new_learners, sessions_started, attempts, correct,
        correct_ratio, practice_seconds, avg_session_minutes)
SELECT :day::date, subject, active_learners, new_learners, sessions_started, attempts, correct,
       correct_ratio, practice_seconds, avg_session_minutes
FROM us_rows
ON CONFLICT (day, subject) DO UPDATE
SET active_learners     = EXCLUDED.active_learners,
    new_learners        = EXCLUDED.new_learners,
    sessions_started    = EXCLUDED.sessions_started,
    attempts            = EXCLUDED.attempts,
    correct             = EXCLUDED.correct,
    correct_ratio       = EXCLUDED.correct_ratio,
    practice_seconds    = EXCLUDED.practice_seconds,
    avg_session_minutes = EXCLUDED.avg_session_minutes
WHERE (u.active_learners, u.new_learners, u.sessions_started, u.attempts, u.correct,
       u.correct_ratio, u.practice_seconds, u.avg_session_minutes)
      IS DISTINCT FROM
      (EXCLUDED.active_learners, EXCLUDED.new_learners, EXCLUDED.sessions_started, EXCLUDED.attempts,
       EXCLUDED.correct, EXCLUDED.correct_ratio, EXCLUDED.practice_seconds, EXCLUDED.avg_session_minutes);
