-- Tables the jobs write (interface.md, "Tables the jobs write").
-- Scores are double precision, stored unrounded (computations.md).

-- Current mastery per learner and subcategory: the anchor written by
-- mastery-update and the decayed view written by mastery-decay.
CREATE TABLE public.mastery (
    learner_id         uuid             NOT NULL,
    subcategory        text             NOT NULL,
    mastery_score      double precision NOT NULL,  -- EWMA as of last_practiced_on
    last_practiced_on  date             NOT NULL,
    current_score      double precision NOT NULL,  -- decay(mastery_score, elapsed) as of decayed_at
    decayed_at         timestamptz,
    updated_at         timestamptz      NOT NULL,  -- as-of instant of the run that last changed the row
    PRIMARY KEY (learner_id, subcategory)
);

-- One row per practised (learner, subcategory, logical date).
CREATE TABLE public.mastery_history (
    learner_id     uuid             NOT NULL,
    subcategory    text             NOT NULL,
    recorded_date  date             NOT NULL,
    mastery_score  double precision NOT NULL,
    attempts       integer          NOT NULL,
    correct        integer          NOT NULL,  -- correct answers, hinted or not
    performance    double precision NOT NULL,  -- sum(credit) / attempts
    PRIMARY KEY (learner_id, subcategory, recorded_date)
);
-- mastery-update: the rows of one date and the pairs with later dates (rerun
-- of an older date); importance-index: the latest row per pair up to D.
CREATE INDEX mastery_history_date_idx ON public.mastery_history (recorded_date);

CREATE TABLE public.question_stats (
    question_id        uuid PRIMARY KEY,
    as_of              date             NOT NULL,
    first_attempts     integer          NOT NULL,
    first_correct      integer          NOT NULL,  -- correct without a hint
    smoothed_accuracy  double precision NOT NULL,
    difficulty         double precision NOT NULL,
    provisional        boolean          NOT NULL
);

CREATE TABLE public.subcategory_stats (
    subcategory           text PRIMARY KEY,
    as_of                 date             NOT NULL,
    first_attempts        integer          NOT NULL,
    first_correct         integer          NOT NULL,
    pooled_accuracy       double precision NOT NULL,
    learning_impact       double precision,         -- NULL: too little data (see learning_impact_note)
    learning_impact_note  text
);

CREATE TABLE public.importance_index (
    learner_id   uuid             NOT NULL,
    subcategory  text             NOT NULL,
    as_of        date             NOT NULL,
    importance   double precision NOT NULL,
    gap          double precision NOT NULL,
    due          double precision NOT NULL,
    li_norm      double precision NOT NULL,
    rank         integer          NOT NULL,
    PRIMARY KEY (learner_id, subcategory)
);

CREATE TABLE public.plan_units (
    learner_id   uuid             NOT NULL,
    plan_date    date             NOT NULL,
    subcategory  text             NOT NULL,
    questions    integer          NOT NULL,
    rank         integer          NOT NULL,
    importance   double precision NOT NULL,
    PRIMARY KEY (learner_id, plan_date, subcategory)
);
-- cleanup: plans older than the retention.
CREATE INDEX plan_units_date_idx ON public.plan_units (plan_date);

-- Analytics of a session; no foreign key to the app's table (the app owns
-- it): cleanup deletes the analytics of the sessions it deletes.
CREATE TABLE public.session_analytics (
    session_id                uuid PRIMARY KEY,
    questions_attempted       integer          NOT NULL,
    questions_correct         integer          NOT NULL,
    accuracy                  integer,
    total_time_ms             bigint           NOT NULL,
    avg_time_per_question_ms  bigint,
    subjects_practiced        text[]           NOT NULL,
    topics_covered            integer          NOT NULL,
    difficulty_distribution   jsonb            NOT NULL,
    concept_switches          integer          NOT NULL,
    active_seconds            bigint           NOT NULL,
    attention_span_minutes    double precision,
    optimal_difficulty_range  text,
    learning_velocity         double precision,
    computed_at               timestamptz      NOT NULL
);

CREATE TABLE public.daily_usage (
    day                  date    NOT NULL,
    subject              text    NOT NULL,   -- a subject, or '*' for all
    active_learners      integer NOT NULL,
    new_learners         integer NOT NULL,
    sessions_started     integer NOT NULL,
    attempts             integer NOT NULL,
    correct              integer NOT NULL,
    correct_ratio        double precision,
    practice_seconds     bigint  NOT NULL,
    avg_session_minutes  double precision,
    PRIMARY KEY (day, subject)
);
