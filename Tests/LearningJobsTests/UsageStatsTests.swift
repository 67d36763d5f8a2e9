import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// usage-stats on small hand-computed cases (computations.md, "usage-stats").
///
/// Serialized: every suite of the package shares one test cluster
/// (max_connections = 200), which the parallel suites come close to.
@Suite("usage-stats", .serialized)
struct UsageStatsTests {
    static let job = "usage-stats"
    static let day = "2026-11-20"

    struct Usage: Equatable, CustomStringConvertible {
        var activeLearners: Int
        var newLearners: Int
        var sessionsStarted: Int
        var attempts: Int
        var correct: Int
        var correctRatio: Double?
        var practiceSeconds: Int
        var avgSessionMinutes: Double?

        var description: String {
            "active \(activeLearners) new \(newLearners) sessions \(sessionsStarted) attempts \(attempts) correct \(correct) "
                + "ratio \(correctRatio.map { "\($0)" } ?? "NULL") seconds \(practiceSeconds) "
                + "avg \(avgSessionMinutes.map { "\($0)" } ?? "NULL")"
        }
    }

    /// Every row of daily_usage for `day`, by subject.
    func usage(_ c: Connection, _ day: String = day) async throws -> [String: Usage] {
        var result: [String: Usage] = [:]
        for row in try await c.query("SELECT * FROM daily_usage WHERE day = $1::date", [day]).rows {
            result[try row.decode("subject", as: String.self)] = Usage(
                activeLearners: try row.decode("active_learners"), newLearners: try row.decode("new_learners"),
                sessionsStarted: try row.decode("sessions_started"), attempts: try row.decode("attempts"),
                correct: try row.decode("correct"), correctRatio: try row.decode("correct_ratio", as: Double?.self),
                practiceSeconds: try row.decode("practice_seconds"),
                avgSessionMinutes: try row.decode("avg_session_minutes", as: Double?.self))
        }
        return result
    }

    /// Learners 1-3; q1, q2 math (two subcategories), q3 reading.
    func setUp(_ c: Connection) async throws -> Fixture {
        let f = Fixture(c)
        for n in 1...3 { try await f.learner(n) }
        try await f.question(1, subcategory: "math.add", subject: "math")
        try await f.question(2, subcategory: "math.sub", subject: "math")
        try await f.question(3, subcategory: "reading.vowels", subject: "reading")
        return f
    }

    /// The day of the main case (see `perSubject`).
    func loadDay(_ f: Fixture) async throws {
        // History before D: learner 1 did math, learner 2 reading; learner 3's
        // only earlier attempt is bad (its question is missing), so it does not count.
        try await f.attempt(learner: 1, question: 1, at: "2026-11-10T09:00:00Z", correct: true)
        try await f.attempt(learner: 2, question: 3, at: "2026-11-15T09:00:00Z", correct: true)
        try await f.attempt(learner: 3, question: 99, at: "2026-11-01T09:00:00Z", correct: true)
        // s1: learner 1, a math session of 30 minutes, with a reading question in it.
        try await f.session(1, learner: 1, subject: "math", startedAt: "2026-11-20T09:00:00Z", endedAt: "2026-11-20T09:30:00Z")
        try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:01:00Z", correct: true, timeSec: 10, session: 1)
        try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:02:00Z", correct: false, hint: true, timeSec: 20, session: 1)
        try await f.attempt(learner: 1, question: 3, at: "2026-11-20T09:03:00Z", correct: true, hint: true, timeSec: 30, session: 1)
        // s2: learner 2, a reading session of 45 minutes; then a math practice answer without a session.
        try await f.session(2, learner: 2, subject: "reading", startedAt: "2026-11-20T10:00:00Z", endedAt: "2026-11-20T10:45:00Z")
        try await f.attempt(learner: 2, question: 3, at: "2026-11-20T10:01:00Z", correct: false, timeSec: 40, session: 2)
        try await f.attempt(learner: 2, question: 1, at: "2026-11-20T11:00:00Z", correct: true, context: "practice", timeSec: 5)
        // s3: learner 3, a math session without attempts: counts nowhere.
        try await f.session(3, learner: 3, subject: "math", startedAt: "2026-11-20T12:00:00Z", endedAt: "2026-11-20T12:10:00Z")
        // s4: learner 3, a math session still open: started, but no duration.
        try await f.session(4, learner: 3, subject: "math", startedAt: "2026-11-20T13:00:00Z", endedAt: nil)
        try await f.attempt(learner: 3, question: 2, at: "2026-11-20T13:05:00Z", correct: true, timeSec: 15, session: 4)
        // Outside D: the day after, and the day before (learner 1 is no newcomer anyway).
        try await f.attempt(learner: 3, question: 2, at: "2026-11-21T00:00:00Z", correct: true, timeSec: 99)
        try await f.attempt(learner: 1, question: 1, at: "2026-11-19T23:59:59Z", correct: false, timeSec: 99)
    }

    @Test("per subject and '*': learners, new learners, sessions with attempts, counts, ratio, time, mean session length")
    func perSubject() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await loadDay(f)
            let outcome = try await TestRunner(database: db).run(Self.job, .d(Self.day))
            #expect(outcome.status == .succeeded)
            let u = try await usage(c)
            #expect(Set(u.keys) == ["math", "reading", "*"])
            // math: learners 1, 2, 3; new: 2 and 3 (1 did math on 11-10; 3's earlier
            // attempt is bad); sessions s1, s4 (s3 has no attempts); only s1 ended: 30 min.
            #expect(u["math"] == Usage(activeLearners: 3, newLearners: 2, sessionsStarted: 2, attempts: 4, correct: 3,
                                       correctRatio: 3.0 / 4.0, practiceSeconds: 10 + 20 + 5 + 15, avgSessionMinutes: 30))
            // reading: learners 1, 2; new: 1 (2 did reading on 11-15); session s2 of 45 min
            // (s1 holds a reading attempt but is a math session).
            #expect(u["reading"] == Usage(activeLearners: 2, newLearners: 1, sessionsStarted: 1, attempts: 2, correct: 1,
                                          correctRatio: 1.0 / 2.0, practiceSeconds: 30 + 40, avgSessionMinutes: 45))
            // all: new only learner 3 (1 and 2 practised before D, in some subject);
            // sessions s1, s2, s4; mean of 30 and 45 minutes = (1800 + 2700) s / (60 * 2).
            #expect(u["*"] == Usage(activeLearners: 3, newLearners: 1, sessionsStarted: 3, attempts: 6, correct: 4,
                                    correctRatio: 4.0 / 6.0, practiceSeconds: 120, avgSessionMinutes: 4500.0 / 120.0))
            #expect(outcome.report?.totals.rowsWritten == 3)
            // 6 attempts of D and 4 sessions started on D.
            #expect(outcome.report?.totals.rowsRead == 10)
            #expect(outcome.report?.badRows.isEmpty == true)
        }
    }

    @Test("avg_session_minutes: mean seconds / 60 in double; NULL when no counted session ended before the cut")
    func sessionMinutes() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            // Two math sessions of 1000 s and 1001 s: (1000 + 1001) / (60 * 2).
            try await f.session(1, learner: 1, subject: "math", startedAt: "2026-11-20T08:00:00Z", endedAt: "2026-11-20T08:16:40Z")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T08:01:00Z", correct: true, session: 1)
            try await f.session(2, learner: 2, subject: "math", startedAt: "2026-11-20T09:00:00Z", endedAt: "2026-11-20T09:16:41Z")
            try await f.attempt(learner: 2, question: 1, at: "2026-11-20T09:01:00Z", correct: true, session: 2)
            // A reading session ending exactly at the cut end_of(D) does not count as ended.
            try await f.session(3, learner: 3, subject: "reading", startedAt: "2026-11-20T23:00:00Z", endedAt: "2026-11-21T00:00:00Z")
            try await f.attempt(learner: 3, question: 3, at: "2026-11-20T23:10:00Z", correct: false, session: 3)
            try await TestRunner(database: db).run(Self.job, .d(Self.day))
            let u = try await usage(c)
            #expect(u["math"]?.avgSessionMinutes == 2001.0 / 120.0)
            #expect(u["math"]?.sessionsStarted == 2)
            #expect(u["reading"]?.sessionsStarted == 1)
            #expect(u["reading"]?.avgSessionMinutes == nil)
            #expect(u["*"]?.avgSessionMinutes == 2001.0 / 120.0)
            #expect(u["*"]?.sessionsStarted == 3)
        }
    }

    @Test("a session counts on the day it started, and only if that day saw one of its attempts")
    func sessionAcrossMidnight() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            // Started 11-19 23:50, its only attempt on 11-20 (after the cut of 11-19).
            try await f.session(1, learner: 1, subject: "math", startedAt: "2026-11-19T23:50:00Z", endedAt: "2026-11-20T00:20:00Z")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T00:05:00Z", correct: true, session: 1)
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, .d("2026-11-19"))
            try await runner.run(Self.job, .d(Self.day))
            // 11-19: no attempts: only the '*' row, all zero.
            #expect(try await usage(c, "2026-11-19") == [
                "*": Usage(activeLearners: 0, newLearners: 0, sessionsStarted: 0, attempts: 0, correct: 0, correctRatio: nil,
                           practiceSeconds: 0, avgSessionMinutes: nil),
            ])
            // 11-20: the attempt counts, the session (started 11-19) does not.
            let u = try await usage(c)
            #expect(u["math"] == Usage(activeLearners: 1, newLearners: 1, sessionsStarted: 0, attempts: 1, correct: 1,
                                       correctRatio: 1, practiceSeconds: 10, avgSessionMinutes: nil))
            #expect(u["*"] == u["math"])
        }
    }

    @Test("a rerun after one subject's attempts vanished drops that subject's row and updates '*'")
    func vanishedSubject() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await loadDay(f)
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, .d(Self.day))
            let math = try await usage(c)["math"]
            try await c.query("DELETE FROM attempts WHERE question_id = $1", [Fixture.id("q", 3)])
            let rerun = try await runner.run(Self.job, .d(Self.day))
            let u = try await usage(c)
            #expect(Set(u.keys) == ["math", "*"])
            #expect(u["math"] == math)
            // s2 lost its only attempt; s1 still has math attempts. Learner 2's
            // only earlier attempt (reading, 11-15) is gone too: new overall now.
            #expect(u["*"] == Usage(activeLearners: 3, newLearners: 2, sessionsStarted: 2, attempts: 4, correct: 3,
                                    correctRatio: 3.0 / 4.0, practiceSeconds: 50, avgSessionMinutes: 30))
            // reading deleted, '*' updated, math untouched.
            #expect(rerun.report?.totals.rowsWritten == 2)
        }
    }

    @Test("a rerun with unchanged input changes nothing and writes 0 rows")
    func rerunChangesNothing() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await loadDay(f)
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, .d("2026-11-19"))
            try await runner.run(Self.job, .d(Self.day))
            let before = try await db.snapshot(on: c)
            let again = try await runner.run(Self.job, .d(Self.day))
            let older = try await runner.run(Self.job, .d("2026-11-19"))
            #expect(again.report?.totals.rowsWritten == 0)
            #expect(older.report?.totals.rowsWritten == 0)
            #expect(try await db.snapshot(on: c) == before)
        }
    }

    @Test("bad attempts and sessions are excluded and counted by first reason; the job succeeds")
    func badRows() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.session(1, learner: 1, subject: "math", startedAt: "2026-11-20T09:00:00Z", endedAt: "2026-11-20T09:20:00Z")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:01:00Z", correct: true, session: 1)
            try await f.attempt(learner: 1, question: 99, at: "2026-11-20T09:02:00Z", correct: false, session: 1) // question missing
            try await f.attempt(learner: 7, question: 1, at: "2026-11-20T09:03:00Z", correct: false)             // learner missing
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:04:00Z", correct: nil)               // NULL
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:05:00Z", correct: true, timeSec: -3)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:06:00Z", correct: true, attemptNo: 0)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:07:00Z", correct: true, context: "homework")
            // A session that ends before it starts: excluded, though it has an attempt.
            try await f.session(2, learner: 2, subject: "math", startedAt: "2026-11-20T10:00:00Z", endedAt: "2026-11-20T09:00:00Z")
            try await f.attempt(learner: 2, question: 2, at: "2026-11-20T10:01:00Z", correct: false, timeSec: 7, session: 2)
            let before = try await db.dump("attempts", on: c)
            let outcome = try await TestRunner(database: db).run(Self.job, .d(Self.day))
            #expect(outcome.status == .succeeded)
            #expect(outcome.report?.badRows == ["question_missing": 1, "learner_missing": 1, "null_value": 1,
                                                "negative_time_sec": 1, "attempt_no_below_1": 1, "unknown_context": 1,
                                                "ended_before_started": 1])
            let u = try await usage(c)
            #expect(u["math"] == Usage(activeLearners: 2, newLearners: 2, sessionsStarted: 1, attempts: 2, correct: 1,
                                       correctRatio: 0.5, practiceSeconds: 17, avgSessionMinutes: 20))
            #expect(try await db.dump("attempts", on: c) == before)
        }
    }

    @Test("the window is D in the configured zone")
    func zone() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            // Europe/Berlin: D = [11-19T23:00Z, 11-20T23:00Z).
            try await f.attempt(learner: 1, question: 1, at: "2026-11-19T22:59:59Z", correct: true)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-19T23:00:00Z", correct: true)
            try await f.attempt(learner: 2, question: 1, at: "2026-11-20T22:59:59Z", correct: false)
            try await f.attempt(learner: 3, question: 1, at: "2026-11-20T23:00:00Z", correct: false)
            var config = BatchConfig()
            config.timezone = "Europe/Berlin"
            try await TestRunner(database: db, config: config).run(Self.job, .d(Self.day))
            let u = try await usage(c)
            #expect(u["math"]?.attempts == 2)
            #expect(u["math"]?.activeLearners == 2)
            // Learner 1 answered before D (22:59:59Z is 11-19 in Berlin): not new.
            #expect(u["math"]?.newLearners == 1)
        }
    }
}
