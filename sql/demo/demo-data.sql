-- Deterministic synthetic app data (`studybuddy-batch demo-data`).
--
-- Fills the app tables learners, questions, sessions and attempts with
-- realistic-looking history for the demo, the tests and the benchmarks:
--   * questions: 4 subjects, 13 topics, 40 subcategories (globally unique
--     names such as math.fractions.add_like), 24 to 28 questions each
--     (about 1,040), created long before the history starts;
--   * learners: `learners` rows ('Learner 00042'), daily_goal mostly 20
--     (some 10, 15, 30); about 85% created before the window, 15% created
--     during it (those start practising on their creation day);
--   * each day about a quarter of the active learners practise (per-learner
--     propensity 5% to 45%): one session, sometimes a second one in the
--     evening, some of them starting around 23:40-23:58 local time and
--     crossing midnight (on the last day 23:10-23:35 instead, and they stay
--     open, some with activity in the last 30 minutes); sometimes a short 'daily' block (06:00-07:00) and a
--     'practice' block (12:00-14:00) whose attempts have no session;
--   * sessions focus on one subject and topic, 40% also on one subcategory;
--     10 to 24 questions when completed, 2 to 9 on a user exit, about 2%
--     abandoned without attempts; on the last day about 4% more are still
--     open (ended_at, duration_sec, end_reason NULL), and so is any session
--     that would end at or after the cut;
--   * attempts: a wrong answer is retried at once half of the time
--     (attempt_no 2, rarely 3); time_sec mostly 3 to 83 s, 10% 40 to 119 s,
--     0.4% 400 to 899 s; consecutive attempts 5 to 130 s apart, with a
--     121 to 600 s pause before 4% of them; hints on about 10%; correctness
--     follows a per-learner skill (per-subject offsets) that grows with the
--     learner's practice days and within a session (warm-up), minus
--     subcategory and question difficulty, plus a bonus for hints and
--     retries, clamped to [0.05, 0.95].
-- Nothing is created at or after the cut, the start of end_date + 1 in tz.
--
-- Parameters (each written with its colon prefix and always cast the same
-- way in every statement):
--   learners  int   number of learners
--   days      int   days of history, ending with end_date inclusive
--   seed      int   seed of every pseudo-random choice and of every id
--   end_date  date  the last logical date
--   tz        text  IANA zone: day D is [D 00:00, D+1 00:00) local time
--
-- Deterministic: no now(), random() or clock functions. Every choice and
-- every id comes from md5 of the seed and the row's coordinates, so the
-- same parameters give byte-identical tables (timestamps are built from
-- whole milliseconds). Set-based (generate_series, window functions) and
-- linear in learners * days. A second load with the same parameters is a
-- no-op (ON CONFLICT (id) DO NOTHING). Intermediate tables are temporary
-- and dropped at commit. Statements are separated by top-level semicolons,
-- so comments here avoid them.
--
-- Random draws: b = decode(md5(key), 'hex') gives 16 bytes. A uniform
-- draw in [0, 1) is (get_byte(b, n) * 256 + get_byte(b, n + 1)) / 65536.0,
-- a coarse one get_byte(b, n) compared with a threshold out of 256. The
-- md5 is computed in a subquery with OFFSET 0 so that the planner does not
-- inline (and repeat) it for every use.

-- Session settings for this transaction only (reset at commit): the big
-- window sort and the ordered inserts stay in memory, and no JIT, whose
-- compile time (about half a second per statement) dominates small loads
-- and does not pay off on big ones.
SET LOCAL work_mem = '256MB';

SET LOCAL jit = off;

-- Subcategories: subject, topic, difficulty offset in [-0.10, 0.20) and the
-- number of questions (24 to 28). sc_no is contiguous within a topic.
CREATE TEMP TABLE demo_sc ON COMMIT DROP AS
SELECT v.sc_no, v.subject_no, v.subject, v.topic,
       v.subject || '.' || v.topic || '.' || v.sub AS subcategory,
       min(v.sc_no) OVER (PARTITION BY v.subject, v.topic) AS topic_first,
       count(*) OVER (PARTITION BY v.subject, v.topic)::int AS topic_n,
       -0.10 + 0.30 * ((get_byte(h.b, 0) * 256 + get_byte(h.b, 1)) / 65536.0::float8) AS difficulty,
       24 + get_byte(h.b, 2) % 5 AS nq
FROM (VALUES
    ( 0, 0, 'math', 'arithmetic', 'add_carry'),
    ( 1, 0, 'math', 'arithmetic', 'sub_borrow'),
    ( 2, 0, 'math', 'arithmetic', 'mult_tables'),
    ( 3, 0, 'math', 'fractions', 'add_like'),
    ( 4, 0, 'math', 'fractions', 'add_unlike'),
    ( 5, 0, 'math', 'fractions', 'simplify'),
    ( 6, 0, 'math', 'fractions', 'compare'),
    ( 7, 0, 'math', 'geometry', 'angles'),
    ( 8, 0, 'math', 'geometry', 'area'),
    ( 9, 0, 'math', 'geometry', 'perimeter'),
    (10, 0, 'math', 'algebra', 'linear_eq'),
    (11, 0, 'math', 'algebra', 'expressions'),
    (12, 1, 'reading', 'comprehension', 'main_idea'),
    (13, 1, 'reading', 'comprehension', 'inference'),
    (14, 1, 'reading', 'comprehension', 'sequence'),
    (15, 1, 'reading', 'vocabulary', 'synonyms'),
    (16, 1, 'reading', 'vocabulary', 'context_clues'),
    (17, 1, 'reading', 'vocabulary', 'prefixes'),
    (18, 1, 'reading', 'fluency', 'phonics'),
    (19, 1, 'reading', 'fluency', 'sight_words'),
    (20, 1, 'reading', 'fluency', 'punctuation'),
    (21, 2, 'science', 'life', 'plants'),
    (22, 2, 'science', 'life', 'animals'),
    (23, 2, 'science', 'life', 'human_body'),
    (24, 2, 'science', 'physical', 'forces'),
    (25, 2, 'science', 'physical', 'energy'),
    (26, 2, 'science', 'physical', 'matter'),
    (27, 2, 'science', 'earth', 'weather'),
    (28, 2, 'science', 'earth', 'rocks'),
    (29, 2, 'science', 'earth', 'solar_system'),
    (30, 2, 'science', 'earth', 'water_cycle'),
    (31, 3, 'language', 'grammar', 'nouns'),
    (32, 3, 'language', 'grammar', 'verbs'),
    (33, 3, 'language', 'grammar', 'tenses'),
    (34, 3, 'language', 'spelling', 'vowels'),
    (35, 3, 'language', 'spelling', 'silent_letters'),
    (36, 3, 'language', 'spelling', 'plurals'),
    (37, 3, 'language', 'writing', 'sentences'),
    (38, 3, 'language', 'writing', 'paragraphs'),
    (39, 3, 'language', 'writing', 'capitalization')
) AS v(sc_no, subject_no, subject, topic, sub)
CROSS JOIN LATERAL (
    SELECT decode(md5(:seed::int || '|sc|' || v.sc_no), 'hex') AS b OFFSET 0
) AS h;

ANALYZE demo_sc;

-- Questions: id, difficulty offset in [-0.25, 0.25), and answers: 70% are
-- multiple choice (options = 4 strings, one right), the rest free text.
CREATE TEMP TABLE demo_q ON COMMIT DROP AS
SELECT x.sc_no, x.k, encode(x.b, 'hex')::uuid AS id,
       0.50 * ((get_byte(x.b, 0) * 256 + get_byte(x.b, 1)) / 65536.0::float8 - 0.5) AS difficulty,
       CASE WHEN get_byte(x.b, 2) < 179 THEN jsonb_build_array(o.v[1], o.v[2], o.v[3], o.v[4]) END AS options,
       o.v[1 + r.right_no] AS answer,
       ARRAY[o.v[1 + (r.right_no + 1) % 4], o.v[1 + (r.right_no + 2) % 4], o.v[1 + (r.right_no + 3) % 4]] AS wrong
FROM (
    SELECT s.sc_no, s.subject_no, k, decode(md5(:seed::int || '|q|' || s.sc_no || '|' || k), 'hex') AS b
    FROM demo_sc s CROSS JOIN LATERAL generate_series(0, s.nq - 1) AS k
    OFFSET 0
) AS x
CROSS JOIN LATERAL (SELECT get_byte(x.b, 3) % 4 AS right_no, get_byte(x.b, 4) AS n, get_byte(x.b, 5) % 20 AS w) AS r
CROSS JOIN LATERAL (
    SELECT CASE WHEN x.subject_no = 0
                THEN ARRAY[(r.n)::text, (r.n + 1)::text, (r.n + 2)::text, (r.n + 3)::text]
                ELSE ARRAY(SELECT (ARRAY['river', 'planet', 'quickly', 'gentle', 'bright', 'forest', 'whisper',
                                         'window', 'ocean', 'brave', 'silver', 'garden', 'thunder', 'pencil',
                                         'happy', 'mountain', 'yellow', 'travel', 'castle', 'friend'])[1 + (r.w + 5 * j) % 20]
                           FROM generate_series(0, 3) AS j ORDER BY j)
           END AS v
) AS o;

ANALYZE demo_q;

INSERT INTO questions (id, subject, topic, subcategory, created_at)
SELECT q.id, s.subject, s.topic, s.subcategory,
       ((:end_date::date - :days::int - 200 - 3 * q.k - s.sc_no)::timestamp + interval '9 hours')
           AT TIME ZONE :tz::text
FROM demo_q q JOIN demo_sc s USING (sc_no)
ORDER BY s.sc_no, q.k
ON CONFLICT (id) DO NOTHING;

-- Learners. first_day is the index (0 = the first date of the window) of
-- the first day the learner may practise. skill in [0.35, 0.70), subject
-- offsets in [-0.10, 0.10], exp0 = practice days before the window.
CREATE TEMP TABLE demo_l ON COMMIT DROP AS
SELECT x.i, encode(x.b, 'hex')::uuid AS id,
       CASE WHEN n.is_new
            THEN ((x.first_date + n.new_day)::timestamp + interval '5 hours'
                  + floor(3600000 * x.u45) * interval '1 millisecond') AT TIME ZONE :tz::text
            ELSE ((x.first_date - 1 - floor(365 * x.u23)::int)::timestamp
                  + floor(86400000 * x.u45) * interval '1 millisecond') AT TIME ZONE :tz::text
       END AS created_at,
       CASE WHEN n.is_new THEN n.new_day ELSE 0 END AS first_day,
       n.is_new,
       0.05 + 0.40 * ((get_byte(x.b, 6) * 256 + get_byte(x.b, 7)) / 65536.0::float8) AS propensity,
       0.35 + 0.35 * ((get_byte(x.b, 8) * 256 + get_byte(x.b, 9)) / 65536.0::float8) AS skill,
       CASE WHEN n.is_new THEN 0 ELSE get_byte(x.b, 10) % 15 END AS exp0,
       CASE WHEN get_byte(x.b, 11) < 179 THEN 20 WHEN get_byte(x.b, 11) < 205 THEN 10
            WHEN get_byte(x.b, 11) < 230 THEN 15 ELSE 30 END AS daily_goal,
       ARRAY[0.2 * (get_byte(x.b, 12) / 255.0::float8 - 0.5), 0.2 * (get_byte(x.b, 13) / 255.0::float8 - 0.5),
             0.2 * (get_byte(x.b, 14) / 255.0::float8 - 0.5), 0.2 * (get_byte(x.b, 15) / 255.0::float8 - 0.5)]
           AS subject_offset
FROM (
    SELECT y.i, y.b, y.first_date,
           (get_byte(y.b, 2) * 256 + get_byte(y.b, 3)) / 65536.0::float8 AS u23,
           (get_byte(y.b, 4) * 256 + get_byte(y.b, 5)) / 65536.0::float8 AS u45
    FROM (
        SELECT i, decode(md5(:seed::int || '|learner|' || i), 'hex') AS b,
               :end_date::date - (:days::int - 1) AS first_date
        FROM generate_series(1, :learners::int) AS i
        OFFSET 0
    ) AS y
) AS x
CROSS JOIN LATERAL (
    SELECT get_byte(x.b, 0) * 256 + get_byte(x.b, 1) < 9830 AND :days::int > 0 AS is_new,   -- 15%
           floor(:days::int * x.u23)::int AS new_day
) AS n;

ANALYZE demo_l;

INSERT INTO learners (id, display_name, timezone, daily_goal, created_at)
SELECT l.id,
       'Learner ' || CASE WHEN l.i < 100000 THEN lpad(l.i::text, 5, '0') ELSE l.i::text END,
       :tz::text, l.daily_goal, l.created_at
FROM demo_l l
ORDER BY l.i
ON CONFLICT (id) DO NOTHING;

-- Practising learner-days (d = day index from 0) with the day's choices:
-- a second session (20%), a 'practice' block (15%), a 'daily' block
-- (25%), a late start near midnight for the first (2%) or second (15%)
-- session. prior = practice days before this one.
CREATE TEMP TABLE demo_ld ON COMMIT DROP AS
SELECT z.i, z.id AS learner_id, z.d, z.skill, z.subject_offset,
       z.exp0 + row_number() OVER (PARTITION BY z.i ORDER BY z.d) - 1 AS prior,
       get_byte(z.b, 2) < 51 AS second_session,
       get_byte(z.b, 3) < 38 AS practice_block,
       get_byte(z.b, 4) < 64 AS daily_block,
       get_byte(z.b, 5) < 5 AS late_first,
       get_byte(z.b, 6) < 38 AS late_second
FROM (
    SELECT l.i, l.id, l.skill, l.subject_offset, l.exp0, l.propensity, l.is_new, l.first_day, d,
           decode(md5(:seed::int || '|day|' || l.i || '|' || d), 'hex') AS b
    FROM demo_l l CROSS JOIN LATERAL generate_series(l.first_day, :days::int - 1) AS d
    OFFSET 0
) AS z
WHERE (get_byte(z.b, 0) * 256 + get_byte(z.b, 1)) / 65536.0::float8
      < CASE WHEN z.is_new AND z.d = z.first_day THEN 0.85 ELSE z.propensity END;

ANALYZE demo_ld;

-- Blocks of attempts: kind 1 and 2 are sessions, 3 'practice', 4 'daily'
-- (no session row). bk is a unique key. Each block draws its questions from
-- the subcategories sc_first .. sc_first + sc_n - 1: one subcategory, a
-- topic's or (daily) all 40. q_off rotates the questions so that a block
-- never repeats one (at most 24 slots, at least 24 questions each).
CREATE TEMP TABLE demo_b ON COMMIT DROP AS
SELECT (x.i::bigint * :days::int + x.d) * 4 + x.kind AS bk,
       x.i, x.learner_id, x.d, x.kind,
       CASE WHEN x.kind <= 2 THEN encode(x.b, 'hex')::uuid END AS session_id,
       CASE x.kind WHEN 3 THEN 'practice' WHEN 4 THEN 'daily' ELSE 'session' END AS context,
       s.subject, s.topic,
       CASE WHEN x.kind = 3 OR (x.kind <= 2 AND x.u23 < 0.4) THEN s.subcategory END AS subcategory,
       CASE WHEN x.kind = 4 THEN 0 WHEN x.kind = 3 OR x.u23 < 0.4 THEN s.sc_no ELSE s.topic_first END AS sc_first,
       CASE WHEN x.kind = 4 THEN 40 WHEN x.kind = 3 OR x.u23 < 0.4 THEN 1 ELSE s.topic_n END AS sc_n,
       CASE WHEN x.kind <= 2 AND x.u45 < 0.02 THEN 'abandoned'
            WHEN x.kind <= 2 AND x.u45 < 0.22 THEN 'user_exit'
            WHEN x.kind <= 2 THEN 'completed' END AS plan,
       CASE WHEN x.kind <= 2 AND x.u45 < 0.02 THEN 0
            WHEN x.kind <= 2 AND x.u45 < 0.22 THEN 2 + floor(8 * x.u67)::int
            WHEN x.kind <= 2 THEN 10 + floor(15 * x.u67)::int
            WHEN x.kind = 3 THEN 2 + floor(9 * x.u67)::int
            ELSE 5 + floor(6 * x.u67)::int END AS nslots,
       ((:end_date::date - (:days::int - 1) + x.d)::timestamp
        + CASE WHEN x.late AND x.d = :days::int - 1
                    THEN interval '23 hours 10 minutes' + floor(1500000 * x.u1011) * interval '1 millisecond'
               WHEN x.late
                    THEN interval '23 hours 40 minutes' + floor(1080000 * x.u1011) * interval '1 millisecond'
               WHEN x.kind = 1
                    THEN (ARRAY[7, 8, 9, 10, 11, 14, 15, 15, 16, 16, 17, 17])[1 + floor(12 * x.u89)::int] * interval '1 hour'
                         + floor(3600000 * x.u1011) * interval '1 millisecond'
               WHEN x.kind = 2
                    THEN (ARRAY[18, 19, 19, 20, 20, 21, 22])[1 + floor(7 * x.u89)::int] * interval '1 hour'
                         + floor(3600000 * x.u1011) * interval '1 millisecond'
               WHEN x.kind = 3
                    THEN interval '12 hours' + floor(7200000 * x.u1011) * interval '1 millisecond'
               ELSE interval '6 hours' + floor(3600000 * x.u1011) * interval '1 millisecond'
          END) AT TIME ZONE :tz::text AS started_at,
       x.kind <= 2 AND x.d = :days::int - 1 AND x.u45 >= 0.02 AND (x.late OR get_byte(x.b, 12) < 10) AS keep_open,
       CASE WHEN get_byte(x.b, 13) < 8 THEN 'Needed help with ' || s.topic END AS notes,
       3000 + floor(37000 * x.u1415)::int AS end_ms,
       5000 + floor(115000 * x.u1415)::int AS abandon_ms,
       get_byte(x.b2, 0) * 256 + get_byte(x.b2, 1) AS q_off,
       x.skill + 0.015 * least(x.prior, 20) AS skill,
       x.subject_offset
FROM (
    SELECT y.*,
           (get_byte(y.b, 0) * 256 + get_byte(y.b, 1)) / 65536.0::float8 AS u01,
           (get_byte(y.b, 2) * 256 + get_byte(y.b, 3)) / 65536.0::float8 AS u23,
           (get_byte(y.b, 4) * 256 + get_byte(y.b, 5)) / 65536.0::float8 AS u45,
           (get_byte(y.b, 6) * 256 + get_byte(y.b, 7)) / 65536.0::float8 AS u67,
           (get_byte(y.b, 8) * 256 + get_byte(y.b, 9)) / 65536.0::float8 AS u89,
           (get_byte(y.b, 10) * 256 + get_byte(y.b, 11)) / 65536.0::float8 AS u1011,
           (get_byte(y.b, 14) * 256 + get_byte(y.b, 15)) / 65536.0::float8 AS u1415,
           (y.kind = 1 AND y.late_first) OR (y.kind = 2 AND y.late_second) AS late
    FROM (
        SELECT ld.*, k.kind,
               decode(md5(:seed::int || '|block|' || ld.i || '|' || ld.d || '|' || k.kind), 'hex') AS b,
               decode(md5(:seed::int || '|block2|' || ld.i || '|' || ld.d || '|' || k.kind), 'hex') AS b2
        FROM demo_ld ld
        CROSS JOIN LATERAL (VALUES (1, true), (2, ld.second_session), (3, ld.practice_block), (4, ld.daily_block))
            AS k(kind, present)
        WHERE k.present
        OFFSET 0
    ) AS y
) AS x
JOIN demo_sc s ON s.sc_no = floor(40 * x.u01)::int;

ANALYZE demo_b;

-- Attempts. Per slot (question) the tries: a wrong answer is retried with
-- probability 1/2, at most 3 tries. created_at = block start + running sum
-- of the gaps. Attempts at or after the cut are dropped (the session then
-- stays open).
CREATE TEMP TABLE demo_a ON COMMIT DROP AS
SELECT w.*
FROM (
    SELECT v.bk, v.slot, v.attempt_no, v.id, v.sc_no, v.k, v.correct, v.hint_used, v.time_sec, v.wrong_pick,
           v.started_at + sum(v.gap_ms) OVER (PARTITION BY v.bk ORDER BY v.slot, v.attempt_no)
                          * interval '1 millisecond' AS created_at
    FROM (
        SELECT t.bk, t.slot, t.try AS attempt_no, encode(t.a, 'hex')::uuid AS id, t.sc_no, t.k,
               t.ok AS correct, t.hint AS hint_used, t.time_sec, get_byte(t.a, 14) % 3 AS wrong_pick, t.started_at,
               1000 * (t.time_sec + 2 + get_byte(t.a, 8) % 8
                       + CASE WHEN t.slot = 1 AND t.try = 1 THEN 5 + get_byte(t.a, 15) % 26 ELSE 0 END
                       + CASE WHEN get_byte(t.a, 9) * 256 + get_byte(t.a, 10) < 2621    -- 4%
                              THEN 121 + get_byte(t.a, 11) * 479 / 255 ELSE 0 END)
               + (get_byte(t.a, 12) * 256 + get_byte(t.a, 13)) % 1000 AS gap_ms
        FROM (
            SELECT r.*,
                   CASE r.try WHEN 1 THEN r.c1 WHEN 2 THEN r.c2 ELSE r.c3 END AS ok,
                   CASE r.try WHEN 1 THEN r.h1 WHEN 2 THEN r.h2 ELSE r.h3 END AS hint,
                   CASE WHEN get_byte(r.a, 4) * 256 + get_byte(r.a, 5) < 262          -- 0.4%
                        THEN 400 + floor(500 * ((get_byte(r.a, 6) * 256 + get_byte(r.a, 7)) / 65536.0::float8))::int
                        WHEN get_byte(r.a, 2) < 26                                     -- 10%
                        THEN 40 + get_byte(r.a, 3) * 80 / 256
                        ELSE 3 + floor(80 * ((get_byte(r.a, 0) * 256 + get_byte(r.a, 1)) / 65536.0::float8) ^ 2)::int
                   END AS time_sec
            FROM (
                SELECT p.*, try,
                       decode(md5(:seed::int || '|attempt|' || p.bk || '|' || p.slot || '|' || try), 'hex') AS a
                FROM (
                    SELECT c.*,
                           CASE WHEN c.c1 THEN 1 WHEN get_byte(c.hs, 8) >= 128 THEN 1
                                WHEN c.c2 OR get_byte(c.hs, 9) >= 128 THEN 2 ELSE 3 END AS ntries
                    FROM (
                        SELECT e.*,
                               e.u1 < greatest(0.05, least(0.95, e.p + CASE WHEN e.h1 THEN 0.10 ELSE 0 END)) AS c1,
                               e.u2 < greatest(0.05, least(0.95, e.p + 0.15 + CASE WHEN e.h2 THEN 0.10 ELSE 0 END)) AS c2,
                               e.u3 < greatest(0.05, least(0.95, e.p + 0.15 + CASE WHEN e.h3 THEN 0.10 ELSE 0 END)) AS c3
                        FROM (
                            SELECT g.bk, g.slot, g.hs, g.started_at, q.sc_no, q.k,
                                   g.skill + g.subject_offset[s.subject_no + 1] + 0.01 * least(g.slot - 1, 10)
                                       - s.difficulty - q.difficulty AS p,
                                   (get_byte(g.hs, 2) * 256 + get_byte(g.hs, 3)) / 65536.0::float8 AS u1,
                                   (get_byte(g.hs, 4) * 256 + get_byte(g.hs, 5)) / 65536.0::float8 AS u2,
                                   (get_byte(g.hs, 6) * 256 + get_byte(g.hs, 7)) / 65536.0::float8 AS u3,
                                   get_byte(g.hs, 10) < 26 AS h1,
                                   get_byte(g.hs, 11) < 26 AS h2,
                                   get_byte(g.hs, 12) < 26 AS h3
                            FROM (
                                SELECT b.bk, b.started_at, b.skill, b.subject_offset, b.sc_first, b.sc_n, b.q_off, slot,
                                       decode(md5(:seed::int || '|slot|' || b.bk || '|' || slot), 'hex') AS hs
                                FROM demo_b b CROSS JOIN LATERAL generate_series(1, b.nslots) AS slot
                                OFFSET 0
                            ) AS g
                            JOIN demo_sc s
                              ON s.sc_no = g.sc_first
                                           + floor(g.sc_n * ((get_byte(g.hs, 0) * 256 + get_byte(g.hs, 1)) / 65536.0::float8))::int
                            JOIN demo_q q ON q.sc_no = s.sc_no AND q.k = (g.q_off + g.slot) % s.nq
                        ) AS e
                    ) AS c
                    OFFSET 0
                ) AS p
                JOIN (VALUES (1), (2), (3)) AS n(try) ON n.try <= p.ntries
                OFFSET 0
            ) AS r
        ) AS t
    ) AS v
) AS w
WHERE w.created_at < ((:end_date::date + 1)::timestamp AT TIME ZONE :tz::text);

ANALYZE demo_a;

-- Sessions: ended a few seconds after their last attempt (abandoned ones
-- 5 to 120 s after the start), still open if chosen so on the last day or
-- if that end would fall at or after the cut.
INSERT INTO sessions (id, learner_id, subject, topic, subcategory, started_at, ended_at, duration_sec,
                      end_reason, units, notes, created_at, updated_at)
SELECT o.session_id, o.learner_id, o.subject, o.topic, o.subcategory, o.started_at,
       CASE WHEN NOT o.is_open THEN o.planned_end END,
       CASE WHEN NOT o.is_open THEN floor(extract(epoch FROM o.planned_end - o.started_at))::int END,
       CASE WHEN NOT o.is_open THEN CASE o.plan WHEN 'completed' THEN 'completed' ELSE 'user_exit' END END,
       CASE WHEN o.subcategory IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(o.subcategory) END,
       o.notes, o.started_at,
       CASE WHEN o.is_open THEN coalesce(o.last_at, o.started_at) ELSE o.planned_end END
FROM (
    SELECT e.*,
           e.keep_open OR e.planned_end IS NULL
               OR e.planned_end >= ((:end_date::date + 1)::timestamp AT TIME ZONE :tz::text) AS is_open
    FROM (
        SELECT b.*, a.last_at,
               CASE WHEN b.nslots = 0 THEN b.started_at + b.abandon_ms * interval '1 millisecond'
                    ELSE a.last_at + b.end_ms * interval '1 millisecond' END AS planned_end
        FROM demo_b b
        LEFT JOIN (SELECT bk, max(created_at) AS last_at FROM demo_a GROUP BY bk) AS a USING (bk)
        WHERE b.kind <= 2
    ) AS e
) AS o
ORDER BY o.started_at, o.session_id
ON CONFLICT (id) DO NOTHING;

INSERT INTO attempts (id, learner_id, question_id, session_id, attempt_no, context, options, user_answer,
                      correct, time_sec, hint_used, created_at)
SELECT a.id, b.learner_id, q.id, b.session_id, a.attempt_no, b.context, q.options,
       CASE WHEN a.correct THEN q.answer ELSE q.wrong[1 + a.wrong_pick] END,
       a.correct, a.time_sec, a.hint_used, a.created_at
FROM demo_a a
JOIN demo_b b USING (bk)
JOIN demo_q q ON q.sc_no = a.sc_no AND q.k = a.k
ORDER BY a.created_at, a.id
ON CONFLICT (id) DO NOTHING;

SELECT (SELECT count(*) FROM learners) AS learners,
       (SELECT count(*) FROM questions) AS questions,
       (SELECT count(*) FROM sessions) AS sessions,
       (SELECT count(*) FROM attempts) AS attempts
