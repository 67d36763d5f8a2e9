import BatchEngine
import Foundation
import LearningJobs
import Logging
import PostgresClient

/// Builds a `JobRunner` on a test database, with a fixed clock and a
/// temporary report directory.
public struct TestRunner: Sendable {
    public let database: TestDatabase
    public let runner: JobRunner
    public let reportDirectory: String

    public init(database: TestDatabase, config: BatchConfig = BatchConfig(), registry: JobRegistry = LearningJobs.registry,
                now: Date = Date()) throws {
        self.database = database
        let directory = NSTemporaryDirectory() + "studybuddy-reports-\(database.name)"
        self.reportDirectory = directory
        let reports = ReportWriter(directory: directory)
        try reports.prepare()
        var runner = JobRunner(registry: registry, config: config,
                               target: try DatabaseTarget(flag: database.conninfo, config: config, environment: [:]),
                               clock: BatchClock { now }, logger: Logger(label: "test"), reports: reports)
        runner.printSummary = false
        self.runner = runner
    }

    /// Runs `job` for `day` and returns the outcome.
    @discardableResult
    public func run(_ job: String, _ day: LocalDate, dryRun: Bool = false) async throws -> RunOutcome {
        try await runner.run(RunRequest(job: job, logicalDate: day, dryRun: dryRun, args: RunArgs(date: day, dryRun: dryRun)))
    }
}

extension TestRunner {
    /// Runs a slot job (`mastery-decay`, `session-close`) as of the instant
    /// `at`, an ISO 8601 string such as `2026-11-20T06:00:00Z`.
    @discardableResult
    public func run(_ job: String, at: String, dryRun: Bool = false) async throws -> RunOutcome {
        guard let instant = ISOInstant.parse(at) else { throw TestSetupError("bad instant \(at)") }
        return try await runner.run(RunRequest(job: job, at: instant, dryRun: dryRun, args: RunArgs(at: at, dryRun: dryRun)))
    }
}

extension LocalDate {
    /// `LocalDate("2026-11-20")!` for tests.
    public static func d(_ text: String) -> LocalDate { LocalDate(text)! }
}
