-- mastery-decay: current_score of every mastery row, decayed from its anchor
-- (mastery_score as of the end of last_practiced_on) to the slot instant T
-- (computations.md, "mastery-decay").
--
-- Parameters: :at (T), :tz, :half_life, :floor_ratio.
--
--   days          = max(0, seconds(T - end_of(last_practiced_on)) / 86400)
--   end_of(d)     = (d + 1) 00:00 in :tz
--   current_score = f + (m0 - f) * 2^(-min(days / h, 1000)),  f = floor_ratio * m0
--
-- days is elapsed real time: the 25-hour day of a DST change counts 25/24.
-- The seconds are taken exactly (extract(epoch) is numeric; microsecond
-- instants fit a double exactly) and divided in double precision, so the
-- value is the correctly rounded seconds / 86400.
--
-- A pure function of the anchor and T: running twice, or skipping a slot,
-- gives the same values. Only rows whose current_score changes are written
-- (decayed_at = T); the others keep their decayed_at. updated_at is left
-- alone: it is the as-of instant of the anchor (mastery-update), which the
-- decay does not change.
--
-- mastery is read by the app all day, so the UPDATE runs in batches of
-- :batch_learners learners (keyed by learner_id, after :after_learner), each
-- batch its own short transaction (Sources/LearningJobs/MasteryDecay.swift
-- repeats the statement until last_learner is NULL). Each batch is a pure
-- function of the anchors and T, so an interrupted run loses nothing and a
-- rerun finishes the job.

-- step: decay
WITH learners AS (
    SELECT DISTINCT learner_id
    FROM mastery
    WHERE :after_learner::uuid IS NULL OR learner_id > :after_learner::uuid
    ORDER BY learner_id
    LIMIT :batch_learners::int
),
decayed AS (
    SELECT m.learner_id, m.subcategory, m.current_score AS old_score,
           :floor_ratio::float8 * m.mastery_score
           + (m.mastery_score - :floor_ratio::float8 * m.mastery_score)
             * power(2::float8, -least(e.days / :half_life::float8, 1000::float8)) AS new_score
    FROM mastery m
    JOIN learners l ON l.learner_id = m.learner_id
    CROSS JOIN LATERAL (
        SELECT greatest(0::float8,
                        extract(epoch FROM :at::timestamptz
                                           - ((m.last_practiced_on + 1)::timestamp AT TIME ZONE :tz::text))::float8
                        / 86400::float8) AS days
    ) e
),
changed AS (
    UPDATE mastery m
    SET current_score = d.new_score,
        decayed_at    = :at::timestamptz
    FROM decayed d
    WHERE m.learner_id = d.learner_id AND m.subcategory = d.subcategory
      AND m.current_score IS DISTINCT FROM d.new_score
    RETURNING 1
)
SELECT (SELECT count(*) FROM decayed) AS rows_read,
       (SELECT count(*) FROM changed) AS rows_written,
       (SELECT learner_id FROM learners ORDER BY learner_id DESC LIMIT 1) AS last_learner;
