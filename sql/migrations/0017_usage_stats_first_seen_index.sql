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
-- buffers) 183k and 217k random page reads in a profiled rerun (night
-- round 3), and 11-14 s of usage-stats' 15.6 s in a nightly run (night
-- round 5).
--
-- This index holds, per learner and in time order, the attempts whose own
-- columns are good, with their question. That is everything the test asks
-- of an attempt: a subject (from the small questions table) and whether the
-- row counts. Where the visibility map is set it answers without reading
-- the heap. Its predicate is batch.checked_attempts' tests of the attempt's
-- own columns (0013), minus the NOT NULLs the queries' equalities and
-- ranges imply; batch.us_good_attempt_keys adds the question's. A test
-- (UsageStatsFirstSeenTests.goodAttemptKeys) checks the view against
-- checked_attempts and that the planner serves it from this index alone;
-- a change to checked_attempts' tests must change both.
--
-- Built CONCURRENTLY (no write lock), only if no index of that name exists
-- (a DBA may create it beforehand under this name). A failed concurrent
-- build leaves an INVALID index, which IF NOT EXISTS would then skip: drop
-- it and rerun `migrate`.
--
-- attempts is the app's largest table. Its cost to the app: no more index
-- entries than before, since 0008's index goes (at the end of this file);
-- each entry is 16 bytes wider (the question), and a row that is bad in
-- its own columns gets none.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_learner_good_idx
    ON public.attempts (learner_id, created_at) INCLUDE (question_id)
    WHERE attempt_no >= 1 AND context IN ('session', 'practice', 'daily') AND correct IS NOT NULL
      AND time_sec >= 0 AND hint_used IS NOT NULL AND user_answer IS NOT NULL;

-- IF NOT EXISTS also skips an INVALID index left by a failed build, or one
-- a DBA made under this name with another definition: refuse both, before
-- anything else changes.
DO $$
DECLARE
    ok boolean;
BEGIN
    SELECT i.indisvalid AND i.indisready
           AND pg_get_indexdef(i.indexrelid) = 'CREATE INDEX attempts_learner_good_idx ON public.attempts USING btree (learner_id, created_at) INCLUDE (question_id) WHERE ((attempt_no >= 1) AND (context = ANY (ARRAY[''session''::text, ''practice''::text, ''daily''::text])) AND (correct IS NOT NULL) AND (time_sec >= 0) AND (hint_used IS NOT NULL) AND (user_answer IS NOT NULL))'
      INTO ok
    FROM pg_index i
    WHERE i.indexrelid = 'public.attempts_learner_good_idx'::regclass;
    IF NOT ok THEN
        RAISE EXCEPTION 'index public.attempts_learner_good_idx is invalid or not the one migration 0017 builds: %',
                        pg_get_indexdef('public.attempts_learner_good_idx'::regclass)
            USING HINT = 'DROP INDEX CONCURRENTLY public.attempts_learner_good_idx; then rerun migrate';
    END IF;
END
$$;

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

COMMENT ON VIEW batch.us_good_attempt_keys IS
    'usage-stats: good attempts (learner, created_at, subject) as attempts_learner_good_idx serves them; must follow batch.checked_attempts (migration 0017)';

-- The batch role of sql/roles.sql, where it exists, may read it (roles.sql
-- grants on the relations that exist when it runs; rerunning it does this
-- too).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'studybuddy_batch') THEN
        GRANT SELECT ON batch.us_good_attempt_keys TO studybuddy_batch;
    END IF;
END
$$;

-- A witness is now the instant of a good attempt of its learner in its
-- subject, which the index finds by (learner_id, created_at); the attempt's
-- id, which only a heap read could return, is no longer kept.
ALTER TABLE batch.us_first_seen DROP COLUMN IF EXISTS attempt_id;

COMMENT ON TABLE batch.us_first_seen IS
    'usage-stats: per (learner, subject or *), the created_at of a good attempt that shows the learner practised it, checked through attempts_learner_good_idx each run';
COMMENT ON COLUMN batch.us_first_seen.created_at IS
    'the instant of a good attempt of the learner in the subject (any subject for *): the witness';

-- Last: 0008's index, which only usage-stats read (0008 let a DBA create
-- it beforehand under that name; one who did so for the app should make
-- it again under another name). Until here an older binary, which the
-- schema check does not yet refuse, still finds it.
DROP INDEX CONCURRENTLY IF EXISTS public.attempts_learner_created_idx;
