-- session_analytics: autovacuum after every night's writes, by thresholds
-- that do not grow with the table.
--
-- session-analytics' "no analytics yet" merges session_analytics_id_as_of_idx
-- with sessions_id_ended_idx (0015) and reads session_analytics' heap
-- wherever its visibility map is not set. 0015 set the thresholds to 1% of
-- the table, on the reading that a night writes about 1% of it. It does not:
-- a night inserts D's sessions and moves the as_of of D-1's, so it leaves
-- one day's sessions as dead rows, and 1% of a table of 300 days is three
-- days. At S with 300 days of history (833k rows) that is ~2.8k dead rows a
-- night against a threshold of ~8.4k: autovacuum came every third night,
-- and two nights in three read the pages of the nights since (0.41-0.47 s
-- against 0.19-0.25 s with the map set; BENCHMARKS.md, "Night round 4" and
-- "Night round 5"). The more history, the rarer.
--
-- A fixed threshold follows the night instead: 1000 dead (or inserted)
-- rows, whatever the table's size. A night leaves about one day's sessions
-- dead and inserts about as many, so with more than about a thousand
-- sessions a day autovacuum comes once after every night, between two
-- nights; below that, after every second or third night. The vacuum
-- itself still grows with the table: its heap pass skips only runs of
-- all-visible pages, and with the night's rows spread over a third of the
-- pages it also scans the indexes whole (the primary key and
-- session_analytics_id_as_of_idx), off the nights' path.
--
-- Applying it takes a SHARE UPDATE EXCLUSIVE lock on session_analytics for
-- a moment (no rewrite; reads and writes go on), which waits behind a
-- running VACUUM or ANALYZE of the table.
ALTER TABLE public.session_analytics SET (autovacuum_vacuum_scale_factor = 0,
                                          autovacuum_vacuum_threshold = 1000,
                                          autovacuum_vacuum_insert_scale_factor = 0,
                                          autovacuum_vacuum_insert_threshold = 1000);
