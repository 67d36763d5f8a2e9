import ArgumentParser
import BatchEngine
import Foundation
import LearningJobs
import PostgresClient

/// `studybuddy-batch demo-data --learners N --days K --seed S [--end-date D]`.
struct DemoDataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-data",
        abstract: "Load deterministic synthetic app data (learners, questions, sessions, attempts).",
        discussion: "The same --learners, --days, --seed and --end-date give the same rows, ids included.")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Number of learners.")
    var learners: Int = 200

    @Option(name: .long, help: "Days of history, ending with --end-date.")
    var days: Int = 14

    @Option(name: .long, help: "Seed of the generator.")
    var seed: Int = 42

    @Option(name: .customLong("end-date"), help: "Last day of the data (default: yesterday in the configured time zone).")
    var endDate: String?

    func validate() throws {
        guard learners >= 1, learners <= 10_000_000 else { throw ValidationError("--learners must be between 1 and 10000000") }
        guard days >= 1, days <= 3660 else { throw ValidationError("--days must be between 1 and 3660") }
    }

    func run() async throws {
        let environment = try CommandEnvironment(common)
        let end: LocalDate
        if let endDate {
            guard let parsed = LocalDate(endDate) else {
                throw BatchError.usage("--end-date \(endDate) is not a valid date; use YYYY-MM-DD")
            }
            end = parsed
        } else {
            end = environment.today.adding(days: -1)
        }
        let connection = try await environment.target.connect(for: "demo-data")
        try await AppSchemaCheck.verify(on: connection)
        let started = Date()
        let counts = try await DemoData.load(on: connection, learners: learners, days: days, seed: seed,
                                             endDate: end, timezone: environment.config.timezone)
        environment.logger.info("""
            demo data through \(end) (seed \(seed)) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s: \
            \(counts.learners) learners, \(counts.questions) questions, \(counts.sessions) sessions, \(counts.attempts) attempts
            """)
    }
}
