import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// usage-stats' kept first-seen witnesses (`batch.us_first_seen`) against a
/// from-scratch count of new learners, after day-by-day runs, reruns,
/// deletions, late inserts and a question that changes subject.
///
/// The from-scratch count is the spec's rule written directly over
/// `batch.checked_attempts`: a learner active on D in S is new when none of
/// their good attempts in S (for '*': in any subject) was created before D.
@Suite("usage-stats first-seen witnesses", .serialized)
struct UsageStatsFirstSeenTests {
    static let job = "usage-stats"
    static let timezone = "Europe/Berlin"
    static let days: [LocalDate] = (14...20).map { LocalDate.d("2026-11-\($0)") }

    static var config: BatchConfig {
        var config = BatchConfig()
        config.timezone = timezone
        return config
    }

    func load(_ db: TestDatabase) async throws -> Connection {
        let c = try await db.connect()
        _ = try await DemoData.load(on: c, learners: 60, days: 14, seed: 11, endDate: .d("2026-11-20"), timezone: Self.timezone)
        return c
    }

    /// The demo data, and usage-stats run for every day of `days`, in order.
    func loadAndRunEveryDay(_ db: TestDatabase) async throws -> (Connection, TestRunner) {
        let c = try await load(db)
        let runner = try TestRunner(database: db, config: Self.config)
        for day in Self.days { try await runner.run(Self.job, day) }
        return (c, runner)
    }

    /// new_learners per subject as daily_usage holds it for `day` (0 rows left out).
    func written(_ c: Connection, _ day: LocalDate) async throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in try await c.query("SELECT subject, new_learners FROM daily_usage WHERE day = $1", [day]).rows {
            let n = try row.decode("new_learners", as: Int.self)
            if n > 0 { result[try row.decode("subject", as: String.self)] = n }
        }
        return result
    }

    /// new_learners per subject for `day`, from all history.
    func fromScratch(_ c: Connection, _ day: LocalDate) async throws -> [String: Int] {
        let rows = try await c.query("""
            WITH w AS (SELECT ($1::date::timestamp AT TIME ZONE $2) AS ws, (($1::date + 1)::timestamp AT TIME ZONE $2) AS we),
            good AS (SELECT a.learner_id, a.subject, a.created_at FROM batch.checked_attempts a WHERE a.bad_reason IS NULL),
            d AS (SELECT g.* FROM good g, w WHERE g.created_at >= w.ws AND g.created_at < w.we)
            SELECT subject, count(*)::int AS n FROM (
                SELECT DISTINCT d.learner_id, d.subject FROM d, w
                WHERE NOT EXISTS (SELECT 1 FROM good p WHERE p.learner_id = d.learner_id AND p.subject = d.subject
                                  AND p.created_at < w.ws)
                UNION ALL
                SELECT DISTINCT d.learner_id, '*' FROM d, w
                WHERE NOT EXISTS (SELECT 1 FROM good p WHERE p.learner_id = d.learner_id AND p.created_at < w.ws)) x
            GROUP BY subject
            """, [day, Self.timezone])
        var result: [String: Int] = [:]
        for row in rows.rows { result[try row.decode("subject", as: String.self)] = try row.decode("n", as: Int.self) }
        return result
    }

    func expectExact(_ c: Connection, _ day: LocalDate, _ comment: Comment? = nil) async throws {
        let expected = try await fromScratch(c, day)
        #expect(try await written(c, day) == expected, comment)
    }

    /// A (learner, subject) active on D with a witness and good attempts before D.
    func knownPair(_ c: Connection, _ ws: String, offset: Int) async throws -> (learner: String, subject: String) {
        let found = try await c.query("""
            SELECT w.learner_id::text AS l, w.subject FROM batch.us_first_seen w
            WHERE w.subject <> '*'
              AND EXISTS (SELECT 1 FROM batch.checked_attempts a WHERE a.learner_id = w.learner_id AND a.subject = w.subject
                          AND a.bad_reason IS NULL AND a.created_at >= \(ws))
              AND EXISTS (SELECT 1 FROM batch.checked_attempts a WHERE a.learner_id = w.learner_id AND a.subject = w.subject
                          AND a.bad_reason IS NULL AND a.created_at < \(ws))
            ORDER BY w.learner_id, w.subject OFFSET \(offset) LIMIT 1
            """).first
        let row = try #require(found, "no known pair at offset \(offset)")
        return (try row.decode("l", as: String.self), try row.decode("subject", as: String.self))
    }

    @Test("day by day: new learners equal a from-scratch count; from the second day only pairs without a witness that holds read the history")
    func dayByDay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            let runner = try TestRunner(database: db, config: Self.config)
            var probed: [Int] = []
            var pairs: [Int] = []
            for day in Self.days {
                let outcome = try await runner.run(Self.job, day)
                #expect(outcome.status == .succeeded)
                try await expectExact(c, day, "\(day)")
                probed.append(outcome.report?.counters?["first_seen_probed"] ?? 0)
                pairs.append(try await c.query("""
                    SELECT (SELECT count(DISTINCT (learner_id, subject)) + count(DISTINCT learner_id)
                            FROM batch.checked_attempts
                            WHERE bad_reason IS NULL AND created_at >= ($1::date::timestamp AT TIME ZONE $2)
                              AND created_at < (($1::date + 1)::timestamp AT TIME ZONE $2))::int AS n
                    """, [day, Self.timezone]).first!.decode("n", as: Int.self))
            }
            // The first run probes every pair; later runs only the pairs
            // seen for the first time since (the history before the first
            // run has no witnesses): fewer than all.
            #expect(probed[0] == pairs[0])
            #expect(probed.dropFirst().reduce(0, +) < pairs.dropFirst().reduce(0, +), "probed \(probed) of \(pairs)")
            // Once every pair has a witness, a run probes exactly the pairs
            // that are new on D.
            let again = try await runner.run(Self.job, Self.days.last!)
            let newPairs = try await fromScratch(c, Self.days.last!).values.reduce(0, +)
            #expect(newPairs > 0)
            #expect(again.report?.counters?["first_seen_probed"] == newPairs)
            // A witness is the instant of a good attempt of its learner, in
            // its subject, never of a bad row only.
            let wrong = try await c.query("""
                SELECT count(*)::int AS n FROM batch.us_first_seen w
                WHERE NOT EXISTS (SELECT 1 FROM batch.checked_attempts a
                                  WHERE a.learner_id = w.learner_id AND a.created_at = w.created_at
                                    AND a.bad_reason IS NULL AND (w.subject = '*' OR a.subject = w.subject))
                """).first!.decode("n", as: Int.self)
            #expect(wrong == 0)
        }
    }

    @Test("a rerun writes nothing, neither daily_usage nor witnesses; an older rerun then the newest again neither")
    func reruns() async throws {
        try await TestPostgres.withDatabase { db in
            let (c, runner) = try await loadAndRunEveryDay(db)
            // An older date rerun after later ones: its witnesses may move earlier once.
            try await runner.run(Self.job, Self.days[2])
            try await expectExact(c, Self.days[2])
            try await runner.run(Self.job, Self.days.last!)
            let before = try await db.snapshot(on: c)
            let witnesses = try await c.query("SELECT w::text AS r FROM batch.us_first_seen w ORDER BY 1").rows
                .map { try $0.decode("r", as: String.self) }
            for day in [Self.days.last!, Self.days[2], Self.days.last!] {
                let again = try await runner.run(Self.job, day)
                #expect(again.report?.totals.rowsWritten == 0)
                #expect(again.report?.counters?["first_seen_written"] == 0, "\(day)")
            }
            #expect(try await db.snapshot(on: c) == before)
            #expect(try await c.query("SELECT w::text AS r FROM batch.us_first_seen w ORDER BY 1").rows
                .map { try $0.decode("r", as: String.self) } == witnesses)
        }
    }

    @Test("dates run newest first, then oldest first: exact each time, and the second pass writes no witness")
    func anyOrder() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            let runner = try TestRunner(database: db, config: Self.config)
            var moved = 0
            for day in Self.days.reversed() {
                let outcome = try await runner.run(Self.job, day)
                try await expectExact(c, day, "\(day), newest first")
                if day != Self.days.last! { moved += outcome.report?.counters?["first_seen_written"] ?? 0 }
            }
            // Older dates found earlier witnesses for pairs the newer dates recorded.
            #expect(moved > 0)
            let before = try await db.snapshot(on: c)
            for day in Self.days {
                let again = try await runner.run(Self.job, day)
                #expect(again.report?.totals.rowsWritten == 0, "\(day)")
                #expect(again.report?.counters?["first_seen_written"] == 0, "\(day)")
                try await expectExact(c, day, "\(day), second pass")
            }
            #expect(try await db.snapshot(on: c) == before)
        }
    }

    @Test("witness attempts deleted or made bad, a late attempt with an old created_at, a question moved to another subject: the rerun is exact")
    func lateChanges() async throws {
        try await TestPostgres.withDatabase { db in
            let (c, runner) = try await loadAndRunEveryDay(db)
            let d = Self.days.last!
            let ws = "(\("'\(d)'")::date::timestamp AT TIME ZONE '\(Self.timezone)')"

            // 1. Delete every attempt before D of five learners active on D:
            // their witnesses vanish, and they are new again on D.
            try await c.query("""
                DELETE FROM attempts WHERE created_at < \(ws) AND learner_id IN (
                    SELECT DISTINCT learner_id FROM attempts
                    WHERE created_at >= \(ws) ORDER BY learner_id LIMIT 5)
                """)
            var rerun = try await runner.run(Self.job, d)
            #expect(rerun.status == .succeeded)
            #expect((rerun.report?.counters?["first_seen_probed"] ?? 0) >= 5)
            try await expectExact(c, d, "after deletions")
            #expect((try await written(c, d))["*"] ?? 0 >= 5)

            // 2. A known pair whose every attempt before D turns into a bad
            // row (negative time_sec), its witness among them: new in that
            // subject now. And twenty more witnesses made bad rows, whose
            // pairs have other good attempts before D (or not).
            let pair = try await knownPair(c, ws, offset: 0)
            var newInSubject = (try await written(c, d))[pair.subject] ?? 0
            try await c.query("""
                UPDATE attempts a SET time_sec = -1 FROM questions q
                WHERE q.id = a.question_id AND a.learner_id = $1::uuid AND q.subject = $2 AND a.created_at < \(ws)
                """, [pair.learner, pair.subject])
            try await c.query("""
                UPDATE attempts SET time_sec = -1
                WHERE (learner_id, created_at) IN (SELECT learner_id, created_at FROM batch.us_first_seen
                                                   ORDER BY learner_id, subject LIMIT 20)
                """)
            rerun = try await runner.run(Self.job, d)
            try await expectExact(c, d, "after witnesses turned bad")
            #expect(((try await written(c, d))[pair.subject] ?? 0) > newInSubject)

            // 2b. Another known pair's attempts before D corrected to a
            // question of another subject (its witness among them): new in
            // its subject now, though the witness attempt still exists.
            let moved = try await knownPair(c, ws, offset: 1)
            newInSubject = (try await written(c, d))[moved.subject] ?? 0
            try await c.query("""
                UPDATE attempts a SET question_id = (SELECT min(id::text)::uuid FROM questions WHERE subject <> $2)
                FROM questions q
                WHERE q.id = a.question_id AND a.learner_id = $1::uuid AND q.subject = $2 AND a.created_at < \(ws)
                """, [moved.learner, moved.subject])
            rerun = try await runner.run(Self.job, d)
            try await expectExact(c, d, "after attempts moved to another subject")
            #expect(((try await written(c, d))[moved.subject] ?? 0) == newInSubject + 1)

            // 2c. A known learner's attempts before D reassigned to another
            // (new) learner: the first is new on D again, overall too.
            let reassigned = try await knownPair(c, ws, offset: 2)
            let newOverall = (try await written(c, d))["*"] ?? 0
            try await c.query("INSERT INTO learners (id) VALUES ('00000000-0000-0000-0000-00000000abcd')")
            try await c.query("""
                UPDATE attempts SET learner_id = '00000000-0000-0000-0000-00000000abcd'
                WHERE learner_id = $1::uuid AND created_at < \(ws)
                """, [reassigned.learner])
            rerun = try await runner.run(Self.job, d)
            try await expectExact(c, d, "after attempts moved to another learner")
            #expect(((try await written(c, d))["*"] ?? 0) == newOverall + 1)

            // 2d. At a known pair's witness instant, another attempt of the
            // same learner in another subject is added, and the pair's own
            // attempts at that instant turn into bad rows: the instant still
            // shows the learner practised (for '*'), not that subject.
            let shared = try await knownPair(c, ws, offset: 3)
            try await c.query("""
                INSERT INTO attempts (learner_id, question_id, session_id, attempt_no, context, correct, hint_used, time_sec, created_at)
                SELECT w.learner_id, (SELECT min(id::text)::uuid FROM questions WHERE subject <> w.subject), NULL,
                       1, 'practice', true, false, 7, w.created_at
                FROM batch.us_first_seen w WHERE w.learner_id = $1::uuid AND w.subject = $2
                """, [shared.learner, shared.subject])
            try await c.query("""
                UPDATE attempts a SET time_sec = -1 FROM questions q, batch.us_first_seen w
                WHERE q.id = a.question_id AND q.subject = w.subject
                  AND w.learner_id = $1::uuid AND w.subject = $2
                  AND a.learner_id = w.learner_id AND a.created_at = w.created_at
                """, [shared.learner, shared.subject])
            rerun = try await runner.run(Self.job, d)
            #expect((rerun.report?.counters?["first_seen_probed"] ?? 0) >= 1)
            try await expectExact(c, d, "after a witness instant lost its subject's attempt")

            // 3. A learner new on D gets a late attempt stamped before D (an
            // offline sync): not new any more.
            let newcomer = try #require(try await c.query("""
                SELECT a.learner_id::text AS l, a.question_id::text AS q FROM batch.checked_attempts a
                WHERE a.created_at >= \(ws) AND a.created_at < \(ws) + interval '1 day' AND a.bad_reason IS NULL
                  AND NOT EXISTS (SELECT 1 FROM batch.checked_attempts p
                                  WHERE p.learner_id = a.learner_id AND p.created_at < \(ws) AND p.bad_reason IS NULL)
                ORDER BY a.learner_id LIMIT 1
                """).first)
            try await c.query("""
                INSERT INTO attempts (learner_id, question_id, session_id, attempt_no, context, correct, hint_used, time_sec, created_at)
                VALUES ($1::uuid, $2::uuid, NULL, 1, 'practice', true, false, 12, \(ws) - interval '3 days')
                """, [try newcomer.decode("l", as: String.self), try newcomer.decode("q", as: String.self)])
            let before = (try await written(c, d))["*"] ?? 0
            rerun = try await runner.run(Self.job, d)
            try await expectExact(c, d, "after a late insert")
            #expect(((try await written(c, d))["*"] ?? 0) == before - 1)

            // 4. A question moves to another subject: its attempts count
            // there, before D too.
            try await c.query("""
                UPDATE questions SET subject = (SELECT min(subject) FROM questions WHERE subject <> q.subject)
                FROM (SELECT id, subject FROM questions WHERE id IN (
                          SELECT question_id FROM attempts WHERE created_at < \(ws) ORDER BY created_at LIMIT 1)) q
                WHERE questions.id = q.id
                """)
            rerun = try await runner.run(Self.job, d)
            try await expectExact(c, d, "after a question moved")

            // 5. Witnesses' created_at moved to after D; a question deleted
            // (its attempts become bad rows); a learner deleted; a newcomer's
            // late attempt stamped -infinity.
            try await c.query("""
                UPDATE attempts SET created_at = \(ws) + interval '30 hours'
                WHERE (learner_id, created_at) IN (SELECT learner_id, created_at FROM batch.us_first_seen
                                                   ORDER BY subject, learner_id LIMIT 15)
                """)
            rerun = try await runner.run(Self.job, d)
            try await expectExact(c, d, "after witnesses moved after D")
            try await c.query("""
                DELETE FROM questions WHERE id IN (
                    SELECT a.question_id FROM batch.us_first_seen w
                    JOIN attempts a ON a.learner_id = w.learner_id AND a.created_at = w.created_at
                    WHERE w.subject <> '*' ORDER BY w.learner_id, a.question_id LIMIT 2)
                """)
            rerun = try await runner.run(Self.job, d)
            try await expectExact(c, d, "after questions deleted")
            try await c.query("""
                DELETE FROM learners WHERE id IN (
                    SELECT learner_id FROM attempts WHERE created_at >= \(ws) ORDER BY learner_id DESC LIMIT 2)
                """)
            rerun = try await runner.run(Self.job, d)
            try await expectExact(c, d, "after learners deleted")
            if let late = try await c.query("""
                SELECT a.learner_id::text AS l, a.question_id::text AS q FROM batch.checked_attempts a
                WHERE a.created_at >= \(ws) AND a.created_at < \(ws) + interval '1 day' AND a.bad_reason IS NULL
                  AND NOT EXISTS (SELECT 1 FROM batch.checked_attempts p
                                  WHERE p.learner_id = a.learner_id AND p.created_at < \(ws) AND p.bad_reason IS NULL)
                ORDER BY a.learner_id DESC LIMIT 1
                """).first {
                try await c.query("""
                    INSERT INTO attempts (learner_id, question_id, session_id, attempt_no, context, correct, hint_used, time_sec, created_at)
                    VALUES ($1::uuid, $2::uuid, NULL, 1, 'practice', true, false, 12, '-infinity')
                    """, [try late.decode("l", as: String.self), try late.decode("q", as: String.self)])
                let before = (try await written(c, d))["*"] ?? 0
                rerun = try await runner.run(Self.job, d)
                try await expectExact(c, d, "after a -infinity attempt")
                #expect(((try await written(c, d))["*"] ?? 0) == before - 1)
            } else {
                Issue.record("no learner new on D left for the -infinity case")
            }
            #expect(rerun.status == .succeeded)

            // Every earlier date, rerun after all of it, is exact too.
            for day in Self.days.dropLast() {
                try await runner.run(Self.job, day)
                try await expectExact(c, day, "\(day) after the changes")
            }
        }
    }

    @Test("the probes' view (migration 0017) holds exactly the good attempts of checked_attempts, and the partial index serves it without the heap")
    func goodAttemptKeys() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            // One learner that exists; questions good, with each NULL field, and one id without a question.
            try await c.run("""
                INSERT INTO learners (id) VALUES ('00000000-0000-4000-8000-000000000001');
                INSERT INTO questions (id, subject, topic, subcategory) VALUES
                    ('00000000-0000-4000-8000-0000000000a1', 'math', 't', 'c'),
                    ('00000000-0000-4000-8000-0000000000a2', NULL, 't', 'c'),
                    ('00000000-0000-4000-8000-0000000000a3', 'math', NULL, 'c'),
                    ('00000000-0000-4000-8000-0000000000a4', 'math', 't', NULL);
                """)
            // Every combination of good and bad values of the columns checked_attempts tests (77,760 rows).
            try await c.run("""
                INSERT INTO attempts (learner_id, question_id, attempt_no, context, correct, time_sec, hint_used, user_answer, created_at)
                SELECT l, q, n, ctx, ok, t, h, ua,
                       CASE WHEN at THEN '2026-11-20T08:00:00Z'::timestamptz + row_number() OVER () * interval '1 second' END
                FROM unnest(ARRAY['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000009', NULL]::uuid[]) l,
                     unnest(ARRAY['00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a2',
                                  '00000000-0000-4000-8000-0000000000a3', '00000000-0000-4000-8000-0000000000a4',
                                  '00000000-0000-4000-8000-0000000000a9', NULL]::uuid[]) q,
                     unnest(ARRAY[NULL, 0, 1, 2]::int[]) n,
                     unnest(ARRAY[NULL, 'session', 'practice', 'daily', 'homework']::text[]) ctx,
                     unnest(ARRAY[NULL, true, false]::boolean[]) ok,
                     unnest(ARRAY[NULL, -1, 0, 5]::int[]) t,
                     unnest(ARRAY[NULL, true, false]::boolean[]) h,
                     unnest(ARRAY[NULL, '', 'x']::text[]) ua,
                     unnest(ARRAY[true, false]) at;
                ANALYZE attempts;
                """)
            let counts = try #require(try await c.query("""
                WITH good AS (SELECT learner_id, created_at, subject FROM batch.checked_attempts WHERE bad_reason IS NULL),
                     keys AS (SELECT learner_id, created_at, subject FROM batch.us_good_attempt_keys
                              WHERE created_at IS NOT NULL AND learner_id IN (SELECT id FROM learners))
                SELECT (SELECT count(*) FROM good)::int AS good,
                       (SELECT count(*) FROM (SELECT * FROM good EXCEPT ALL SELECT * FROM keys) x)::int AS only_good,
                       (SELECT count(*) FROM (SELECT * FROM keys EXCEPT ALL SELECT * FROM good) x)::int AS only_keys
                """).first)
            // The learner that exists, the good question, a created_at, and of the
            // rest: 2 attempt_no x 3 contexts x 2 correct x 2 times x 2 hints x 2 answers.
            #expect(try counts.decode("good", as: Int.self) == 96)
            #expect(try counts.decode("only_good", as: Int.self) == 0)
            #expect(try counts.decode("only_keys", as: Int.self) == 0)
            // The planner matches the view's tests to the index's predicate: an index-only scan.
            try await c.run("SET enable_seqscan = off; SET enable_bitmapscan = off;")
            let plan = try await c.query("""
                EXPLAIN (COSTS OFF) SELECT 1 FROM batch.us_good_attempt_keys g
                WHERE g.learner_id = '00000000-0000-4000-8000-000000000001' AND g.created_at < '2026-11-21T00:00:00Z'
                  AND g.subject = 'math' LIMIT 1
                """).rows.map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
            #expect(plan.contains("Index Only Scan using attempts_learner_good_idx"), "\(plan)")
            // With the visibility map set, it reads no heap page. (VACUUM
            // sets it only for rows older than every running transaction:
            // with other tests busy on the same server it may take a retry.)
            var allVisible = false
            for _ in 0..<20 where !allVisible {
                try await c.run("VACUUM public.attempts")
                allVisible = try await c.query("""
                    SELECT relallvisible = relpages AS v FROM pg_class WHERE oid = 'public.attempts'::regclass
                    """).first!.decode("v", as: Bool.self)
                if !allVisible { try await Task.sleep(for: .milliseconds(250)) }
            }
            let analyzed = try await c.query("""
                EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM batch.us_good_attempt_keys g
                WHERE g.learner_id = '00000000-0000-4000-8000-000000000001' AND g.created_at < '2026-11-21T00:00:00Z'
                """).rows.map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
            #expect(analyzed.contains("Index Only Scan using attempts_learner_good_idx"), "\(analyzed)")
            if allVisible {
                #expect(analyzed.contains("Heap Fetches: 0"), "\(analyzed)")
            }
        }
    }
}
