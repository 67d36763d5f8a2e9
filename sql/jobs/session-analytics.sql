-- session-analytics: not written yet.

-- step: todo
SELECT 0 AS rows_written;
