-- mastery-update: the EWMA mastery of every (learner, subcategory) practised
-- on logical date D (computations.md, "mastery-update").
--
-- Parameters: :day (D), :window_start / :window_end (D's half-open window
-- in the configured zone), :as_of (= :window_end, stamped into updated_at),
-- :alpha, :hint_credit, :initial, :contexts (text[]), :half_life,
-- :floor_ratio.
--
-- The whole file runs in one transaction. Every write changes a row only
-- when a value differs, so a rerun with unchanged inputs writes nothing.

-- step: read-attempts
-- The day's attempts, read once, per (bad reason, learner, subcategory):
-- the good ones in the mastery contexts become mu_day, the bad ones (any
-- context) the report's counts.
-- perf = sum(credit) / attempts (both over the mastery contexts only),
-- credit 1 (correct, no hint), :hint_credit (correct with a hint), 0 (wrong).
CREATE TEMP TABLE mu_read ON COMMIT DROP AS
SELECT bad_reason,
       learner_id,
       subcategory,
       count(*)::int                                           AS all_contexts,
       count(*) FILTER (WHERE context = ANY (:contexts::text[]))::int AS attempts,
       count(*) FILTER (WHERE context = ANY (:contexts::text[]) AND correct)::int AS correct,
       sum(CASE WHEN correct AND NOT hint_used THEN 1::float8
                WHEN correct THEN :hint_credit::float8
                ELSE 0::float8 END) FILTER (WHERE context = ANY (:contexts::text[])) AS credit
FROM batch.checked_attempts
WHERE created_at >= :window_start::timestamptz
  AND created_at <  :window_end::timestamptz
GROUP BY bad_reason, learner_id, subcategory;

CREATE TEMP TABLE mu_day ON COMMIT DROP AS
SELECT learner_id, subcategory, attempts, correct, credit / attempts::float8 AS performance
FROM mu_read
WHERE bad_reason IS NULL AND attempts > 0;

-- Temp tables have no statistics until analyzed (autovacuum never sees
-- them); without them the planner guesses a few rows and may pick nested
-- loops that are quadratic in the day's pairs (BENCHMARKS.md).
ANALYZE mu_day;

-- Rows read, and the day's bad rows by first reason (each bad group's
-- reason once per attempt in it).
SELECT (SELECT sum(attempts) FROM mu_day)::bigint AS rows_read, b.*
FROM batch.bad_reason_counts(ARRAY(
    SELECT r.bad_reason
    FROM mu_read r CROSS JOIN generate_series(1, r.all_contexts)
    WHERE r.bad_reason IS NOT NULL)) b;

-- step: compute-mastery
-- The pairs D touches: practised on D, or holding a history row for D
-- from an earlier run (whose input may have vanished since). For each, D
-- and every later history date are recomputed in date order, so a rerun of
-- an older date ends as if the days had been processed in order once:
--   prev = decay(latest earlier mastery_score, days = D - D' - 1), or :initial
--   new  = alpha * perf + (1 - alpha) * prev
-- decay(m0, days) = f + (m0 - f) * 2^(-min(days / h, 1000)), f = floor_ratio * m0.
CREATE TEMP TABLE mu_pairs ON COMMIT DROP AS
SELECT learner_id, subcategory FROM mu_day
UNION
SELECT learner_id, subcategory FROM mastery_history WHERE recorded_date = :day::date;

ANALYZE mu_pairs;

-- Pairs with a history row of D but no attempts on D any more.
CREATE TEMP TABLE mu_gone ON COMMIT DROP AS
SELECT learner_id, subcategory FROM mu_pairs
EXCEPT
SELECT learner_id, subcategory FROM mu_day;

ANALYZE mu_gone;

CREATE TEMP TABLE mu_chain ON COMMIT DROP AS
WITH RECURSIVE
seq AS (
    SELECT learner_id, subcategory, :day::date AS recorded_date, attempts, correct, performance
    FROM mu_day
    UNION ALL
    SELECT h.learner_id, h.subcategory, h.recorded_date, h.attempts, h.correct, h.performance
    FROM mastery_history h
    JOIN mu_pairs p ON p.learner_id = h.learner_id AND p.subcategory = h.subcategory
    WHERE h.recorded_date > :day::date
),
numbered AS (
    SELECT seq.*, row_number() OVER (PARTITION BY learner_id, subcategory ORDER BY recorded_date) AS n
    FROM seq
),
-- The latest history row before D, per pair. The pair's mastery row is
-- its newest history row (the anchor: update-anchors below keeps it so in
-- every run, in the same transaction), so where the anchor is before D it
-- is that row, read from a table of one row per pair, which update-anchors
-- reads anyway; a probe of the history's primary key, whose pages spread
-- with the history (BENCHMARKS.md, "Night round 6"), is left for the pairs
-- without an anchor before D: new pairs, and reruns (anchor on or after D).
before AS (
    SELECT p.learner_id, p.subcategory,
           CASE WHEN m.last_practiced_on < :day::date THEN m.last_practiced_on ELSE b.recorded_date END AS prev_date,
           CASE WHEN m.last_practiced_on < :day::date THEN m.mastery_score ELSE b.mastery_score END AS prev_score
    FROM mu_pairs p
    LEFT JOIN mastery m ON m.learner_id = p.learner_id AND m.subcategory = p.subcategory
    LEFT JOIN LATERAL (
        SELECT h.recorded_date, h.mastery_score
        FROM mastery_history h
        WHERE (m.last_practiced_on IS NULL OR m.last_practiced_on >= :day::date)
          AND h.learner_id = p.learner_id AND h.subcategory = p.subcategory
          AND h.recorded_date < :day::date
        ORDER BY h.recorded_date DESC
        LIMIT 1
    ) b ON true
),
chain AS (
    SELECT x.learner_id, x.subcategory, x.n, x.recorded_date, x.attempts, x.correct, x.performance,
           :alpha::float8 * x.performance + (1 - :alpha::float8) *
               CASE WHEN b.prev_date IS NULL THEN :initial::float8
                    ELSE :floor_ratio::float8 * b.prev_score
                         + (b.prev_score - :floor_ratio::float8 * b.prev_score)
                           * power(2::float8, -least((x.recorded_date - b.prev_date - 1)::float8 / :half_life::float8, 1000::float8))
               END AS mastery_score
    FROM numbered x
    JOIN before b ON b.learner_id = x.learner_id AND b.subcategory = x.subcategory
    WHERE x.n = 1
    UNION ALL
    SELECT x.learner_id, x.subcategory, x.n, x.recorded_date, x.attempts, x.correct, x.performance,
           :alpha::float8 * x.performance + (1 - :alpha::float8) *
               (:floor_ratio::float8 * c.mastery_score
                + (c.mastery_score - :floor_ratio::float8 * c.mastery_score)
                  * power(2::float8, -least((x.recorded_date - c.recorded_date - 1)::float8 / :half_life::float8, 1000::float8)))
    FROM chain c
    JOIN numbered x ON x.learner_id = c.learner_id AND x.subcategory = c.subcategory AND x.n = c.n + 1
)
SELECT learner_id, subcategory, recorded_date, attempts, correct, performance, mastery_score
FROM chain;

ANALYZE mu_chain;

-- step: write-history
-- Upsert the recomputed history rows; unchanged rows are not touched.
INSERT INTO mastery_history AS h
       (learner_id, subcategory, recorded_date, mastery_score, attempts, correct, performance)
SELECT learner_id, subcategory, recorded_date, mastery_score, attempts, correct, performance
FROM mu_chain
ON CONFLICT (learner_id, subcategory, recorded_date) DO UPDATE
SET mastery_score = EXCLUDED.mastery_score,
    attempts      = EXCLUDED.attempts,
    correct       = EXCLUDED.correct,
    performance   = EXCLUDED.performance
WHERE (h.mastery_score, h.attempts, h.correct, h.performance)
      IS DISTINCT FROM (EXCLUDED.mastery_score, EXCLUDED.attempts, EXCLUDED.correct, EXCLUDED.performance);

-- A history row of D whose attempts are gone (deleted or now bad): D was
-- not a practice day for that pair after all.
-- (Those pairs are mu_gone, taken before the upsert: the planner's
-- statistics do not know the rows of D it just wrote, and an anti-join
-- planned here on that guess is quadratic in the day's pairs.)
DELETE FROM mastery_history h
USING mu_gone g
WHERE h.learner_id = g.learner_id AND h.subcategory = g.subcategory
  AND h.recorded_date = :day::date;

-- step: update-anchors
-- The mastery row of each touched pair follows its newest history row:
-- mastery_score = current_score = that score, last_practiced_on = its date,
-- decayed_at = updated_at = :as_of (the score is current as of end_of(D);
-- mastery-decay moves current_score on from there). Written only when the
-- anchor changes, so a rerun does not undo a later decay.
INSERT INTO mastery AS m
       (learner_id, subcategory, mastery_score, last_practiced_on, current_score, decayed_at, updated_at)
SELECT n.learner_id, n.subcategory, n.mastery_score, n.recorded_date, n.mastery_score,
       :as_of::timestamptz, :as_of::timestamptz
FROM (
    -- A pair in mu_chain has all its rows from D on there (just written),
    -- so its newest is the chain's newest.
    (SELECT DISTINCT ON (c.learner_id, c.subcategory) c.learner_id, c.subcategory, c.recorded_date, c.mastery_score
     FROM mu_chain c
     ORDER BY c.learner_id, c.subcategory, c.recorded_date DESC)
    UNION ALL
    -- The other touched pairs lost their row of D and have none later:
    -- their newest is an earlier row, one backward probe of the primary key.
    -- (EXCEPT, not an anti-join: a set operation is hashed whatever the
    -- temp tables' sampled statistics say; BENCHMARKS.md, evening round.)
    SELECT g.learner_id, g.subcategory, h.recorded_date, h.mastery_score
    FROM (SELECT learner_id, subcategory FROM mu_gone
          EXCEPT
          SELECT learner_id, subcategory FROM mu_chain) g
    CROSS JOIN LATERAL (
        SELECT h.recorded_date, h.mastery_score
        FROM mastery_history h
        WHERE h.learner_id = g.learner_id AND h.subcategory = g.subcategory
        ORDER BY h.recorded_date DESC
        LIMIT 1
    ) h
) n
ON CONFLICT (learner_id, subcategory) DO UPDATE
SET mastery_score     = EXCLUDED.mastery_score,
    last_practiced_on = EXCLUDED.last_practiced_on,
    current_score     = EXCLUDED.current_score,
    decayed_at        = EXCLUDED.decayed_at,
    updated_at        = EXCLUDED.updated_at
WHERE (m.mastery_score, m.last_practiced_on)
      IS DISTINCT FROM (EXCLUDED.mastery_score, EXCLUDED.last_practiced_on);

-- A pair whose only history was D, now gone, has no mastery any more.
-- (Only a pair of mu_gone can have lost its only row: every other pair has
-- its row of D.)
DELETE FROM mastery m
USING mu_gone p
WHERE m.learner_id = p.learner_id AND m.subcategory = p.subcategory
  AND NOT EXISTS (SELECT 1 FROM mastery_history h
                  WHERE h.learner_id = m.learner_id AND h.subcategory = m.subcategory);
