-- One definition of a "bad row" (interface.md, "Bad rows"), shared by every
-- job that reads the app's attempts and sessions. A job reads these views
-- with its own window on created_at / started_at (the planner pushes the
-- predicate down to the app tables' indexes), keeps the rows whose
-- bad_reason IS NULL and counts the others by reason.
--
-- bad_reason is the FIRST reason that applies, in the order of
-- interface.md. 'created_at after the cut' depends on the run's cut, so
-- jobs test it themselves.

CREATE VIEW batch.checked_attempts AS
SELECT a.id, a.learner_id, a.question_id, a.session_id, a.attempt_no, a.context,
       a.correct, a.hint_used, a.time_sec, a.created_at,
       q.subject, q.topic, q.subcategory,
       CASE
           WHEN a.question_id IS NULL OR q.id IS NULL            THEN 'question_missing'
           WHEN a.learner_id IS NULL OR l.id IS NULL             THEN 'learner_missing'
           WHEN a.attempt_no IS NULL OR a.context IS NULL OR a.correct IS NULL
             OR a.time_sec IS NULL OR a.hint_used IS NULL OR a.created_at IS NULL
             OR q.subject IS NULL OR q.topic IS NULL OR q.subcategory IS NULL
                                                                 THEN 'null_value'
           WHEN a.time_sec < 0                                   THEN 'negative_time_sec'
           WHEN a.attempt_no < 1                                 THEN 'attempt_no_below_1'
           WHEN a.context NOT IN ('session', 'practice', 'daily') THEN 'unknown_context'
       END AS bad_reason
FROM public.attempts a
LEFT JOIN public.questions q ON q.id = a.question_id
LEFT JOIN public.learners l ON l.id = a.learner_id;

COMMENT ON VIEW batch.checked_attempts IS
    'attempts with their question''s subject/topic/subcategory and the first reason (if any) the batch excludes them';

CREATE VIEW batch.checked_sessions AS
SELECT s.id, s.learner_id, s.subject, s.started_at, s.ended_at,
       s.duration_sec, s.end_reason,
       CASE
           WHEN s.learner_id IS NULL OR s.started_at IS NULL OR s.subject IS NULL THEN 'null_value'
           WHEN s.ended_at < s.started_at                        THEN 'ended_before_started'
       END AS bad_reason
FROM public.sessions s;

COMMENT ON VIEW batch.checked_sessions IS
    'sessions with the first reason (if any) the batch excludes them';
