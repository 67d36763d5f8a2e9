import BatchEngine

/// The from-scratch learning-impact of commit 340e6a1 (every first attempt
/// in history read and numbered each run), kept verbatim as the reference
/// the incremental job must equal: run as its own job on a copy of the data.
enum LearningImpactReference {
    static let name = "learning-impact-reference"

    static let definition: JobDefinition = {
        let sql = JobSQL(path: "learning-impact-340e6a1.sql", text: text)
        return JobDefinition(name: name, summary: "learning-impact from scratch (reference)", kind: .nightly,
                             schedule: "test", steps: sql.stepNames) { context in
            let c = context.config
            try await context.runSteps(sql, parameters: [
                "window_days": c.difficulty.windowDays, "prior_weight": c.difficulty.priorWeight,
                "global_prior": c.difficulty.globalPrior, "provisional_below": c.difficulty.provisionalBelow,
                "max_opportunity": c.impact.maxOpportunity, "min_per_opportunity": c.impact.minPerOpportunity,
                "min_opportunities": c.impact.minOpportunities,
            ])
        }
    }()

    static let registry = JobRegistry([definition])

    static let text = """
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

-- step: read-attempts
-- Every good first attempt up to the cut (the learning curves need all
-- history; difficulty uses the ones in W).
CREATE TEMP TABLE li_first ON COMMIT DROP AS
SELECT id, learner_id, question_id, subcategory, created_at,
       (correct AND NOT hint_used) AS ok,
       created_at >= ((:day::date - :window_days::int + 1)::timestamp AT TIME ZONE :tz::text) AS in_window
FROM batch.checked_attempts
WHERE bad_reason IS NULL
  AND attempt_no = 1
  AND created_at < :window_end::timestamptz;

SELECT count(*) AS rows_read FROM li_first;

-- Bad rows among the attempts of D itself (each bad row is reported once,
-- by the run of its day), by first reason.
SELECT * FROM batch.bad_attempt_counts(:window_start::timestamptz, :window_end::timestamptz);

-- step: compute-difficulty
-- mu_g = pooled accuracy of the first attempts in W (:global_prior if none);
-- per subcategory with questions: mu_S = (C_S + m * mu_g) / (N_S + m);
-- per question: p_q = (c_q + m * mu_S) / (n_q + m), or mu_S without first
-- attempts in W; difficulty = 1 - p_q; provisional = n_q < :provisional_below.
CREATE TEMP TABLE li_question_counts ON COMMIT DROP AS
SELECT question_id, count(*)::int AS n, count(*) FILTER (WHERE ok)::int AS c
FROM li_first
WHERE in_window
GROUP BY question_id;

CREATE TEMP TABLE li_sub ON COMMIT DROP AS
WITH g AS (
    SELECT CASE WHEN count(*) = 0 THEN :global_prior::float8
                ELSE count(*) FILTER (WHERE ok)::float8 / count(*)::float8 END AS mu_g
    FROM li_first
    WHERE in_window
),
subs AS (
    SELECT DISTINCT subcategory FROM questions WHERE subcategory IS NOT NULL
),
counts AS (
    SELECT subcategory, count(*)::int AS n, count(*) FILTER (WHERE ok)::int AS c
    FROM li_first
    WHERE in_window
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
-- by (created_at, id); per k <= :max_opportunity: n_k, c_k and
-- a_k = (c_k + 1) / (n_k + 2); the k with n_k >= :min_per_opportunity are
-- kept. With at least :min_opportunities of them, LI_S = the n_k-weighted
-- least-squares slope of a_k on k (each sum over k ascending), clamped at 0;
-- else NULL with a note saying why.
CREATE TEMP TABLE li_curve ON COMMIT DROP AS
WITH numbered AS (
    SELECT subcategory, ok,
           row_number() OVER (PARTITION BY learner_id, subcategory ORDER BY created_at, id) AS k
    FROM li_first
)
SELECT subcategory, k::int AS k, count(*)::int AS n, count(*) FILTER (WHERE ok)::int AS c,
       (count(*) FILTER (WHERE ok)::float8 + 1) / (count(*)::float8 + 2) AS a
FROM numbered
WHERE k <= :max_opportunity::int
GROUP BY subcategory, k
HAVING count(*) >= :min_per_opportunity::int;

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
"""
}
