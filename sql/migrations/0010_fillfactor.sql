-- Room for the new version of a row in its own page, for importance_index:
-- every night rewrites every row (each pair's `due` moves with every day),
-- and no index covers a column the job updates, so with room in the page
-- an update is HOT: the new version stays on its page and no index entry is
-- added (BENCHMARKS.md, "importance_index: room for HOT updates"). Only
-- pages written from now on get the room; existing pages get it as they are
-- rewritten (VACUUM FULL would do it at once, under an exclusive lock: a
-- DBA's call). Not for mastery: its batched decay measured slower with it
-- at M (BENCHMARKS.md).
ALTER TABLE public.importance_index SET (fillfactor = 50);
