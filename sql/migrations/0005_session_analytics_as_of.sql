-- session_analytics.as_of: the logical date D of the run that computed the
-- row (with the question_stats of D).
--
-- session-analytics covers the sessions that started on D-1 or D, or "have
-- no analytics yet". When an older date is rerun (and then every later
-- processed date, the rerun cascade), a session whose row was computed by a
-- run for a later date had, in a day-by-day history, no analytics yet at D.
-- Treating as_of > D as "no analytics yet" makes a backfill end exactly where
-- processing every day once, in order, ends.
ALTER TABLE public.session_analytics ADD COLUMN as_of date;

COMMENT ON COLUMN public.session_analytics.as_of IS
    'logical date of the session-analytics run that computed this row (its question_stats date)';
