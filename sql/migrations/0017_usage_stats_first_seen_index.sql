-- studybuddy:no-transaction
--
-- usage-stats' new-learner test reads an index, not the attempts heap
-- (BENCHMARKS.md, "Night round 6"; sql/jobs/usage-stats.sql, step
-- first-seen).
--
-- Before this, each active (learner, subject) pair's witness was checked by
-- the attempt's primary key, and the pairs without one probed the learner's
-- earlier attempts through attempts(learner_id, created_at) (0008). Both
-- read a heap page per attempt: at L (11 GB of attempts, 1 GB of shared
-- buffers) 183k and 217k random page reads a night, 11-14 s of usage-stats'
-- 15.6 s.
--
-- This index holds, per learner and in time order, the attempts whose own
-- columns are good, with their question. That is everything the test asks
-- of an attempt: a subject (from the small questions table) and whether the
-- row counts. Where the visibility map is set it answers without reading
-- the heap. Its predicate is batch.checked_attempts' tests of the attempt's
-- own columns (0013), minus the NOT NULLs the queries' equalities and
-- ranges imply; batch.us_good_attempt_keys adds the question's. A test
-- (MigrationTests) checks the view against checked_attempts.
--
-- Built CONCURRENTLY (no write lock), only if no index of that name exists
-- (a DBA may create it beforehand under this name). A failed concurrent
-- build leaves an INVALID index, which IF NOT EXISTS would then skip: drop
-- it and rerun `migrate`.
--
-- attempts is the app's largest table. Its cost to the app: none in index
-- entries, since 0008's index, which only usage-stats read, goes; each
-- entry is 16 bytes wider (the question), and a row that is bad in its own
-- columns gets no entry.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_learner_good_idx
    ON public.attempts (learner_id, created_at) INCLUDE (question_id)
    WHERE attempt_no >= 1 AND context IN ('session', 'practice', 'daily') AND correct IS NOT NULL
      AND time_sec >= 0 AND hint_used IS NOT NULL AND user_answer IS NOT NULL;

DROP INDEX CONCURRENTLY IF EXISTS public.attempts_learner_created_idx;

-- A learner's good attempts with their subject, as the index can serve
-- them: the same rows as batch.checked_attempts WHERE bad_reason IS NULL,
-- except that the learner's existence is not tested (the callers take
-- learners from the day's good attempts, in one snapshot) and created_at
-- may be NULL (the callers compare it). The planner uses the partial index
-- because these tests are written out as the index's predicate; a test
-- through bad_reason (a CASE) could not be matched to it.
CREATE OR REPLACE VIEW batch.us_good_attempt_keys AS
SELECT a.learner_id, a.created_at, q.subject
FROM public.attempts a
JOIN public.questions q ON q.id = a.question_id
WHERE a.attempt_no >= 1 AND a.context IN ('session', 'practice', 'daily') AND a.correct IS NOT NULL
  AND a.time_sec >= 0 AND a.hint_used IS NOT NULL AND a.user_answer IS NOT NULL
  AND q.subject IS NOT NULL AND q.topic IS NOT NULL AND q.subcategory IS NOT NULL;

-- A witness is now the instant of a good attempt of its learner in its
-- subject, which the index finds by (learner_id, created_at); the attempt's
-- id, which only a heap read could return, is no longer kept.
ALTER TABLE batch.us_first_seen DROP COLUMN IF EXISTS attempt_id;

COMMENT ON TABLE batch.us_first_seen IS
    'usage-stats: per (learner, subject or *), the created_at of a good attempt that shows the learner practised it, checked through attempts_learner_good_idx each run';
