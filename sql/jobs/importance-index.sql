-- importance-index: the importance of every active (learner, subcategory)
-- as of end_of(D), and the plan for D+1 (computations.md,
-- "importance-index"). Runs after mastery-update and learning-impact.
--
-- Parameters: :day (D), :today (wall-clock today in the zone: a plan for
-- today or earlier that exists is kept, interface.md), :target, :w_gap,
-- :w_due, :w_impact, :active_days, :top, :default_daily_goal, :half_life,
-- :floor_ratio.
--
-- The whole file runs in one transaction. Every write changes a row only
-- when a value differs, so a rerun with unchanged inputs writes nothing.

-- step: compute-importance
-- Eligible: the latest mastery_history row with recorded_date = D' <= D has
-- D - D' < :active_days (so a row in (D - active_days, D] exists). With
-- days = D - D' and p = 2^(-days / h):
--   m_eff = f + (m0 - f) * p, f = floor_ratio * m0
--   gap   = clamp((target - m_eff) / target, 0, 1);  due = 1 - p
--   li_norm = LI_S / max(LI over all S), 0 when LI_S is NULL or the max is 0
--   importance = w_gap * gap + w_due * due + w_impact * li_norm
-- Ranked per learner by w = floor(importance * 1e12 + 0.5) descending,
-- ties by S ascending (COLLATE "C").
--
-- The latest history row comes from the pair's mastery row where it can:
-- the mastery row is the pair's newest history row (mastery-update's
-- anchor, kept so in the same transaction as the history; README,
-- "mastery and mastery_history go together"), so for a pair whose anchor
-- is on or before D it is that row: one scan of a table of one row per
-- pair instead of a sort of the last :active_days days of history for
-- DISTINCT ON (at M 0.20 s against 0.60-0.66 s; BENCHMARKS.md, "Night
-- round 8"). A pair whose anchor is after D (a rerun of an older date)
-- probes its history backwards. Whether any history lies after D is one
-- probe of mastery_history_date_idx, an InitPlan in the same statement (so
-- the same snapshot as the anchors: a mastery-update for a later date that
-- commits meanwhile cannot move anchors past D unseen); on the usual night
-- (none) it is false and the second branch never runs.
CREATE TEMP TABLE ii_score ON COMMIT DROP AS
WITH latest AS (
    SELECT m.learner_id, m.subcategory, m.last_practiced_on AS recorded_date, m.mastery_score
    FROM mastery m
    WHERE m.last_practiced_on <= :day::date
      AND m.last_practiced_on >  :day::date - :active_days::int
    UNION ALL
    SELECT m.learner_id, m.subcategory, h.recorded_date, h.mastery_score
    FROM mastery m
    CROSS JOIN LATERAL (
        SELECT h.recorded_date, h.mastery_score
        FROM mastery_history h
        WHERE h.learner_id = m.learner_id AND h.subcategory = m.subcategory
          AND h.recorded_date <= :day::date
        ORDER BY h.recorded_date DESC
        LIMIT 1
    ) h
    WHERE (SELECT coalesce(max(recorded_date) > :day::date, false) FROM mastery_history)
      AND m.last_practiced_on > :day::date
      AND h.recorded_date > :day::date - :active_days::int
),
max_li AS (
    SELECT max(learning_impact) AS max_li FROM subcategory_stats
),
decayed AS (
    SELECT l.learner_id, l.subcategory,
           :floor_ratio::float8 * l.mastery_score
             + (l.mastery_score - :floor_ratio::float8 * l.mastery_score) * x.p AS m_eff,
           x.p,
           CASE WHEN s.learning_impact IS NULL OR m.max_li IS NULL OR m.max_li = 0 THEN 0::float8
                ELSE s.learning_impact / m.max_li END AS li_norm
    FROM latest l
    CROSS JOIN max_li m
    LEFT JOIN subcategory_stats s ON s.subcategory = l.subcategory
    CROSS JOIN LATERAL (
        SELECT power(2::float8, -least((:day::date - l.recorded_date)::float8 / :half_life::float8, 1000::float8)) AS p
    ) x
),
parts AS (
    SELECT learner_id, subcategory, li_norm,
           greatest(0::float8, least(1::float8, (:target::float8 - m_eff) / :target::float8)) AS gap,
           1 - p AS due
    FROM decayed
),
scored AS (
    SELECT learner_id, subcategory, gap, due, li_norm,
           :w_gap::float8 * gap + :w_due::float8 * due + :w_impact::float8 * li_norm AS importance
    FROM parts
)
SELECT learner_id, subcategory, gap, due, li_norm, importance, w,
       row_number() OVER (PARTITION BY learner_id ORDER BY w DESC, subcategory COLLATE "C")::int AS rank
FROM scored
CROSS JOIN LATERAL (SELECT floor(importance * 1e12::float8 + 0.5::float8)::bigint AS w) x;

SELECT count(*) AS rows_read FROM ii_score;

-- step: compute-plan
-- The plan for D+1: the quota Q (learners.daily_goal, else
-- :default_daily_goal; a negative goal counts as 0) split over the top
-- :top by the largest remainder method, in exact integers: W = sum w (if
-- W = 0 every w = 1), q_i = floor(Q * w_i / W), r_i = Q * w_i - q_i * W;
-- the Q - sum q_i leftover units go one each by r_i descending, ties by
-- rank. Subcategories with 0 units are left out.
-- The products Q * w_i and q_i * W are bigint where that is safe, else
-- numeric: the same exact integers either way (both divisions truncate),
-- and the statement takes 113 ms instead of 164 at S (BENCHMARKS.md, night round 2).
-- Safe: max(Q, 1) * sum |w_i| < 4e18 (judged in float8, far from the
-- 9.2e18 limit). Then |W|, |Q * w_i|, |q_i| and |q_i * W| (<= |Q * w_i|)
-- and |r_i| (< |W|) all stay below 4e18. w can be negative or huge (li_norm
-- is a ratio of slopes: a negative LI over a tiny positive maximum), so the
-- bound is on the absolute values, and W stays numeric until it is known
-- to fit. The per-learner values and q_i are MATERIALIZED CTEs: inlined,
-- their CASEs were evaluated once per reference (165 ms instead of 113).
CREATE TEMP TABLE ii_plan ON COMMIT DROP AS
WITH top AS (
    SELECT learner_id, subcategory, rank, importance, w
    FROM ii_score
    WHERE rank <= :top::int
),
totals AS (
    SELECT t.learner_id, sum(t.w) AS sum_w, sum(abs(t.w)) AS sum_abs, count(*) AS n,
           greatest(coalesce(min(l.daily_goal), :default_daily_goal::int), 0)::bigint AS quota
    FROM top t
    LEFT JOIN learners l ON l.id = t.learner_id
    GROUP BY t.learner_id
),
learner_split AS MATERIALIZED (
    SELECT learner_id, quota, all_zero, small, wt, CASE WHEN small THEN wt::bigint END AS wt_small
    FROM (SELECT learner_id, quota, sum_w = 0 AS all_zero,
                 CASE WHEN sum_w = 0 THEN n::numeric ELSE sum_w END AS wt,
                 greatest(quota, 1)::float8 * sum_abs::float8 < 4e18::float8 AS small
          FROM totals) x
),
quotients AS MATERIALIZED (
    SELECT t.learner_id, t.subcategory, t.rank, t.importance, x.quota, x.small, x.wt, x.wt_small, w.wi,
           CASE WHEN x.small THEN x.quota * w.wi / x.wt_small
                ELSE div(x.quota::numeric * w.wi, x.wt)::bigint END AS q
    FROM top t
    JOIN learner_split x ON x.learner_id = t.learner_id
    CROSS JOIN LATERAL (SELECT CASE WHEN x.all_zero THEN 1::bigint ELSE t.w END AS wi) w
),
shares AS (
    -- r_i in bigint, or in numeric (|r_i| < |W| may not fit a bigint);
    -- one of the two is NULL for all of a learner's rows
    SELECT learner_id, subcategory, rank, importance, quota, q,
           CASE WHEN small THEN quota * wi - q * wt_small END AS r_small,
           CASE WHEN NOT small THEN quota::numeric * wi - q::numeric * wt END AS r_big
    FROM quotients
),
remainders AS (
    SELECT learner_id, subcategory, rank, importance, q,
           quota - sum(q) OVER (PARTITION BY learner_id) AS leftover,
           row_number() OVER (PARTITION BY learner_id ORDER BY r_small DESC, r_big DESC, rank) AS by_remainder
    FROM shares
)
SELECT learner_id, subcategory, rank, importance,
       (q + CASE WHEN by_remainder <= leftover THEN 1 ELSE 0 END)::int AS questions
FROM remainders
WHERE q + CASE WHEN by_remainder <= leftover THEN 1 ELSE 0 END > 0;

-- Temp tables have no statistics until analyzed: unanalyzed, ii_plan and
-- ii_kept were guessed small, and a rerun of a date whose plans exist
-- planned the anti-join against them as a nested loop (BENCHMARKS.md,
-- night round: 11 s at S, quadratic in the learners).
ANALYZE ii_plan;

-- Learners whose plan for D+1 is kept: D+1 is today or earlier and a plan
-- exists (a child is using it or has used it).
CREATE TEMP TABLE ii_kept ON COMMIT DROP AS
SELECT DISTINCT learner_id
FROM plan_units
WHERE plan_date = :day::date + 1
  AND :day::date + 1 <= :today::date;

ANALYZE ii_kept;

SELECT count(*)::int AS plans_kept FROM ii_kept;

-- The existing plan rows for D+1 that may be replaced (D+1 after today; in
-- production D+1 is today, so this is empty and a plan once written stays),
-- with their ctid. The writes below join only these analyzed temp tables,
-- and reach plan_units by ctid: right after a run wrote D+1's plans, the
-- statistics of plan_units still say D+1 has no rows, and every join
-- against "plan_units WHERE plan_date = D+1" was planned as a nested loop
-- over all of them (14 s at S, quadratic; BENCHMARKS.md, night round 2).
-- Only this job writes plan rows for a date after today, under its lock.
CREATE TEMP TABLE ii_old ON COMMIT DROP AS
SELECT ctid AS tid, learner_id, subcategory, questions, rank, importance
FROM plan_units
WHERE plan_date = :day::date + 1
  AND :day::date + 1 > :today::date;

ANALYZE ii_old;

-- step: write-index
-- importance_index holds the newest computation: only a run for a D at or
-- after the newest stored as_of (or into an empty table) writes it, and
-- then pairs no longer eligible go. An older D rewrites only its plan.
CREATE TEMP TABLE ii_newest ON COMMIT DROP AS
SELECT max(as_of) IS NULL OR :day::date >= max(as_of) AS newest,
       coalesce(max(as_of) = :day::date, false) AS rerun
FROM importance_index;

-- One MERGE rather than INSERT ... ON CONFLICT DO UPDATE: every row's
-- as_of moves each night, so every stored pair is updated, and the upsert
-- first locks each conflicting row (a second write per row) before
-- updating it; MERGE joins the two tables once (a hash join) and updates.
-- write-index 1,518-1,861 ms against 2,224-3,018 ms for the 698,620 rows
-- of M (BENCHMARKS.md, "Night round 8"). Its rows written are MERGE's
-- command tag count (rows updated or inserted; an unchanged row matches
-- no action and is not counted). MERGE raises a unique violation where
-- a concurrent transaction inserts the same pair; only this job writes the
-- table, under its lock. ii_score is analyzed first: a temp table has no
-- statistics, and the join is planned from them.
ANALYZE ii_score;

MERGE INTO importance_index t
USING (SELECT learner_id, subcategory, importance, gap, due, li_norm, rank
       FROM ii_score
       WHERE (SELECT newest FROM ii_newest)) s
   ON t.learner_id = s.learner_id AND t.subcategory = s.subcategory
WHEN MATCHED AND (t.as_of, t.importance, t.gap, t.due, t.li_norm, t.rank)
                 IS DISTINCT FROM
                 (:day::date, s.importance, s.gap, s.due, s.li_norm, s.rank) THEN
    UPDATE SET as_of      = :day::date,
               importance = s.importance,
               gap        = s.gap,
               due        = s.due,
               li_norm    = s.li_norm,
               rank       = s.rank
WHEN NOT MATCHED THEN
    INSERT (learner_id, subcategory, as_of, importance, gap, due, li_norm, rank)
    VALUES (s.learner_id, s.subcategory, :day::date, s.importance, s.gap, s.due, s.li_norm, s.rank);

-- Pairs no longer eligible. After the MERGE every eligible pair has
-- as_of = D (a row with an older as_of differed in as_of, so it was
-- rewritten): a row with an older as_of is one no longer eligible, found by
-- a scan instead of an anti-join of the whole table against ii_score (about
-- a tenth of the job at S). A row already at D that is no longer eligible
-- can exist only on a rerun of the newest D (its input changed since):
-- only then is the anti-join run.
DELETE FROM importance_index t
WHERE (SELECT newest FROM ii_newest)
  AND t.as_of < :day::date;

DELETE FROM importance_index t
WHERE (SELECT newest AND rerun FROM ii_newest)
  AND NOT EXISTS (SELECT 1 FROM ii_score s
                  WHERE s.learner_id = t.learner_id AND s.subcategory = t.subcategory);

-- step: write-plan
-- The plan for (L, D+1) is replaced as a whole, unless kept: rows no longer
-- in it go (all of them for a learner without eligible pairs), changed rows
-- are updated, new ones inserted. Three statements rather than one INSERT
-- ... ON CONFLICT: on the night's first run every row is new, and a plain
-- insert takes 70% of the upsert's time (BENCHMARKS.md, night round 2).
DELETE FROM plan_units p
USING (SELECT o.tid FROM ii_old o
       WHERE NOT EXISTS (SELECT 1 FROM ii_plan n
                         WHERE n.learner_id = o.learner_id AND n.subcategory = o.subcategory)) g
WHERE p.ctid = g.tid;

UPDATE plan_units p
SET questions  = n.questions,
    rank       = n.rank,
    importance = n.importance
FROM ii_old o
JOIN ii_plan n ON n.learner_id = o.learner_id AND n.subcategory = o.subcategory
WHERE p.ctid = o.tid
  AND (o.questions, o.rank, o.importance)
      IS DISTINCT FROM (n.questions, n.rank, n.importance);

INSERT INTO plan_units (learner_id, plan_date, subcategory, questions, rank, importance)
SELECT n.learner_id, :day::date + 1, n.subcategory, n.questions, n.rank, n.importance
FROM ii_plan n
WHERE NOT EXISTS (SELECT 1 FROM ii_kept k WHERE k.learner_id = n.learner_id)
  AND NOT EXISTS (SELECT 1 FROM ii_old o
                  WHERE o.learner_id = n.learner_id AND o.subcategory = n.subcategory);
