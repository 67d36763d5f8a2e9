import Foundation
import PostgresClient

/// Small hand-made app data for formula tests: readable ids and defaults
/// for everything a case does not care about.
public struct Fixture: Sendable {
    public let connection: Connection

    public init(_ connection: Connection) { self.connection = connection }

    /// `00000000-0000-0000-0000-00000000000N`-style ids, easy to read in failures.
    public static func id(_ kind: Character, _ n: Int) -> UUID {
        let prefix: String
        switch kind {
        case "l": prefix = "00000000-0000-4000-8000-1"
        case "q": prefix = "00000000-0000-4000-8000-2"
        case "s": prefix = "00000000-0000-4000-8000-3"
        default: prefix = "00000000-0000-4000-8000-9"
        }
        return UUID(uuidString: prefix + String(format: "%011d", n))!
    }

    @discardableResult
    public func learner(_ n: Int, dailyGoal: Int? = 20, createdAt: String = "2026-01-01T00:00:00Z") async throws -> UUID {
        let id = Self.id("l", n)
        try await connection.query("INSERT INTO learners (id, display_name, daily_goal, created_at) VALUES ($1, $2, $3, $4::timestamptz)",
                                   [id, "Learner \(n)", dailyGoal, createdAt])
        return id
    }

    @discardableResult
    public func question(_ n: Int, subcategory: String, subject: String = "math", topic: String = "topic") async throws -> UUID {
        let id = Self.id("q", n)
        try await connection.query("""
            INSERT INTO questions (id, subject, topic, subcategory, created_at)
            VALUES ($1, $2, $3, $4, '2025-01-01T00:00:00Z')
            """, [id, subject, topic, subcategory])
        return id
    }

    @discardableResult
    public func session(_ n: Int, learner: Int, subject: String = "math", startedAt: String, endedAt: String?,
                        topic: String = "topic", subcategory: String? = nil) async throws -> UUID {
        let id = Self.id("s", n)
        try await connection.query("""
            INSERT INTO sessions (id, learner_id, subject, topic, subcategory, started_at, ended_at, duration_sec, end_reason)
            VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7::timestamptz,
                    floor(extract(epoch FROM $7::timestamptz - $6::timestamptz))::int,
                    CASE WHEN $7::timestamptz IS NULL THEN NULL ELSE 'completed' END)
            """, [id, Self.id("l", learner), subject, topic, subcategory, startedAt, endedAt])
        return id
    }

    /// One attempt; `at` is an ISO instant such as `2026-11-20T10:00:00Z`.
    public func attempt(learner: Int, question: Int, at: String, correct: Bool?, hint: Bool? = false,
                        context: String? = "session", attemptNo: Int? = 1, timeSec: Int? = 10,
                        session: Int? = nil) async throws {
        try await connection.query("""
            INSERT INTO attempts (learner_id, question_id, session_id, attempt_no, context, correct, time_sec, hint_used, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz)
            """, [Self.id("l", learner), Self.id("q", question), session.map { Self.id("s", $0) }, attemptNo, context,
                  correct, timeSec, hint, at])
    }

    public func count(_ table: String) async throws -> Int {
        try await connection.query("SELECT count(*) AS n FROM \(table)").first!.decode("n", as: Int.self)
    }
}

/// The decay of computations.md, for expected values in tests.
public func referenceDecay(_ m0: Double, days: Double, halfLife: Double = 14, floorRatio: Double = 0.5) -> Double {
    let f = floorRatio * m0
    return f + (m0 - f) * pow(2, -min(days / halfLife, 1000))
}
