-- studybuddy:no-transaction
--
-- session-analytics' "no analytics yet" (as of D): the sessions that ended
-- before the cut without a session_analytics row as of D or earlier (a row
-- of a later date, or without as_of from before migration 0005, counts as
-- none). The spec's rule tests every ended session, every night. With these
-- two covering indexes the planner can do that test as one merge of two
-- index scans in key order, each carrying the column it filters on, which
-- reads neither table's heap where the visibility map is set
-- (sql/jobs/session-analytics.sql, step read-sessions; BENCHMARKS.md,
-- "Night round 4").
--
-- Both are built CONCURRENTLY (no write lock) and only if no index of that
-- name exists (a DBA may create them beforehand under these names). A
-- failed concurrent build leaves an INVALID index, which IF NOT EXISTS
-- would then skip: drop it and rerun `migrate`.
--
-- sessions is the app's table and live. Its cost to the app: one more
-- index entry per inserted or updated session (an update of ended_at is
-- not HOT already: sessions_open_idx's predicate reads ended_at).
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_id_ended_idx
    ON public.sessions (id) INCLUDE (ended_at);
-- session_analytics is written only by the batch. Each night's update of
-- D-1's rows moves their as_of, so each also writes an entry here, and is
-- no longer HOT-eligible (it rarely was: the pages are full), so it adds a
-- primary-key entry too.
CREATE INDEX CONCURRENTLY IF NOT EXISTS session_analytics_id_as_of_idx
    ON public.session_analytics (session_id) INCLUDE (as_of);
-- The merge reads session_analytics' heap wherever its visibility map is
-- not set: on pages written since the last vacuum. Each night adds and
-- changes about two days of its rows, about 1% of a year's table, but
-- spread over a third of its pages (they go where earlier vacuums left
-- room), so the default thresholds (20% of the table) would leave the map
-- mostly unset; at 1% autovacuum comes about once a night, between two
-- nights. (Measured at 300 days: 0.19-0.25 s with the map set, 0.41-0.47 s
-- right after a night's writes.)
ALTER TABLE public.session_analytics SET (autovacuum_vacuum_scale_factor = 0.01,
                                          autovacuum_vacuum_insert_scale_factor = 0.01);
