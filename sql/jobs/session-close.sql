-- session-close: open sessions idle for longer than the timeout are closed
-- at their last activity, as of the slot instant T (computations.md,
-- "session-close"). Inside the nightly pipeline for D, T = end_of(D).
--
-- Parameters: :at (T), :idle_minutes.
--
-- Only ended_at, duration_sec and end_reason of the app's sessions are
-- written (not updated_at: the batch's role may update those three columns
-- only). A closed session is never examined again, so a rerun as of the same
-- T changes nothing. Never "ended_at = now()".

-- step: find-idle
-- Every open session (ended_at IS NULL) started before T, not bad, with its
-- last activity: its newest non-bad attempt created before T, else its
-- started_at. (An attempt stamped before its session's start cannot move the
-- end before the start: last activity is at least started_at.)
-- The same read of each session's attempts lists its excluded ones created
-- before T or without a created_at (their first reasons) for the report's
-- counts. Attempts at or after T are outside this run's window (an open
-- session is still being used), not bad rows.
CREATE TEMP TABLE sc_open ON COMMIT DROP AS
SELECT s.id,
       s.started_at,
       greatest(s.started_at, la.last_attempt_at) AS last_activity,
       la.bad_reasons
FROM batch.checked_sessions s
LEFT JOIN LATERAL (
    SELECT max(a.created_at) FILTER (WHERE a.bad_reason IS NULL AND a.created_at < :at::timestamptz) AS last_attempt_at,
           array_agg(a.bad_reason) FILTER (WHERE a.bad_reason IS NOT NULL
                                             AND (a.created_at < :at::timestamptz OR a.created_at IS NULL)) AS bad_reasons
    FROM batch.checked_attempts a
    WHERE a.session_id = s.id
) la ON true
WHERE s.ended_at IS NULL
  AND s.started_at < :at::timestamptz
  AND s.bad_reason IS NULL;

-- Rows read (open sessions examined) and bad rows, by first reason: open
-- sessions the batch excludes, and the excluded attempts of the examined
-- sessions (listed above).
SELECT (SELECT count(*) FROM sc_open) AS rows_read,
       count(*) FILTER (WHERE s.bad_reason = 'null_value') AS bad_null_value
FROM batch.checked_sessions s
WHERE s.ended_at IS NULL
  AND s.bad_reason IS NOT NULL
  AND (s.started_at < :at::timestamptz OR s.started_at IS NULL);

SELECT * FROM batch.bad_reason_counts(ARRAY(SELECT unnest(o.bad_reasons) FROM sc_open o));

-- step: close-idle
-- Idle: last activity strictly before T - idle_minutes (exactly the timeout
-- is not idle yet). ended_at = last activity, duration_sec =
-- floor(seconds(ended_at - started_at)), end_reason = 'idle_timeout'.
UPDATE sessions s
SET ended_at     = o.last_activity,
    duration_sec = floor(extract(epoch FROM o.last_activity - o.started_at))::int,
    end_reason   = 'idle_timeout'
FROM sc_open o
WHERE s.id = o.id
  AND s.ended_at IS NULL
  AND o.last_activity < :at::timestamptz - make_interval(mins => :idle_minutes::int);
