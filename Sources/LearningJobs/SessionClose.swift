import BatchEngine
import PostgresClient

/// session-close (every 15 min, and first in the nightly pipeline as of
/// `end_of(D)`): open sessions idle for longer than the timeout are closed at
/// their last activity, never at "now".
///
/// SQL: `sql/jobs/session-close.sql`. Rule: computations.md, "session-close".
public enum SessionClose {
    public static let name = "session-close"
    static let sql = JobSQL("jobs/session-close.sql")

    public static let definition = JobDefinition(
        name: name,
        summary: "close idle open sessions at their last activity",
        kind: .slot,
        schedule: "slot",
        steps: sql.stepNames,
        run: run)

    @Sendable static func run(_ context: JobContext) async throws {
        try await context.runSteps(sql, parameters: [
            "idle_minutes": context.config.sessions.idleTimeoutMinutes,
        ])
    }
}
