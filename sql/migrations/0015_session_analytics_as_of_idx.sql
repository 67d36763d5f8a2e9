-- session-analytics' "no analytics yet" (as of D) has two parts: sessions
-- without a session_analytics row (a merge of the two primary keys), and
-- rows a run for a later date computed (as_of > D, or as_of NULL from
-- before migration 0005). This index finds the second part without reading
-- the table: on a nightly run it is empty. (sql/jobs/session-analytics.sql,
-- step read-sessions; BENCHMARKS.md, "Night round 4".)
-- session_analytics is written only by the batch; the build's SHARE lock
-- holds back only the batch's own writes, and the app's reads go on.
CREATE INDEX IF NOT EXISTS session_analytics_as_of_idx ON public.session_analytics (as_of);
