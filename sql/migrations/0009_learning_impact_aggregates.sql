-- learning-impact's incremental aggregates (BENCHMARKS.md, "learning-impact";
-- the rules: sql/jobs/learning-impact.sql's header and README,
-- "Incremental aggregates").
--
-- The difficulty window (90 days) and the learning curves (all history) are
-- integer sums over these tables, so the job's doubles are the ones a
-- from-scratch computation gets (they start from the same integers). A run
-- for D rebuilds D from D's attempts and fills any earlier day never built;
-- only learning-impact writes here, under its job lock.

-- What the aggregates were built with. A different zone (day keys) or
-- max_opportunity (how many opportunities are kept) means a full rebuild.
-- No row: never built, or an operator asked for a rebuild
-- (`DELETE FROM batch.li_state`).
CREATE TABLE batch.li_state (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    timezone         text    NOT NULL,
    max_opportunity  integer NOT NULL
);

-- The local days (in li_state.timezone) whose rows below are built and
-- consistent with every earlier day.
CREATE TABLE batch.li_days (
    day date PRIMARY KEY
);

-- Good first attempts per local day and question: n, and c (correct without
-- a hint). Joined to the current questions when summed, so a question that
-- moved or vanished counts where it is now (or nowhere).
CREATE TABLE batch.li_question_day (
    day          date    NOT NULL,
    question_id  uuid    NOT NULL,
    n            integer NOT NULL,
    c            integer NOT NULL,
    PRIMARY KEY (day, question_id)
);

-- Each (learner, subcategory)'s first max_opportunity good first attempts,
-- numbered k = 1, 2, ... by (created_at, id), with the local day each fell
-- on and whether it was correct without a hint.
CREATE TABLE batch.li_opportunity (
    learner_id   uuid    NOT NULL,
    subcategory  text    NOT NULL,
    k            integer NOT NULL,
    day          date    NOT NULL,
    ok           boolean NOT NULL,
    PRIMARY KEY (learner_id, subcategory, k)
);
CREATE INDEX li_opportunity_day_idx ON batch.li_opportunity (day);

-- li_opportunity counted per day, subcategory and k: n_k and c_k of the
-- learning curve as of D are the sums over the days <= D (at most
-- subcategories x max_opportunity rows a day).
CREATE TABLE batch.li_curve_day (
    day          date    NOT NULL,
    subcategory  text    NOT NULL,
    k            integer NOT NULL,
    n            integer NOT NULL,
    c            integer NOT NULL,
    PRIMARY KEY (day, subcategory, k)
);

-- The question -> subcategory mapping li_opportunity was numbered with (the
-- questions with first attempts in the built days). A question that moves,
-- vanishes or becomes a bad row's question changes the numbering: the next
-- run rebuilds everything.
CREATE TABLE batch.li_question_map (
    question_id  uuid PRIMARY KEY,
    subcategory  text NOT NULL
);

-- First attempts of the built days left out as bad rows, with their day.
-- Each run looks them up again by key (a handful, normally): one that is a
-- good row now (its question or learner was created later, or its question
-- got its subject, topic or subcategory) makes that run rebuild from its day.
CREATE TABLE batch.li_excluded (
    attempt_id  uuid PRIMARY KEY,
    day         date NOT NULL
);
CREATE INDEX li_excluded_day_idx ON batch.li_excluded (day);

COMMENT ON TABLE batch.li_days IS 'learning-impact: local days whose incremental aggregates are built';
COMMENT ON TABLE batch.li_question_day IS 'learning-impact: good first attempts per day and question (n, c unhinted)';
COMMENT ON TABLE batch.li_opportunity IS 'learning-impact: each learner''s first max_opportunity first attempts per subcategory';
COMMENT ON TABLE batch.li_curve_day IS 'learning-impact: li_opportunity counted per day, subcategory and k';

-- The aggregates of every day up to `upto` against a from-scratch
-- recomputation from the attempts, for the zone and max_opportunity given
-- (the config's, not what li_state says): one row per difference (none when
-- they agree), one per day from the first attempt's day to `upto` that is
-- not built, and one if li_state disagrees with the arguments. For the
-- tests and for a DBA:
--     SELECT * FROM batch.li_aggregate_drift(DATE '2026-11-30', 'UTC', 10);
-- After a difference (late or deleted attempts of days already built), a
-- rerun of the earliest affected date (it cascades), or
-- `DELETE FROM batch.li_state` (the next run rebuilds everything), repairs it.
CREATE FUNCTION batch.li_aggregate_drift(upto date, tz text, max_opportunity integer)
RETURNS TABLE (aggregate text, day date, side text, row_text text)
LANGUAGE sql STABLE
AS $$
    WITH st AS (
        SELECT tz, max_opportunity AS maxk
    ),
    first_attempts AS (
        SELECT a.id, a.learner_id, a.question_id, a.subcategory, a.created_at,
               (a.correct AND NOT a.hint_used) AS ok,
               (a.created_at AT TIME ZONE st.tz)::date AS day
        FROM batch.checked_attempts a, st
        WHERE a.bad_reason IS NULL AND a.attempt_no = 1 AND isfinite(a.created_at)
          AND a.created_at < ((upto + 1)::timestamp AT TIME ZONE st.tz)
    ),
    exp_q AS (
        SELECT day, question_id, count(*)::int AS n, count(*) FILTER (WHERE ok)::int AS c
        FROM first_attempts GROUP BY day, question_id
    ),
    exp_o AS (
        SELECT learner_id, subcategory, k::int AS k, day, ok
        FROM (SELECT f.*, row_number() OVER (PARTITION BY learner_id, subcategory ORDER BY created_at, id) AS k
              FROM first_attempts f) x, st
        WHERE k <= st.maxk
    ),
    exp_c AS (
        SELECT day, subcategory, k, count(*)::int AS n, count(*) FILTER (WHERE ok)::int AS c
        FROM exp_o GROUP BY day, subcategory, k
    ),
    got_q AS (SELECT day, question_id, n, c FROM batch.li_question_day WHERE day <= upto),
    got_o AS (SELECT learner_id, subcategory, k, day, ok FROM batch.li_opportunity WHERE day <= upto),
    got_c AS (SELECT day, subcategory, k, n, c FROM batch.li_curve_day WHERE day <= upto),
    diffs AS (
        SELECT 'li_question_day' AS aggregate, day, 'missing' AS side, x::text AS row_text
        FROM (SELECT * FROM exp_q EXCEPT ALL SELECT * FROM got_q) x
        UNION ALL
        SELECT 'li_question_day', day, 'extra', x::text FROM (SELECT * FROM got_q EXCEPT ALL SELECT * FROM exp_q) x
        UNION ALL
        SELECT 'li_opportunity', day, 'missing', x::text FROM (SELECT * FROM exp_o EXCEPT ALL SELECT * FROM got_o) x
        UNION ALL
        SELECT 'li_opportunity', day, 'extra', x::text FROM (SELECT * FROM got_o EXCEPT ALL SELECT * FROM exp_o) x
        UNION ALL
        SELECT 'li_curve_day', day, 'missing', x::text FROM (SELECT * FROM exp_c EXCEPT ALL SELECT * FROM got_c) x
        UNION ALL
        SELECT 'li_curve_day', day, 'extra', x::text FROM (SELECT * FROM got_c EXCEPT ALL SELECT * FROM exp_c) x
        UNION ALL
        SELECT 'li_days', g.day::date, 'missing', 'day not built'
        FROM st, generate_series((SELECT (min(created_at) AT TIME ZONE st.tz)::date FROM public.attempts
                                  WHERE isfinite(created_at)),
                                 upto, interval '1 day') AS g(day)
        WHERE NOT EXISTS (SELECT 1 FROM batch.li_days d WHERE d.day = g.day::date)
        UNION ALL
        SELECT 'li_state', NULL, 'missing', format('not built for zone %s, max_opportunity %s', st.tz, st.maxk)
        FROM st
        WHERE NOT EXISTS (SELECT 1 FROM batch.li_state s WHERE s.timezone = st.tz AND s.max_opportunity = st.maxk)
    )
    SELECT aggregate, day, side, row_text FROM diffs
    ORDER BY aggregate, day, side, row_text COLLATE "C"
$$;

COMMENT ON FUNCTION batch.li_aggregate_drift(date, text, integer) IS
    'learning-impact aggregates up to a date versus a from-scratch recomputation: one row per difference';
