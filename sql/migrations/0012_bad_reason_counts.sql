-- The run report's bad_<reason> counters from a list of first reasons: the
-- one column list every job that counts bad attempts returns, whatever it
-- read them from. A job that reads the day once (mastery-update,
-- learning-impact, usage-stats since the evening round of BENCHMARKS.md)
-- passes the reasons of its own read; batch.bad_attempt_counts reads the
-- window itself and counts through this function.
CREATE FUNCTION batch.bad_reason_counts(reasons text[])
RETURNS TABLE (
    bad_question_missing   bigint,
    bad_learner_missing    bigint,
    bad_null_value         bigint,
    bad_negative_time_sec  bigint,
    bad_attempt_no_below_1 bigint,
    bad_unknown_context    bigint
)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT count(*) FILTER (WHERE r = 'question_missing'),
           count(*) FILTER (WHERE r = 'learner_missing'),
           count(*) FILTER (WHERE r = 'null_value'),
           count(*) FILTER (WHERE r = 'negative_time_sec'),
           count(*) FILTER (WHERE r = 'attempt_no_below_1'),
           count(*) FILTER (WHERE r = 'unknown_context')
    FROM unnest(reasons) AS r
$$;

COMMENT ON FUNCTION batch.bad_reason_counts(text[]) IS
    'bad_<reason> counters of a list of first reasons (see batch.checked_attempts)';

CREATE OR REPLACE FUNCTION batch.bad_attempt_counts(window_start timestamptz, window_end timestamptz)
RETURNS TABLE (
    bad_question_missing   bigint,
    bad_learner_missing    bigint,
    bad_null_value         bigint,
    bad_negative_time_sec  bigint,
    bad_attempt_no_below_1 bigint,
    bad_unknown_context    bigint
)
LANGUAGE sql STABLE
AS $$
    SELECT *
    FROM batch.bad_reason_counts(ARRAY(
        SELECT bad_reason
        FROM batch.checked_attempts
        WHERE created_at >= window_start AND created_at < window_end AND bad_reason IS NOT NULL))
$$;
