import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// learning-impact's incremental aggregates (`batch.li_*`) against a
/// from-scratch recomputation, after reruns, backfills, late data and the
/// changes that force a rebuild.
///
/// Three checks: `batch.li_aggregate_drift(D, zone, max_opportunity)`
/// recomputes every aggregate row from the attempts (one window over all
/// history) and lists the differences; the stats a run writes must equal
/// what a run on dropped aggregates (rebuilt from all history in one pass)
/// writes: that rerun must write 0 rows; and they must equal, row for row,
/// what the from-scratch job of commit 340e6a1 (`LearningImpactReference`)
/// writes on a copy of the same data.
@Suite("learning-impact aggregates")
struct LearningImpactAggregateTests {
    static let job = "learning-impact"
    static let days: [LocalDate] = (14...20).map { LocalDate.d("2026-11-\($0)") }
    static let now = ISOInstant.parse("2026-11-25T06:00:00Z")!

    static func config(timezone: String = "Europe/Berlin") -> BatchConfig {
        var config = BatchConfig()
        config.timezone = timezone
        return config
    }

    func load(_ db: TestDatabase) async throws -> Connection {
        let c = try await db.connect()
        _ = try await DemoData.load(on: c, learners: 30, days: 14, seed: 5, endDate: .d("2026-11-21"), timezone: "Europe/Berlin")
        return c
    }

    func orchestrator(_ db: TestDatabase, _ config: BatchConfig = Self.config()) throws -> Orchestrator {
        Orchestrator(runner: try TestRunner(database: db, config: config, now: Self.now).runner)
    }

    func run(_ db: TestDatabase, _ days: [LocalDate], cascade: Orchestrator.CascadeMode = .automatic,
             config: BatchConfig = Self.config()) async throws {
        let outcome = try await orchestrator(db, config).runDates(job: Self.job, dates: days, trigger: .backfill,
                                                                  dryRun: false, cascade: cascade, args: RunArgs())
        #expect(outcome == .success)
    }

    /// The differences from a from-scratch recomputation, as text.
    func drift(_ c: Connection, upto: LocalDate, config: BatchConfig = Self.config()) async throws -> [String] {
        try await c.query("SELECT aggregate, day::text AS day, side, row_text FROM batch.li_aggregate_drift($1, $2, $3)",
                          [upto, config.timezone, config.impact.maxOpportunity])
            .rows.map {
                "\(try $0.decode("aggregate", as: String.self)) \(try $0.decode("day", as: String?.self) ?? "-") "
                    + "\(try $0.decode("side", as: String.self)): \(try $0.decode("row_text", as: String.self))"
            }
    }

    func stats(_ c: Connection) async throws -> [String] {
        try await c.query("""
            SELECT row FROM (SELECT q::text AS row FROM question_stats q
                             UNION ALL SELECT s::text FROM subcategory_stats s) x ORDER BY row COLLATE "C"
            """).rows.map { try $0.decode("row", as: String.self) }
    }

    /// Drops the aggregates and reruns `day`: rebuilt from all history in one
    /// pass, the stats must come out the same (0 rows written).
    func expectSameAsFromScratch(_ db: TestDatabase, _ c: Connection, _ day: LocalDate,
                                 config: BatchConfig = Self.config()) async throws {
        #expect(try await drift(c, upto: day, config: config) == [])
        let before = try await stats(c)
        #expect(!before.isEmpty)
        try await c.query("DELETE FROM batch.li_state")
        let rebuilt = try await TestRunner(database: db, config: config, now: Self.now).run(Self.job, day)
        #expect(rebuilt.status == .succeeded)
        #expect(rebuilt.report?.totals.rowsWritten == 0)
        #expect((rebuilt.report?.counters?["aggregate_days_dropped"] ?? 0) > 0)
        #expect(try await stats(c) == before)
        #expect(try await drift(c, upto: day, config: config) == [])
        #expect(try await referenceStats(c, day, config: config) == before)
    }

    /// The app tables of `c`'s database copied into a fresh database, where
    /// the from-scratch reference job runs for `day`: its stats.
    func referenceStats(_ c: Connection, _ day: LocalDate, config: BatchConfig = Self.config()) async throws -> [String] {
        let tables = ["learners", "questions", "sessions", "attempts"]
        var dumps: [String: [String]] = [:]
        for table in tables {
            dumps[table] = try await c.query("SELECT to_jsonb(t)::text AS row FROM \(table) t").rows
                .map { try $0.decode("row", as: String.self) }
        }
        return try await TestPostgres.withDatabase { ref in
            let r = try await ref.connect()
            for table in tables {
                try await r.query("""
                    INSERT INTO \(table) SELECT (jsonb_populate_record(NULL::\(table), j::jsonb)).*
                    FROM unnest($1::text[]) AS j
                    """, [dumps[table] ?? []])
            }
            let outcome = try await TestRunner(database: ref, config: config, registry: LearningImpactReference.registry,
                                               now: Self.now).run(LearningImpactReference.name, day)
            #expect(outcome.status == .succeeded)
            return try await stats(r)
        }
    }

    func aggregateRows(_ c: Connection) async throws -> Int {
        try await c.query("""
            SELECT (SELECT count(*) FROM batch.li_question_day) + (SELECT count(*) FROM batch.li_opportunity)
                   + (SELECT count(*) FROM batch.li_curve_day) AS n
            """).first!.decode("n", as: Int.self)
    }

    @Test("day by day: after each day the aggregates equal a from-scratch recomputation; the first run fills all history")
    func dayByDay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            // The first run, for the first day, builds every earlier day too.
            try await run(db, [Self.days[0]])
            let built = try await c.query("SELECT min(day)::text AS lo, max(day)::text AS hi FROM batch.li_days").first!
            #expect(try built.decode("lo", as: String.self) == "2026-11-08")
            #expect(try built.decode("hi", as: String.self) == "2026-11-14")
            for day in Self.days.dropFirst() {
                try await run(db, [day])
                #expect(try await drift(c, upto: day) == [], "\(day)")
            }
            #expect(try await aggregateRows(c) > 0)
            try await expectSameAsFromScratch(db, c, Self.days.last!)
        }
    }

    @Test("a backfill before processed dates (cascade) ends equal to a from-scratch recomputation, and to day by day")
    func backfillBefore() async throws {
        let dayByDay = try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            for day in Self.days { try await run(db, [day]) }
            return try await stats(c)
        }
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            try await run(db, Array(Self.days[4...]))
            try await run(db, Array(Self.days[..<4]))   // cascades over days[4...]
            #expect(try await stats(c) == dayByDay)
            try await expectSameAsFromScratch(db, c, Self.days.last!)
        }
    }

    @Test("late first attempts on an old day: its rerun cascades and shifts the later opportunities; --no-cascade leaves the later days unbuilt until the next run")
    func lateDataRerun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            for day in Self.days { try await run(db, [day]) }
            let last = Self.days.last!
            // Every learner gets a new first attempt early on 2026-11-16, in
            // the subcategory of their earliest first attempt: k shifts by one
            // for every later opportunity of those pairs.
            try await c.query("""
                INSERT INTO attempts (learner_id, question_id, session_id, attempt_no, context, correct, time_sec, hint_used, created_at)
                SELECT DISTINCT ON (a.learner_id) a.learner_id, a.question_id, NULL, 1, 'practice', true, 12, false,
                       '2026-11-16T06:00:00+01'::timestamptz
                FROM attempts a WHERE a.attempt_no = 1 ORDER BY a.learner_id, a.created_at, a.id
                """)
            #expect(try await drift(c, upto: last).isEmpty == false)

            // --no-cascade: the rerun day is right, the later days lose their
            // mark (their numbering shifted) and are rebuilt by the next run.
            try await run(db, [.d("2026-11-16")], cascade: .skip)
            let unbuilt = try await drift(c, upto: last).filter { $0.hasPrefix("li_days") }
            #expect(unbuilt.count == 4)   // 11-17 .. 11-20
            #expect(try await drift(c, upto: .d("2026-11-16")) == [])
            try await run(db, [last])
            #expect(try await drift(c, upto: last) == [])
            try await expectSameAsFromScratch(db, c, last)

            // With the cascade, the same kind of change is repaired in one call.
            try await c.query("""
                DELETE FROM attempts WHERE id IN (SELECT id FROM attempts
                                                  WHERE created_at = '2026-11-16T06:00:00+01'::timestamptz
                                                  ORDER BY id LIMIT 5)
                """)
            try await run(db, [.d("2026-11-16")])
            #expect(try await drift(c, upto: last) == [])
            try await expectSameAsFromScratch(db, c, last)
        }
    }

    @Test("an unchanged rerun of an old date writes nothing and keeps every later day built")
    func unchangedRerun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            for day in Self.days { try await run(db, [day]) }
            let before = try await c.query("SELECT count(*) AS n FROM batch.li_days").first!.decode("n", as: Int.self)
            let outcome = try await TestRunner(database: db, config: Self.config(), now: Self.now).run(Self.job, .d("2026-11-16"))
            #expect(outcome.status == .succeeded)
            // (The stats are written as of 11-16 now: a run writes D's values; the aggregates stay.)
            #expect(outcome.report?.counters?["aggregate_rows"] ?? 0 == 0)
            #expect(outcome.report?.counters?["aggregate_days_dropped"] ?? 0 == 0)
            #expect(try await c.query("SELECT count(*) AS n FROM batch.li_days").first!.decode("n", as: Int.self) == before)
            #expect(try await drift(c, upto: Self.days.last!) == [])
        }
    }

    @Test("a question moved to another subcategory, or a changed zone, rebuilds the aggregates from all history")
    func rebuilds() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            for day in Self.days { try await run(db, [day]) }
            let last = Self.days.last!
            try await c.query("""
                UPDATE questions q
                SET subcategory = (SELECT min(x.subcategory) FROM questions x WHERE x.subcategory <> q.subcategory)
                WHERE id = (SELECT question_id FROM attempts WHERE attempt_no = 1 GROUP BY question_id
                            ORDER BY count(*) DESC, question_id LIMIT 1)
                """)
            #expect(try await drift(c, upto: last).isEmpty == false)
            let moved = try await TestRunner(database: db, config: Self.config(), now: Self.now).run(Self.job, last)
            #expect((moved.report?.counters?["aggregate_days_dropped"] ?? 0) > 0)
            #expect(try await drift(c, upto: last) == [])
            try await expectSameAsFromScratch(db, c, last)

            let utc = Self.config(timezone: "UTC")
            let rezoned = try await TestRunner(database: db, config: utc, now: Self.now).run(Self.job, last)
            #expect((rezoned.report?.counters?["aggregate_days_dropped"] ?? 0) > 0)
            #expect(try await c.query("SELECT timezone FROM batch.li_state").first!.decode("timezone", as: String.self) == "UTC")
            #expect(try await drift(c, upto: last, config: utc) == [])
            try await expectSameAsFromScratch(db, c, last, config: utc)
        }
    }

    @Test("first attempts left out as bad rows count from their own day once they are good: a question created after its attempts, a question that gets its subcategory")
    func laterGood() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            let f = Fixture(c)
            // Question 901 does not exist yet; question 902 has no subcategory.
            try await c.query("INSERT INTO questions (id, subject, topic, subcategory) VALUES ($1, 'math', 't', NULL)",
                              [Fixture.id("q", 902)])
            for (i, learner) in try await c.query("SELECT id FROM learners ORDER BY id LIMIT 6").rows.enumerated() {
                let id = try learner.decode("id", as: UUID.self)
                for (q, hour) in [(901, 8), (902, 9)] {
                    try await c.query("""
                        INSERT INTO attempts (learner_id, question_id, attempt_no, context, correct, time_sec, created_at)
                        VALUES ($1, $2, 1, 'practice', $3, 20, $4::timestamptz)
                        """, [id, Fixture.id("q", q), i % 2 == 0, "2026-11-15T\(hour):00:00+01"])
                }
            }
            for day in Self.days { try await run(db, [day]) }
            let last = Self.days.last!
            #expect(try await drift(c, upto: last) == [])
            #expect(try await c.query("SELECT count(*) AS n FROM batch.li_excluded").first!.decode("n", as: Int.self) >= 12)

            try await f.question(901, subcategory: "late.arrival")
            try await c.query("UPDATE questions SET subcategory = 'late.arrival' WHERE id = $1", [Fixture.id("q", 902)])
            #expect(try await drift(c, upto: last).isEmpty == false)
            let outcome = try await TestRunner(database: db, config: Self.config(), now: Self.now).run(Self.job, last)
            #expect(outcome.report?.counters?["aggregate_revalidated"] == 12)
            #expect(outcome.report?.counters?["aggregate_days_built"] == 6)   // 11-15 .. 11-20
            #expect(try await drift(c, upto: last) == [])
            let late = try await c.query("SELECT first_attempts FROM subcategory_stats WHERE subcategory = 'late.arrival'").first
            #expect(try late?.decode("first_attempts", as: Int.self) == 12)   // 6 learners x 2 questions, all in W
            try await expectSameAsFromScratch(db, c, last)
        }
    }

    @Test("an attempt stamped -infinity (or in 1970) neither hangs the run nor counts in any day")
    func infinity() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            let learner = try await c.query("SELECT id FROM learners ORDER BY id LIMIT 1").first!.decode("id", as: UUID.self)
            let question = try await c.query("SELECT id FROM questions ORDER BY id LIMIT 1").first!.decode("id", as: UUID.self)
            try await c.query("""
                INSERT INTO attempts (learner_id, question_id, attempt_no, context, correct, time_sec, created_at)
                VALUES ($1, $2, 1, 'practice', true, 20, '-infinity'), ($1, $2, 1, 'practice', true, 20, 'infinity')
                """, [learner, question])
            try await run(db, [Self.days[0]])
            let built = try await c.query("SELECT min(day)::text AS lo FROM batch.li_days").first!
            #expect(try built.decode("lo", as: String.self) == "2026-11-08")
            #expect(try await drift(c, upto: Self.days[0]) == [])

            try await c.query("""
                INSERT INTO attempts (learner_id, question_id, attempt_no, context, correct, time_sec, created_at)
                VALUES ($1, $2, 1, 'practice', true, 20, '1970-01-01T00:00:00Z')
                """, [learner, question])
            try await c.query("DELETE FROM batch.li_state")
            try await run(db, [Self.days[1]])
            #expect(try await c.query("SELECT count(*) AS n FROM batch.li_days").first!.decode("n", as: Int.self)
                    == 20_773)   // 1970-01-01 .. 2026-11-15, every day built
            #expect(try await drift(c, upto: Self.days[1]) == [])
        }
    }

    @Test("learning-impact runs in one REPEATABLE READ snapshot")
    func isolation() {
        #expect(LearningImpact.definition.isolation == "REPEATABLE READ")
    }

    @Test("a dry run leaves the aggregates as they were")
    func dryRun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            let outcome = try await TestRunner(database: db, config: Self.config(), now: Self.now).run(Self.job, Self.days[0], dryRun: true)
            #expect(outcome.status == .succeeded)
            #expect(try await aggregateRows(c) == 0)
            #expect(try await c.query("SELECT count(*) AS n FROM batch.li_days").first!.decode("n", as: Int.self) == 0)
        }
    }
}
