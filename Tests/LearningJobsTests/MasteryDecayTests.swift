import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// mastery-decay on small hand-computed cases (computations.md, "decay" and
/// "mastery-decay"): days = max(0, seconds(T - end_of(last_practiced_on)) / 86400),
/// current_score = decay(mastery_score, days), decayed_at = T.
///
/// Serialized: every suite of the package shares one test cluster
/// (max_connections = 200), which the parallel suites come close to.
@Suite("mastery-decay", .serialized)
struct MasteryDecayTests {
    static let job = "mastery-decay"
    static let sub = "math.fractions.add"

    /// A mastery anchor as mastery-update leaves it: current_score = mastery_score,
    /// decayed_at = updated_at = end_of(last_practiced_on) in UTC.
    func anchor(_ c: Connection, learner: Int = 1, sub: String = sub, score: Double, on day: String,
                current: Double? = nil, decayedAt: String? = nil) async throws {
        try await c.query("""
            INSERT INTO mastery (learner_id, subcategory, mastery_score, last_practiced_on, current_score, decayed_at, updated_at)
            VALUES ($1, $2, $3, $4::date, $5, coalesce($6::timestamptz, ($4::date + 1)::timestamp AT TIME ZONE 'UTC'),
                    ($4::date + 1)::timestamp AT TIME ZONE 'UTC')
            """, [Fixture.id("l", learner), sub, score, day, current ?? score, decayedAt])
    }

    /// (current_score, decayed_at as ISO text in UTC) of one mastery row.
    func current(_ c: Connection, learner: Int = 1, sub: String = sub) async throws -> (Double, String)? {
        guard let row = try await c.query("""
            SELECT current_score, to_char(decayed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at
            FROM mastery WHERE learner_id = $1 AND subcategory = $2
            """, [Fixture.id("l", learner), sub]).first else { return nil }
        return (try row.decode("current_score"), try row.decode("at"))
    }

    @Test("T before or at end_of(last_practiced_on): days = 0, current = mastery_score")
    func beforeAnchorEnd() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            // A stale current_score, so the job has something to correct.
            try await anchor(c, score: 0.6, on: "2026-11-20", current: 0.1, decayedAt: "2026-11-20T00:00:00Z")
            try await anchor(c, learner: 2, score: 0.7, on: "2026-11-20", current: 0.2, decayedAt: "2026-11-20T00:00:00Z")
            let runner = try TestRunner(database: db)
            // 2026-11-20T18:00Z is before end_of(2026-11-20) = 2026-11-21T00:00Z.
            let outcome = try await runner.run(Self.job, at: "2026-11-20T18:00:00Z")
            #expect(outcome.status == .succeeded)
            #expect(try await current(c)?.0 == 0.6)
            #expect(try await current(c)?.1 == "2026-11-20T18:00:00Z")
            #expect(try await current(c, learner: 2)?.0 == 0.7)
            #expect(outcome.report?.totals.rowsRead == 2)
            #expect(outcome.report?.totals.rowsWritten == 2)
            // Exactly at the end of the day: still 0 days, nothing changes.
            let atEnd = try await runner.run(Self.job, at: "2026-11-21T00:00:00Z")
            #expect(atEnd.report?.totals.rowsWritten == 0)
            #expect(try await current(c)?.0 == 0.6)
            #expect(try await current(c)?.1 == "2026-11-20T18:00:00Z")
        }
    }

    @Test("exactly one half-life halves the distance to the floor; fractional days count")
    func oneHalfLife() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await anchor(c, score: 0.6, on: "2026-11-01")
            try await anchor(c, learner: 2, score: 0.9, on: "2026-11-01")
            let runner = try TestRunner(database: db)
            // end_of(11-01) = 11-02T00:00Z; T = 11-16T00:00Z: 14 days = h.
            try await runner.run(Self.job, at: "2026-11-16T00:00:00Z")
            // decay(0.6, 14) = 0.3 + 0.3 * 2^-1 = 0.45
            #expect(try await current(c)?.0 == referenceDecay(0.6, days: 14))
            #expect(try await current(c)?.0 == 0.3 + 0.3 * 0.5)
            #expect(try await current(c)?.1 == "2026-11-16T00:00:00Z")
            // Six hours later: 14.25 days = 1231200 s / 86400.
            try await runner.run(Self.job, at: "2026-11-16T06:00:00Z")
            #expect(try await current(c)?.0 == referenceDecay(0.6, days: 1_231_200.0 / 86_400.0))
            #expect(try await current(c, learner: 2)?.0 == referenceDecay(0.9, days: 1_231_200.0 / 86_400.0))
        }
    }

    @Test("the half-life and floor come from the config")
    func configured() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await anchor(c, score: 0.8, on: "2026-11-01")
            var config = BatchConfig()
            config.decay.halfLifeDays = 7
            config.decay.floorRatio = 0.25
            // 14 days = two half-lives: f = 0.2, 0.2 + 0.6 * 2^-2
            try await TestRunner(database: db, config: config).run(Self.job, at: "2026-11-16T00:00:00Z")
            #expect(try await current(c)?.0 == referenceDecay(0.8, days: 14, halfLife: 7, floorRatio: 0.25))
            #expect(try await current(c)?.0 == 0.25 * 0.8 + (0.8 - 0.25 * 0.8) * 0.25)
        }
    }

    @Test("elapsed real time: the 25-hour DST day in Europe/Berlin counts 25/24 days")
    func dstLongDay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await anchor(c, score: 0.6, on: "2026-10-24")
            var config = BatchConfig()
            config.timezone = "Europe/Berlin"
            // end_of(10-24) = 10-25 00:00 CEST = 10-24T22:00Z; 10-25 is 25 hours long
            // (CEST -> CET at 03:00), so T = 10-26 00:00 CET = 10-25T23:00Z is 90000 s later.
            let outcome = try await TestRunner(database: db, config: config).run(Self.job, at: "2026-10-26T00:00:00+01:00")
            #expect(outcome.status == .succeeded)
            let days = 90_000.0 / 86_400.0
            #expect(days == 25.0 / 24.0)
            #expect(try await current(c)?.0 == referenceDecay(0.6, days: days))
            #expect(try await current(c)?.0 != referenceDecay(0.6, days: 1))
            #expect(try await current(c)?.1 == "2026-10-25T23:00:00Z")
        }
    }

    @Test("an exponent beyond 1000 is clamped (no underflow error): the value sits on its floor")
    func underflowingExponent() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await anchor(c, score: 0.6, on: "1971-01-01")
            try await anchor(c, learner: 2, score: 0.0, on: "1971-01-01")
            let outcome = try await TestRunner(database: db).run(Self.job, at: "2026-11-20T06:00:00Z")
            #expect(outcome.status == .succeeded)
            // end_of(1971-01-01) = 1971-01-02T00:00Z; T is 20411.25 days later; x = 1457.9 > 1000.
            let days = 20_411.25
            #expect(days / 14 > 1000)
            #expect(try await current(c)?.0 == referenceDecay(0.6, days: days))
            #expect(try await current(c)?.0 == 0.5 * 0.6)
            // A score of 0 stays 0 and its row is not rewritten.
            #expect(try await current(c, learner: 2)?.0 == 0.0)
            #expect(try await current(c, learner: 2)?.1 == "1971-01-02T00:00:00Z")
            #expect(outcome.report?.totals.rowsWritten == 1)
            #expect(outcome.report?.totals.rowsRead == 2)
        }
    }

    @Test("running twice or skipping a slot gives the same values; a rerun writes nothing")
    func pureFunctionOfT() async throws {
        func load(_ c: Connection) async throws {
            try await anchor(c, score: 0.6, on: "2026-11-10")
            try await anchor(c, sub: "reading.vowels", score: 0.35, on: "2026-11-18")
            try await anchor(c, learner: 2, score: 0.9, on: "2026-11-19")
        }
        let everySlot = try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await load(c)
            let runner = try TestRunner(database: db)
            for slot in ["2026-11-20T00:00:00Z", "2026-11-20T06:00:00Z", "2026-11-20T12:00:00Z"] {
                try await runner.run(Self.job, at: slot)
            }
            let before = try await db.dump("mastery", on: c)
            let again = try await runner.run(Self.job, at: "2026-11-20T12:00:00Z")
            #expect(again.report?.totals.rowsWritten == 0)
            #expect(again.report?.totals.rowsRead == 3)
            #expect(try await db.dump("mastery", on: c) == before)
            return before
        }
        let skipped = try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await load(c)
            try await TestRunner(database: db).run(Self.job, at: "2026-11-20T12:00:00Z")
            return try await db.dump("mastery", on: c)
        }
        #expect(everySlot == skipped)
        #expect(everySlot.count == 3)
    }

    @Test("rows whose value would not change are not rewritten: decayed_at keeps its value")
    func unchangedNotRewritten() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            // Already decayed to 12:00, the row holds exactly decay(0.6, 9.5).
            let value = referenceDecay(0.6, days: 9.5)
            try await anchor(c, score: 0.6, on: "2026-11-10", current: value, decayedAt: "2026-11-20T12:00:00Z")
            try await anchor(c, learner: 2, score: 0.8, on: "2026-11-10", current: 0.8, decayedAt: "2026-11-11T00:00:00Z")
            let outcome = try await TestRunner(database: db).run(Self.job, at: "2026-11-20T12:00:00Z")
            #expect(outcome.report?.totals.rowsWritten == 1)
            #expect(try await current(c)?.0 == value)
            #expect(try await current(c)?.1 == "2026-11-20T12:00:00Z")
            #expect(try await current(c, learner: 2)?.0 == referenceDecay(0.8, days: 9.5))
            // updated_at belongs to the anchor (mastery-update) and stays.
            let updated = try await c.query("SELECT count(*) AS n FROM mastery WHERE updated_at = '2026-11-11T00:00:00Z'")
            #expect(try updated.first!.decode("n", as: Int.self) == 2)
        }
    }

    @Test("after mastery-update: as of end_of(D) nothing decays; a day later it does")
    func afterMasteryUpdate() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: Self.sub)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            let runner = try TestRunner(database: db)
            try await runner.run("mastery-update", .d("2026-11-20"))
            let atCut = try await runner.run(Self.job, at: "2026-11-21T00:00:00Z")
            #expect(atCut.report?.totals.rowsWritten == 0)
            #expect(try await current(c)?.0 == 0.6)
            let dayLater = try await runner.run(Self.job, at: "2026-11-22T00:00:00Z")
            #expect(dayLater.report?.totals.rowsWritten == 1)
            #expect(try await current(c)?.0 == referenceDecay(0.6, days: 1))
        }
    }

    @Test("no mastery rows: the run succeeds and reads nothing")
    func empty() async throws {
        try await TestPostgres.withDatabase { db in
            let outcome = try await TestRunner(database: db).run(Self.job, at: "2026-11-20T06:00:00Z")
            #expect(outcome.status == .succeeded)
            #expect(outcome.report?.totals.rowsRead == 0)
            #expect(outcome.report?.totals.rowsWritten == 0)
            #expect(outcome.report?.steps.map(\.name) == ["decay"])
        }
    }
}
