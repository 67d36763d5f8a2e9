import BatchEngine
import PostgresClient

/// cleanup (nightly, last): the retention rules of computations.md, each
/// deleting in batches of at most `retention.batch_size` rows per
/// transaction, with each rule's count in the run report.
///
/// SQL: `sql/jobs/cleanup.sql`. Rules: computations.md, "cleanup".
public enum Cleanup {
    public static let name = "cleanup"
    static let sql = JobSQL("jobs/cleanup.sql")

    public static let definition = JobDefinition(
        name: name,
        summary: "retention: empty sessions, old plans, old run rows and report files",
        kind: .nightly,
        schedule: "nightly",
        dependsOn: [SessionClose.name, MasteryUpdate.name, LearningImpact.name, ImportanceIndex.name,
                    SessionAnalytics.name, UsageStats.name],
        steps: sql.stepNames,
        transactional: false,
        run: run)

    @Sendable static func run(_ context: JobContext) async throws {
        try await context.runSteps(sql, parameters: [:])
    }
}
