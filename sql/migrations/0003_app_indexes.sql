-- studybuddy:no-transaction
--
-- Indexes the jobs need on the app's tables. The tables are live, so each is
-- built CONCURRENTLY (no write lock) and only if no index of that name
-- exists; a DBA may create them beforehand under these names. A failed
-- concurrent build leaves an INVALID index: drop it and rerun `migrate`.
--
-- mastery-update, learning-impact, usage-stats: the attempts of one logical
-- day, read by a range on created_at.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_created_at_idx
    ON public.attempts (created_at);
-- session-analytics and session-close: the attempts of one session.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_session_created_idx
    ON public.attempts (session_id, created_at);
-- session-close: open sessions only.
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_open_idx
    ON public.sessions (started_at) WHERE ended_at IS NULL;
-- session-analytics, usage-stats: sessions started or ended in a window.
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_started_at_idx
    ON public.sessions (started_at);
