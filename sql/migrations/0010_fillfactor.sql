-- Room for the new version of a row in its own page, for the tables whose
-- rows the batch rewrites wholesale: importance_index (every pair's `due`
-- moves every night) and mastery (mastery-decay rewrites current_score of
-- every row every 6 hours). Neither has an index on a column the jobs
-- update, so with room in the page an update is HOT: the new version stays
-- on its page and no index entry is added (BENCHMARKS.md, "importance-index").
-- Only pages written from now on get the room; existing pages get it as
-- they are rewritten (VACUUM FULL would do it at once, under an exclusive
-- lock: a DBA's call).
ALTER TABLE public.importance_index SET (fillfactor = 50);
ALTER TABLE public.mastery SET (fillfactor = 60);
