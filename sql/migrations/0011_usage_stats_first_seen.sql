-- usage-stats' kept first-seen witnesses (BENCHMARKS.md, "usage-stats";
-- the rules: sql/jobs/usage-stats.sql's header and README, "Incremental
-- aggregates").
--
-- new_learners asks, for each learner active on D and each subject of their
-- attempts on D (and '*'), "was there a good attempt before D?". Asked of
-- the attempts, the answer reads the learner's earlier attempts, which grow
-- with the history. This table keeps, per (learner, subject), one good
-- attempt that answers it: the job checks the witness by primary key (it
-- must still exist, be a good row of that learner and subject, and have
-- been created before D) and reads the history only for pairs without a
-- witness that holds. A witness that holds is proof; one that does not
-- only sends its pair to the history probe: attempts deleted, moved or
-- inserted late with an old created_at give the same counts as a
-- from-scratch computation. Rows of deleted learners stay (never checked
-- again); TRUNCATE is always safe (the next run probes every pair). Only
-- usage-stats writes here, under its job lock.
CREATE TABLE batch.us_first_seen (
    learner_id  uuid        NOT NULL,
    subject     text        NOT NULL,   -- a question subject, or '*' for any
    attempt_id  uuid        NOT NULL,
    created_at  timestamptz NOT NULL,   -- the witness's created_at when recorded (informative; checks read the attempt)
    PRIMARY KEY (learner_id, subject)
);

COMMENT ON TABLE batch.us_first_seen IS
    'usage-stats: per (learner, subject or *), a good attempt that shows the learner practised it, checked by key each run';
