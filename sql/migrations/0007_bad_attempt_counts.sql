-- The bad attempts of a window, counted by first reason: the one query every
-- job that reads a day of attempts reports from (mastery-update,
-- learning-impact, usage-stats). Column names are the run report's
-- `bad_<reason>` counters.
CREATE FUNCTION batch.bad_attempt_counts(window_start timestamptz, window_end timestamptz)
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
    SELECT count(*) FILTER (WHERE bad_reason = 'question_missing'),
           count(*) FILTER (WHERE bad_reason = 'learner_missing'),
           count(*) FILTER (WHERE bad_reason = 'null_value'),
           count(*) FILTER (WHERE bad_reason = 'negative_time_sec'),
           count(*) FILTER (WHERE bad_reason = 'attempt_no_below_1'),
           count(*) FILTER (WHERE bad_reason = 'unknown_context')
    FROM batch.checked_attempts
    WHERE created_at >= window_start AND created_at < window_end AND bad_reason IS NOT NULL
$$;

COMMENT ON FUNCTION batch.bad_attempt_counts(timestamptz, timestamptz) IS
    'bad attempts created in [window_start, window_end), by first reason (see batch.checked_attempts)';
