import BatchEngine
import PostgresClient

/// session-analytics (nightly, for D, after session-close and
/// learning-impact): every field of `session_analytics` for the sessions
/// that ended before the cut and started on D-1 or D, or have no analytics yet.
///
/// SQL: `sql/jobs/session-analytics.sql`. Formulas: computations.md,
/// "session-analytics". Attempts created after their session's `ended_at`
/// (but before the cut) count with their session and are reported as a
/// warning of the run.
public enum SessionAnalytics {
    public static let name = "session-analytics"
    static let sql = JobSQL("jobs/session-analytics.sql")

    public static let definition = JobDefinition(
        name: name,
        summary: "per-session analytics: accuracy, time, difficulty mix, attention span, velocity",
        kind: .nightly,
        schedule: "nightly",
        dependsOn: [SessionClose.name, LearningImpact.name],
        steps: sql.stepNames,
        run: run)

    @Sendable static func run(_ context: JobContext) async throws {
        let c = context.config
        try await context.runSteps(sql, parameters: [
            "easy_below": c.difficulty.easyBelow,
            "hard_from": c.difficulty.hardFrom,
            "attention_gap": c.sessions.attentionGapSeconds,
            "active_cap": c.sessions.activeCapSeconds,
            "target_accuracy": c.sessions.targetAccuracy,
            "band_min_attempts": c.sessions.bandMinAttempts,
            "velocity_min_active": c.sessions.velocityMinActiveSeconds,
            "velocity_min_attempts": c.sessions.velocityMinAttempts,
        ])
        // Counts the SQL left in its temp table `sa_warnings` (still there:
        // the run's transaction is open) become report warnings.
        let warnings = try await context.query(named: "SELECT message, n FROM sa_warnings WHERE n > 0 ORDER BY message")
        for row in warnings.rows {
            context.warn("\(try row.decode("n", as: Int.self)) \(try row.decode("message", as: String.self))")
        }
    }
}
