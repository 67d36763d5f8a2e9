-- Bootstrap: the bookkeeping table of the migration runner itself.
-- Run by `studybuddy-batch migrate` (under its advisory lock) before any
-- numbered migration; safe to run any number of times.
CREATE SCHEMA IF NOT EXISTS batch;

CREATE TABLE IF NOT EXISTS batch.schema_migrations (
    migration_set text        NOT NULL,  -- 'app' (sql/app) or 'batch' (sql/migrations)
    version       integer     NOT NULL,  -- the file's number
    name          text        NOT NULL,  -- the file's name, e.g. 0001_batch_schema.sql
    checksum      text        NOT NULL,  -- sha256 of the file's bytes, hex (= sha256sum FILE)
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_set, version)
);
