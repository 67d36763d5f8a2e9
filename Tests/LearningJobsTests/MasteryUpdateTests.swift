import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// mastery-update on small hand-computed cases (computations.md).
@Suite("mastery-update")
struct MasteryUpdateTests {
    static let job = "mastery-update"
    static let sub = "math.fractions.add"

    /// (mastery_score, attempts, correct, performance) of one history row.
    func history(_ c: Connection, learner: Int = 1, sub: String = sub, _ day: String) async throws -> (Double, Int, Int, Double)? {
        guard let row = try await c.query("""
            SELECT mastery_score, attempts, correct, performance FROM mastery_history
            WHERE learner_id = $1 AND subcategory = $2 AND recorded_date = $3::date
            """, [Fixture.id("l", learner), sub, day]).first else { return nil }
        return (try row.decode("mastery_score"), try row.decode("attempts"), try row.decode("correct"), try row.decode("performance"))
    }

    func mastery(_ c: Connection, learner: Int = 1, sub: String = sub) async throws -> (Double, String, Double)? {
        guard let row = try await c.query("""
            SELECT mastery_score, last_practiced_on::text AS d, current_score FROM mastery
            WHERE learner_id = $1 AND subcategory = $2
            """, [Fixture.id("l", learner), sub]).first else { return nil }
        return (try row.decode("mastery_score"), try row.decode("d"), try row.decode("current_score"))
    }

    func setUp(_ c: Connection) async throws -> Fixture {
        let f = Fixture(c)
        try await f.learner(1)
        try await f.question(1, subcategory: Self.sub)
        try await f.question(2, subcategory: Self.sub)
        try await f.question(3, subcategory: "reading.vowels")
        return f
    }

    @Test("first day: credit 1 / hint_credit / 0, new = alpha * perf + (1 - alpha) * initial")
    func firstDay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 2, at: "2026-11-20T09:01:00Z", correct: true, hint: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:02:00Z", correct: false)
            try await f.attempt(learner: 1, question: 2, at: "2026-11-20T09:03:00Z", correct: false, hint: true)
            let outcome = try await TestRunner(database: db).run(Self.job, .d("2026-11-20"))
            #expect(outcome.status == .succeeded)
            let h = try #require(try await history(c, "2026-11-20"))
            // perf = (1 + 0.5 + 0 + 0) / 4 = 0.375; new = 0.6 * 0.375 + 0.4 * 0 = 0.225
            #expect(h.3 == 0.375)
            #expect(h.0 == 0.6 * 0.375 + (1 - 0.6) * 0.0)
            #expect(h.1 == 4 && h.2 == 2)
            let m = try #require(try await mastery(c))
            #expect(m.0 == h.0 && m.1 == "2026-11-20" && m.2 == h.0)
            #expect(outcome.report?.totals.rowsWritten == 2)
            #expect(outcome.report?.totals.rowsRead == 4)
        }
    }

    @Test("consecutive days: no decay between adjacent days")
    func consecutiveDays() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-19T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: false)
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, .d("2026-11-19"))
            try await runner.run(Self.job, .d("2026-11-20"))
            #expect(try await history(c, "2026-11-19")?.0 == 0.6)
            // prev = decay(0.6, 0) = 0.6; new = 0.6 * 0 + 0.4 * 0.6
            #expect(try await history(c, "2026-11-20")?.0 == 0.6 * 0.0 + (1 - 0.6) * referenceDecay(0.6, days: 0))
            #expect(try await mastery(c)?.1 == "2026-11-20")
        }
    }

    @Test("an idle gap decays the previous value over the idle days (D - D' - 1)")
    func idleGap() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "2026-10-01T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-10-16T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-10-16T09:05:00Z", correct: false)
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, .d("2026-10-01"))
            try await runner.run(Self.job, .d("2026-10-16"))
            // 14 idle days = one half-life: decay(0.6, 14) = 0.3 + 0.3 * 0.5 = 0.45
            let prev = referenceDecay(0.6, days: 14)
            #expect(abs(prev - 0.45) < 1e-15)
            #expect(try await history(c, "2026-10-16")?.0 == 0.6 * 0.5 + (1 - 0.6) * prev)
        }
    }

    @Test("a gap long enough to underflow 2^(-x) is clamped: the value sits on its floor")
    func underflowingDecay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "1971-01-01T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-01-01T09:00:00Z", correct: false)
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, .d("1971-01-01"))
            let outcome = try await runner.run(Self.job, .d("2026-01-01"))
            #expect(outcome.status == .succeeded)
            // x = 20088 / 14 > 1000: prev = f + (m0 - f) * 2^-1000 (= f in double)
            #expect(try await history(c, "2026-01-01")?.0 == (1 - 0.6) * referenceDecay(0.6, days: 20088))
        }
    }

    @Test("only the configured contexts count; a day with none writes nothing")
    func contexts() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true, context: "practice")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:01:00Z", correct: true, context: "daily")
            let outcome = try await TestRunner(database: db).run(Self.job, .d("2026-11-20"))
            #expect(outcome.status == .succeeded)
            #expect(outcome.report?.totals.rowsWritten == 0)
            #expect(try await f.count("mastery_history") == 0)

            var config = BatchConfig()
            config.mastery.contexts = ["session", "practice"]
            config.mastery.alpha = 0.5
            try await TestRunner(database: db, config: config).run(Self.job, .d("2026-11-20"))
            #expect(try await history(c, "2026-11-20")?.0 == 0.5 * 1.0)
            #expect(try await history(c, "2026-11-20")?.1 == 1)
        }
    }

    @Test("no attempts at all: the run succeeds and writes nothing")
    func noAttempts() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            _ = try await setUp(c)
            let outcome = try await TestRunner(database: db).run(Self.job, .d("2026-11-20"))
            #expect(outcome.status == .succeeded)
            #expect(outcome.report?.totals.rowsWritten == 0)
            #expect(outcome.report?.steps.count == 4)
        }
    }

    @Test("each subcategory and learner is its own series")
    func separateSeries() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.learner(2)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 3, at: "2026-11-20T09:01:00Z", correct: false)
            try await f.attempt(learner: 2, question: 3, at: "2026-11-20T09:02:00Z", correct: true, hint: true)
            try await TestRunner(database: db).run(Self.job, .d("2026-11-20"))
            #expect(try await history(c, learner: 1, sub: Self.sub, "2026-11-20")?.0 == 0.6)
            #expect(try await history(c, learner: 1, sub: "reading.vowels", "2026-11-20")?.0 == 0.0)
            #expect(try await history(c, learner: 2, sub: "reading.vowels", "2026-11-20")?.0 == 0.6 * 0.5)
            #expect(try await f.count("mastery") == 3)
        }
    }

    @Test("the day is [D 00:00, D+1 00:00) in the configured zone, also on a 23-hour DST day")
    func dstBoundary() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            // Europe/Berlin, 2026-03-29: clocks jump 02:00 -> 03:00 (CET -> CEST).
            // D starts at 2026-03-28T23:00Z and ends at 2026-03-29T22:00Z.
            try await f.attempt(learner: 1, question: 1, at: "2026-03-28T22:59:59Z", correct: false) // 03-28 23:59:59 CET
            try await f.attempt(learner: 1, question: 1, at: "2026-03-28T23:00:00Z", correct: true)  // 03-29 00:00 CET
            try await f.attempt(learner: 1, question: 1, at: "2026-03-29T21:59:59Z", correct: true)  // 03-29 23:59:59 CEST
            try await f.attempt(learner: 1, question: 1, at: "2026-03-29T22:00:00Z", correct: false) // 03-30 00:00 CEST
            var config = BatchConfig()
            config.timezone = "Europe/Berlin"
            let outcome = try await TestRunner(database: db, config: config).run(Self.job, .d("2026-03-29"))
            let h = try #require(try await history(c, "2026-03-29"))
            #expect(h.1 == 2 && h.2 == 2 && h.0 == 0.6)
            let window = try #require(outcome.report?.window)
            #expect(window.start.map(ISOInstant.format) == "2026-03-28T23:00:00.000Z")
            #expect(window.end.map(ISOInstant.format) == "2026-03-29T22:00:00.000Z")
        }
    }

    @Test("bad attempts are excluded and counted by first reason; the job succeeds")
    func badRows() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 99, at: "2026-11-20T09:01:00Z", correct: false)       // question missing
            try await f.attempt(learner: 7, question: 1, at: "2026-11-20T09:01:00Z", correct: false)        // learner missing
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:02:00Z", correct: nil)          // NULL
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:03:00Z", correct: false, timeSec: -3)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:04:00Z", correct: false, attemptNo: 0)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:05:00Z", correct: false, context: "homework")
            try await f.attempt(learner: 1, question: 99, at: "2026-11-20T09:06:00Z", correct: false, timeSec: -1) // first reason only
            let before = try await db.dump("attempts", on: c)
            let outcome = try await TestRunner(database: db).run(Self.job, .d("2026-11-20"))
            #expect(outcome.status == .succeeded)
            #expect(outcome.report?.badRows == ["question_missing": 2, "learner_missing": 1, "null_value": 1,
                                                "negative_time_sec": 1, "attempt_no_below_1": 1, "unknown_context": 1])
            let h = try #require(try await history(c, "2026-11-20"))
            #expect(h.1 == 1 && h.0 == 0.6)
            #expect(try await db.dump("attempts", on: c) == before)
        }
    }

    @Test("rerunning the same date changes nothing, and the rerun is recorded with 0 rows written")
    func rerunSameDate() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            for (day, correct) in [("2026-11-17", true), ("2026-11-18", false), ("2026-11-20", true)] {
                try await f.attempt(learner: 1, question: 1, at: "\(day)T09:00:00Z", correct: correct)
                try await f.attempt(learner: 1, question: 3, at: "\(day)T09:01:00Z", correct: !correct, hint: true)
            }
            let runner = try TestRunner(database: db)
            for day in ["2026-11-17", "2026-11-18", "2026-11-20"] { try await runner.run(Self.job, .d(day)) }
            let before = try await db.snapshot(on: c)
            let again = try await runner.run(Self.job, .d("2026-11-20"))
            let older = try await runner.run(Self.job, .d("2026-11-17"))
            #expect(try await db.snapshot(on: c) == before)
            #expect(again.report?.totals.rowsWritten == 0)
            #expect(older.report?.totals.rowsWritten == 0)
            let runs = try await c.query("SELECT count(*) AS n FROM batch.job_runs WHERE job = $1 AND status = 'succeeded'", [Self.job])
            #expect(try runs.first!.decode("n", as: Int.self) == 5)
        }
    }

    @Test("a rerun does not undo a later decay of current_score")
    func rerunKeepsDecay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, .d("2026-11-20"))
            try await c.query("UPDATE mastery SET current_score = 0.5, decayed_at = '2026-11-22T00:00:00Z'")
            let before = try await db.dump("mastery", on: c)
            try await runner.run(Self.job, .d("2026-11-20"))
            #expect(try await db.dump("mastery", on: c) == before)
        }
    }

    @Test("rerunning an older date after new input equals processing every day once, in order")
    func rerunOlderDate() async throws {
        let days = ["2026-11-10", "2026-11-11", "2026-11-14", "2026-11-20"]
        func loadLate(_ f: Fixture) async throws {
            // Arrives after the first pass: three more answers on 11-11.
            try await f.attempt(learner: 1, question: 1, at: "2026-11-11T20:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-11T20:01:00Z", correct: true)
            try await f.attempt(learner: 1, question: 3, at: "2026-11-11T20:02:00Z", correct: true)
        }
        func load(_ f: Fixture, late: Bool) async throws {
            for (i, day) in days.enumerated() {
                try await f.attempt(learner: 1, question: 1, at: "\(day)T09:00:00Z", correct: i % 2 == 0)
                try await f.attempt(learner: 1, question: 2, at: "\(day)T09:01:00Z", correct: true, hint: i % 3 == 0)
                try await f.attempt(learner: 1, question: 3, at: "\(day)T09:02:00Z", correct: i % 2 == 1)
            }
            if late { try await loadLate(f) }
        }
        // Reference: every day once, in order, with all the data.
        let expected = try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await load(f, late: true)
            let runner = try TestRunner(database: db)
            for day in days { try await runner.run(Self.job, .d(day)) }
            return [try await db.dump("mastery_history", on: c), try await db.dump("mastery", on: c).map(Self.withoutBookkeeping)]
        }
        // Processed in order, then late data arrives and only 11-11 is rerun.
        let rerun = try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await load(f, late: false)
            let runner = try TestRunner(database: db)
            for day in days { try await runner.run(Self.job, .d(day)) }
            try await loadLate(f)
            try await runner.run(Self.job, .d("2026-11-11"))
            return [try await db.dump("mastery_history", on: c), try await db.dump("mastery", on: c).map(Self.withoutBookkeeping)]
        }
        // Out of order: newest first, then the rest backwards.
        let backwards = try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await load(f, late: true)
            let runner = try TestRunner(database: db)
            for day in days.reversed() { try await runner.run(Self.job, .d(day)) }
            return [try await db.dump("mastery_history", on: c), try await db.dump("mastery", on: c).map(Self.withoutBookkeeping)]
        }
        #expect(rerun == expected)
        #expect(backwards == expected)
    }

    /// A mastery row without decayed_at/updated_at (bookkeeping, which
    /// legitimately differs between histories of runs).
    static func withoutBookkeeping(_ row: String) -> String {
        row.split(separator: ",").prefix(5).joined(separator: ",")
    }

    @Test("a date whose attempts vanished loses its history row; the later dates are recomputed")
    func vanishedInput() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-10T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-11T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-12T09:00:00Z", correct: false)
            let runner = try TestRunner(database: db)
            for day in ["2026-11-10", "2026-11-11", "2026-11-12"] { try await runner.run(Self.job, .d(day)) }
            try await c.query("DELETE FROM attempts WHERE created_at::date = '2026-11-11'")
            try await runner.run(Self.job, .d("2026-11-11"))
            #expect(try await history(c, "2026-11-11") == nil)
            // 11-12 now follows 11-10 with one idle day.
            #expect(try await history(c, "2026-11-12")?.0 == 0.4 * referenceDecay(0.6, days: 1))
            #expect(try await mastery(c)?.0 == 0.4 * referenceDecay(0.6, days: 1))
        }
    }

    @Test("the newest practice day vanished: the mastery row goes back to the day before it")
    func vanishedNewestDay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-10T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-11T09:00:00Z", correct: false)
            let runner = try TestRunner(database: db)
            for day in ["2026-11-10", "2026-11-11"] { try await runner.run(Self.job, .d(day)) }
            #expect(try await mastery(c)?.1 == "2026-11-11")
            try await c.query("DELETE FROM attempts WHERE created_at::date = '2026-11-11'")
            try await runner.run(Self.job, .d("2026-11-11"))
            #expect(try await history(c, "2026-11-11") == nil)
            let m = try #require(try await mastery(c))
            #expect(m.0 == 0.6 && m.1 == "2026-11-10" && m.2 == 0.6)
        }
    }

    @Test("a pair whose only practice day vanished loses its history and its mastery row; other pairs keep theirs")
    func vanishedOnlyDay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.learner(2)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-10T09:00:00Z", correct: true)
            try await f.attempt(learner: 2, question: 1, at: "2026-11-10T10:00:00Z", correct: true)
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, .d("2026-11-10"))
            #expect(try await mastery(c, learner: 1) != nil)
            try await c.query("DELETE FROM attempts WHERE learner_id = $1", [Fixture.id("l", 1)])
            let outcome = try await runner.run(Self.job, .d("2026-11-10"))
            #expect(try await history(c, learner: 1, "2026-11-10") == nil)
            #expect(try await mastery(c, learner: 1) == nil)
            #expect(try await mastery(c, learner: 2)?.0 == 0.6 * 1.0)
            // One history row and one mastery row deleted; learner 2 unchanged.
            #expect(outcome.report?.totals.rowsWritten == 2)
        }
    }
}
