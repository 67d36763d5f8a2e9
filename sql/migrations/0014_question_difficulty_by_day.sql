-- The difficulty learning-impact computed for each question and logical
-- date D. question_stats holds only the newest computation, but
-- session-analytics of D bands attempts "with the question_stats of D"
-- (computations.md): in the nightly pipeline learning-impact has just
-- written D's, but a rerun of session-analytics alone for an older D (and
-- its cascade over the later dates) would band them with the newest. It
-- reads D's difficulties here; a D learning-impact never ran for (older than
-- this table) falls back to question_stats, as before.
-- About one row per question and day (1,080 a day in the demo data).
CREATE TABLE batch.li_question_difficulty (
    day          date             NOT NULL,
    question_id  uuid             NOT NULL,
    difficulty   double precision NOT NULL,
    PRIMARY KEY (day, question_id)
);

COMMENT ON TABLE batch.li_question_difficulty IS
    'learning-impact: each question''s difficulty as of each logical date (session-analytics of that date reads it)';

-- The batch role of sql/roles.sql, where it exists, may write it (roles.sql
-- grants on the tables that exist when it runs; rerunning it does this too).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'studybuddy_batch') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON batch.li_question_difficulty TO studybuddy_batch;
    END IF;
END
$$;
