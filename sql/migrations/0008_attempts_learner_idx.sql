-- studybuddy:no-transaction
--
-- usage-stats: "is this learner new (in this subject)?" is answered by
-- probing the active learner's own earlier attempts instead of scanning the
-- whole history (BENCHMARKS.md, "usage-stats"): the attempts of one learner,
-- oldest first. Built CONCURRENTLY on the live table, only if no index of
-- that name exists (a DBA may create it beforehand under this name); a
-- failed concurrent build leaves an INVALID index: drop it and rerun
-- `migrate`.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_learner_created_idx
    ON public.attempts (learner_id, created_at);
