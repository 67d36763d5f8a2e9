import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// session-close on small hand-computed cases (computations.md,
/// "session-close"). T is 2026-11-20T12:00:00Z unless a test says otherwise;
/// the idle cut-off is then 11:30:00.
@Suite("session-close")
struct SessionCloseTests {
    static let job = "session-close"
    static let t = "2026-11-20T12:00:00Z"

    /// (ended_at, duration_sec, end_reason) of a session, ended_at as ISO text.
    func session(_ c: Connection, _ n: Int) async throws -> (String?, Int?, String?) {
        let row = try #require(try await c.query("""
            SELECT to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ended_at,
                   duration_sec, end_reason
            FROM sessions WHERE id = $1
            """, [Fixture.id("s", n)]).first)
        return (try row.decode("ended_at", as: String?.self), try row.decode("duration_sec", as: Int?.self),
                try row.decode("end_reason", as: String?.self))
    }

    func isOpen(_ c: Connection, _ n: Int) async throws -> Bool {
        let s = try await session(c, n)
        return s.0 == nil && s.1 == nil && s.2 == nil
    }

    func setUp(_ c: Connection) async throws -> Fixture {
        let f = Fixture(c)
        try await f.learner(1)
        try await f.question(1, subcategory: "math.fractions.add")
        return f
    }

    @Test("idle exactly 30 min is not closed; 30 min + 1 s is closed at the last attempt")
    func idleBoundary() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T11:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T11:10:00Z", correct: true, session: 1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T11:30:00Z", correct: true, session: 1)
            try await f.session(2, learner: 1, startedAt: "2026-11-20T11:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T11:10:00Z", correct: true, session: 2)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T11:29:59Z", correct: false, session: 2)
            // The learner's session-less practice is not the session's activity.
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T11:59:00Z", correct: true, context: "practice")
            let outcome = try await TestRunner(database: db).run(Self.job, at: Self.t)
            #expect(outcome.status == .succeeded)
            #expect(try await isOpen(c, 1))
            let closed = try await session(c, 2)
            #expect(closed.0 == "2026-11-20T11:29:59.000000Z")
            #expect(closed.1 == 29 * 60 + 59)
            #expect(closed.2 == "idle_timeout")
            #expect(outcome.report?.totals.rowsRead == 2)
            #expect(outcome.report?.totals.rowsWritten == 1)
            #expect(outcome.report?.badRows == [:])
        }
    }

    @Test("a session without attempts is closed at started_at (duration 0) once started_at is idle")
    func noAttempts() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T11:00:00Z", endedAt: nil)
            try await f.session(2, learner: 1, startedAt: "2026-11-20T11:30:00Z", endedAt: nil) // exactly 30 min
            try await f.session(3, learner: 1, startedAt: "2026-11-20T11:29:59.999999Z", endedAt: nil)
            try await TestRunner(database: db).run(Self.job, at: Self.t)
            let s1 = try await session(c, 1)
            #expect(s1.0 == "2026-11-20T11:00:00.000000Z" && s1.1 == 0 && s1.2 == "idle_timeout")
            #expect(try await isOpen(c, 2))
            let s3 = try await session(c, 3)
            #expect(s3.0 == "2026-11-20T11:29:59.999999Z" && s3.1 == 0)
        }
    }

    @Test("attempts at or after T are ignored: the last activity is the newest attempt before T")
    func attemptsAfterT() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T10:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T10:05:00Z", correct: true, session: 1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T12:00:00Z", correct: true, session: 1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T12:10:00Z", correct: true, session: 1)
            let outcome = try await TestRunner(database: db).run(Self.job, at: Self.t)
            let s = try await session(c, 1)
            #expect(s.0 == "2026-11-20T10:05:00.000000Z" && s.1 == 300 && s.2 == "idle_timeout")
            // Outside the run's window, not bad rows.
            #expect(outcome.report?.badRows == [:])
        }
    }

    @Test("sessions started at or after T, and sessions already ended, are untouched")
    func untouched() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T12:00:00Z", endedAt: nil)
            try await f.session(2, learner: 1, startedAt: "2026-11-20T12:05:00Z", endedAt: nil)
            try await f.session(3, learner: 1, startedAt: "2026-11-20T09:00:00Z", endedAt: "2026-11-20T09:20:00Z")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:10:00Z", correct: true, session: 3)
            let before = try await db.dump("sessions", on: c)
            let outcome = try await TestRunner(database: db).run(Self.job, at: Self.t)
            #expect(outcome.status == .succeeded)
            #expect(try await db.dump("sessions", on: c) == before)
            #expect(outcome.report?.totals.rowsRead == 0)
            #expect(outcome.report?.totals.rowsWritten == 0)
        }
    }

    @Test("duration_sec is floor(seconds(ended_at - started_at)); updated_at is not written")
    func durationFloor() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T10:00:00.700Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T10:10:00.200Z", correct: true, session: 1)
            try await c.query("UPDATE sessions SET updated_at = '2026-11-20T10:00:01Z'")
            try await TestRunner(database: db).run(Self.job, at: Self.t)
            let s = try await session(c, 1)
            // 599.5 s -> 599
            #expect(s.0 == "2026-11-20T10:10:00.200000Z" && s.1 == 599)
            let updated = try await c.query("SELECT updated_at = '2026-11-20T10:00:01Z' AS same FROM sessions").first!
            #expect(try updated.decode("same", as: Bool.self))
        }
    }

    @Test("an attempt stamped before its session's start does not end it before its start")
    func attemptBeforeStart() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T11:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T10:50:00Z", correct: true, session: 1)
            try await TestRunner(database: db).run(Self.job, at: Self.t)
            let s = try await session(c, 1)
            #expect(s.0 == "2026-11-20T11:00:00.000000Z" && s.1 == 0 && s.2 == "idle_timeout")
        }
    }

    @Test("a rerun as of the same T, or a later T, changes nothing and writes 0 rows")
    func rerun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T10:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T10:05:00Z", correct: true, session: 1)
            try await f.session(2, learner: 1, startedAt: "2026-11-20T11:45:00Z", endedAt: nil)
            let runner = try TestRunner(database: db)
            let first = try await runner.run(Self.job, at: Self.t)
            #expect(first.report?.totals.rowsWritten == 1)
            let before = try await db.snapshot(on: c)
            let again = try await runner.run(Self.job, at: Self.t)
            #expect(try await db.snapshot(on: c) == before)
            #expect(again.report?.totals.rowsWritten == 0)
            #expect(again.report?.totals.rowsRead == 1)
            // Later: session 2 (started 11:45, no attempts) is now idle; session 1 stays as it was.
            try await runner.run(Self.job, at: "2026-11-20T12:15:01Z")
            #expect(try await session(c, 1).0 == "2026-11-20T10:05:00.000000Z")
            #expect(try await session(c, 2).0 == "2026-11-20T11:45:00.000000Z")
        }
    }

    @Test("bad attempts are no activity and are counted; bad open sessions are untouched and counted")
    func badRows() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T10:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T10:05:00Z", correct: true, session: 1)
            try await f.attempt(learner: 1, question: 99, at: "2026-11-20T11:50:00Z", correct: true, session: 1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T11:51:00Z", correct: true, timeSec: -1, session: 1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T12:30:00Z", correct: true, timeSec: -1, session: 1)
            // A session without a learner: bad (null_value), never closed by the batch.
            try await c.query("""
                INSERT INTO sessions (id, learner_id, subject, started_at) VALUES ($1, NULL, 'math', '2026-11-20T09:00:00Z')
                """, [Fixture.id("s", 2)])
            let outcome = try await TestRunner(database: db).run(Self.job, at: Self.t)
            #expect(outcome.status == .succeeded)
            #expect(try await session(c, 1).0 == "2026-11-20T10:05:00.000000Z")
            #expect(try await isOpen(c, 2))
            #expect(outcome.report?.badRows == ["question_missing": 1, "negative_time_sec": 1, "null_value": 1])
            #expect(outcome.report?.totals.rowsRead == 1)
        }
    }

    @Test("for a logical date D, T = end_of(D) in the configured zone")
    func nightlyCut() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            // Europe/Berlin in November is UTC+1: end_of(2026-11-20) = 2026-11-20T23:00Z; idle before 22:30Z.
            try await f.session(1, learner: 1, startedAt: "2026-11-20T22:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T22:29:59Z", correct: true, session: 1)
            try await f.session(2, learner: 1, startedAt: "2026-11-20T22:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T22:30:00Z", correct: true, session: 2)
            try await f.session(3, learner: 1, startedAt: "2026-11-20T23:00:00Z", endedAt: nil)
            var config = BatchConfig()
            config.timezone = "Europe/Berlin"
            let outcome = try await TestRunner(database: db, config: config).run(Self.job, .d("2026-11-20"))
            #expect(outcome.status == .succeeded)
            #expect(outcome.report?.window.end.map(ISOInstant.format) == "2026-11-20T23:00:00.000Z")
            #expect(try await session(c, 1).0 == "2026-11-20T22:29:59.000000Z")
            #expect(try await isOpen(c, 2))
            #expect(try await isOpen(c, 3))
        }
    }

    @Test("the idle timeout comes from the config")
    func configuredTimeout() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, startedAt: "2026-11-20T11:49:59Z", endedAt: nil)
            try await f.session(2, learner: 1, startedAt: "2026-11-20T11:50:00Z", endedAt: nil)
            var config = BatchConfig()
            config.sessions.idleTimeoutMinutes = 10
            try await TestRunner(database: db, config: config).run(Self.job, at: Self.t)
            #expect(try await session(c, 1).0 == "2026-11-20T11:49:59.000000Z")
            #expect(try await isOpen(c, 2))
        }
    }
}
