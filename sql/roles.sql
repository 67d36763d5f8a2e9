-- The database role the batch runs as: least privilege (issue 6, drill 7).
--
-- NOT run by `studybuddy-batch migrate`: a DBA runs it once per database,
-- as the owner of the tables (the role that runs `migrate`), after
-- `migrate`, and again after every `migrate` that adds tables (it is
-- idempotent):
--
--     psql -v ON_ERROR_STOP=1 -d studybuddy -f sql/roles.sql
--
-- The role is cluster-wide; the grants are per database. It gets exactly
-- what the daemon and the jobs need, and nothing else:
--
--   app tables (the app owns them)   SELECT on learners, questions, sessions, attempts;
--                                    UPDATE of sessions.ended_at, duration_sec, end_reason
--                                      only (session-close closes idle sessions);
--                                    DELETE on sessions (cleanup deletes old empty sessions).
--                                    Never INSERT, never UPDATE/DELETE of attempts, learners
--                                    or questions.
--   derived tables (the jobs write)  SELECT, INSERT, UPDATE, DELETE (no TRUNCATE).
--   schema batch                     USAGE; SELECT on every table and view; INSERT, UPDATE,
--                                    DELETE on its base tables except schema_migrations
--                                    (read only: `migrate` is the owner's business); never
--                                    a write privilege on a view (batch.checked_sessions is
--                                    auto-updatable: UPDATE on it would bypass the column
--                                    grants on sessions).
--   database                         CONNECT; TEMP (jobs build ON COMMIT DROP temp tables).
--   pg_read_all_stats                membership: a run that fails on a lock timeout names
--                                    the blocking sessions' queries (pg_stat_activity).
--
-- No CREATE anywhere, no ownership, not a superuser: the role cannot run
-- `migrate` (run that as the owner).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'studybuddy_batch') THEN
        CREATE ROLE studybuddy_batch LOGIN;
    END IF;
END
$$;
ALTER ROLE studybuddy_batch LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS;

-- The password is set by the DBA, out of band, never in this file or any
-- repository; for example, in psql (\password prompts and sends it hashed):
--     \password studybuddy_batch
-- The daemon then gets it from libpq's .pgpass, a service file, or under
-- systemd from $CREDENTIALS_DIRECTORY/db-password (LoadCredential=).

GRANT pg_read_all_stats TO studybuddy_batch;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO studybuddy_batch', current_database());
END
$$;

-- App tables: read; sessions: close and delete, nothing more.
GRANT USAGE ON SCHEMA public TO studybuddy_batch;
GRANT SELECT ON public.learners, public.questions, public.sessions, public.attempts TO studybuddy_batch;
GRANT UPDATE (ended_at, duration_sec, end_reason) ON public.sessions TO studybuddy_batch;
GRANT DELETE ON public.sessions TO studybuddy_batch;

-- Derived tables.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON public.mastery, public.mastery_history, public.question_stats, public.subcategory_stats,
       public.importance_index, public.plan_units, public.session_analytics, public.daily_usage
    TO studybuddy_batch;

-- Schema batch: read everything; write the base tables but schema_migrations.
GRANT USAGE ON SCHEMA batch TO studybuddy_batch;
GRANT SELECT ON ALL TABLES IN SCHEMA batch TO studybuddy_batch;
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'batch' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
        ORDER BY c.relname
    LOOP
        EXECUTE format('GRANT INSERT, UPDATE, DELETE ON batch.%I TO studybuddy_batch', t.relname);
    END LOOP;
END
$$;
-- No sequence grants: batch ids are identity columns, which need none. (A
-- serial column added later would need GRANT USAGE ON SEQUENCE.)
