-- The app's reference tables (interface.md, "App tables the jobs read").
--
-- The app owns these tables; this file exists for the demo, the tests and new
-- installations (`studybuddy-batch migrate --with-app-schema`). It is
-- deliberately lenient: no foreign keys, no NOT NULL beyond the keys and no
-- CHECKs, because the batch must cope with whatever a real app database holds
-- (attempts of deleted questions, NULLs, negative times, unknown contexts).
-- The jobs exclude and count such rows instead of relying on constraints.
CREATE TABLE IF NOT EXISTS public.learners (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name  text,
    timezone      text,                       -- not used by v1
    daily_goal    integer DEFAULT 20,
    created_at    timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.questions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject      text,
    topic        text,
    subcategory  text,
    created_at   timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    learner_id    uuid,
    subject       text,
    topic         text,
    subcategory   text,
    started_at    timestamptz,
    ended_at      timestamptz,
    duration_sec  integer,
    end_reason    text,
    units         jsonb DEFAULT '[]'::jsonb,
    notes         text,
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.attempts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    learner_id   uuid,
    question_id  uuid,
    session_id   uuid,
    attempt_no   integer,
    context      text,                        -- 'session', 'practice' or 'daily'
    options      jsonb,
    user_answer  text DEFAULT '',
    correct      boolean,
    time_sec     integer,
    hint_used    boolean DEFAULT false,
    created_at   timestamptz DEFAULT now()
);
