-- session_analytics: autovacuum after every night's writes, at any size of
-- the table.
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
-- A fixed threshold follows the night instead: 1000 dead (or inserted) rows,
-- whatever the table's size, is below one night of any deployment with more
-- than a few hundred sessions a day, so autovacuum comes once after every
-- night, between two nights. Its heap pass follows the night too: it visits
-- the pages the night wrote and skips the all-visible rest.
ALTER TABLE public.session_analytics SET (autovacuum_vacuum_scale_factor = 0,
                                          autovacuum_vacuum_threshold = 1000,
                                          autovacuum_vacuum_insert_scale_factor = 0,
                                          autovacuum_vacuum_insert_threshold = 1000);
