-- Bad rows: "a NULL where the table above has none" (interface.md) covers
-- every column interface.md lists without NULL, not only the ones a job
-- reads. 0004 tested the columns the jobs use; an attempt with a NULL
-- user_answer, or a session with a NULL topic, units, created_at or
-- updated_at, counted as a good row. Now they are 'null_value' rows.
-- The columns and their order are those of 0004 (CREATE OR REPLACE VIEW
-- keeps them); only the reason changes. Questions are tested on the fields
-- the jobs need (subject, topic, subcategory), as before; learners are not
-- input rows (a NULL daily_goal means the default goal).

CREATE OR REPLACE VIEW batch.checked_attempts AS
SELECT a.id, a.learner_id, a.question_id, a.session_id, a.attempt_no, a.context,
       a.correct, a.hint_used, a.time_sec, a.created_at,
       q.subject, q.topic, q.subcategory,
       CASE
           WHEN a.question_id IS NULL OR q.id IS NULL            THEN 'question_missing'
           WHEN a.learner_id IS NULL OR l.id IS NULL             THEN 'learner_missing'
           WHEN a.attempt_no IS NULL OR a.context IS NULL OR a.correct IS NULL
             OR a.time_sec IS NULL OR a.hint_used IS NULL OR a.created_at IS NULL
             OR a.user_answer IS NULL
             OR q.subject IS NULL OR q.topic IS NULL OR q.subcategory IS NULL
                                                                 THEN 'null_value'
           WHEN a.time_sec < 0                                   THEN 'negative_time_sec'
           WHEN a.attempt_no < 1                                 THEN 'attempt_no_below_1'
           WHEN a.context NOT IN ('session', 'practice', 'daily') THEN 'unknown_context'
       END AS bad_reason
FROM public.attempts a
LEFT JOIN public.questions q ON q.id = a.question_id
LEFT JOIN public.learners l ON l.id = a.learner_id;

CREATE OR REPLACE VIEW batch.checked_sessions AS
SELECT s.id, s.learner_id, s.subject, s.started_at, s.ended_at,
       s.duration_sec, s.end_reason,
       CASE
           WHEN s.learner_id IS NULL OR s.started_at IS NULL OR s.subject IS NULL
             OR s.topic IS NULL OR s.units IS NULL OR s.created_at IS NULL OR s.updated_at IS NULL
                                                                 THEN 'null_value'
           WHEN s.ended_at < s.started_at                        THEN 'ended_before_started'
       END AS bad_reason
FROM public.sessions s;

-- learning-impact's kept aggregates counted first attempts with a NULL
-- user_answer as good; if there are any, they are rebuilt from all history
-- on the next run (README, "Incremental aggregates"). One read of the
-- attempts, at migration time only.
DELETE FROM batch.li_state
WHERE EXISTS (SELECT 1 FROM public.attempts WHERE user_answer IS NULL AND attempt_no = 1);
