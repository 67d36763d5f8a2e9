import ArgumentParser
import BatchEngine
import Foundation
import LearningJobs
import PostgresClient

/// `studybuddy-batch`: run a job with `--job NAME`, or one of the subcommands.
public struct StudyBuddyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "studybuddy-batch",
        abstract: "The batch brain of StudyBuddy: mastery, difficulty, plans, analytics and clean-up.",
        discussion: """
            The nightly pipeline:  studybuddy-batch --job nightly --date 2026-11-23
            One job:               studybuddy-batch --job mastery-update --date 2026-11-23
            A date range:          studybuddy-batch --job nightly --from 2026-11-01 --to 2026-11-23
            A slot job:            studybuddy-batch --job mastery-decay --at 2026-11-24T06:00:00+01:00
            Exit codes: 0 success, 1 a job failed, 2 usage or config error, 75 could not run now.
            """,
        version: BatchVersion.current,
        subcommands: [DaemonCommand.self, MigrateCommand.self, JobsCommand.self, StatusCommand.self, DemoDataCommand.self])

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "The job to run (see `studybuddy-batch jobs`).")
    var job: String?

    @Option(name: .long, help: "Logical date YYYY-MM-DD of a nightly job (default: yesterday in the configured time zone).")
    var date: String?

    @Option(name: .long, help: "First logical date of a range (with --to).")
    var from: String?

    @Option(name: .long, help: "Last logical date of a range (with --from).")
    var to: String?

    @Option(name: .long, help: "As-of instant of a slot job, ISO 8601 with offset (default: the latest past slot).")
    var at: String?

    @Flag(name: .customLong("dry-run"), help: "Run in a transaction that is rolled back; report what would change.")
    var dryRun = false

    @Option(name: .long, help: "Record the run with trigger `schedule` or `catchup` (timer units).")
    var trigger: String?

    @Flag(name: .long, help: "Rerun every later processed date however many there are (see catchup.max_cascade_days).")
    var cascade = false

    @Flag(name: .customLong("no-cascade"), help: "Rerun only the given dates, not the later processed ones (the report says so).")
    var noCascade = false

    public init() {}

    public func run() async throws {
        guard let job else {
            throw CleanExit.helpRequest(self)
        }
        let environment = try CommandEnvironment(common)
        let invocation = try JobInvocation(
            job: job, date: date, from: from, to: to, at: at, dryRun: dryRun, trigger: trigger,
            cascade: cascade, noCascade: noCascade, environment: environment, registry: LearningJobs.registry, configPath: common.config)
        let status = try await invocation.execute()
        if status != .success { throw ExitCode(status.rawValue) }
    }

    /// Runs the command and exits with interface.md's codes: expected
    /// failures print one clear line (no stack), usage errors exit 2.
    public static func runAndExit() async -> Never {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch {
            Foundation.exit(report(error))
        }
    }

    static func report(_ error: any Error) -> Int32 {
        switch error {
        case let exit as ExitCode:
            return exit.rawValue
        case is BatchError, is ConfigError, is PostgresError:
            let failure = BatchError.classify(error)
            FileHandle.standardError.write(Data("studybuddy-batch: error: \(failure.message)\n".utf8))
            return failure.status.rawValue
        default:
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                return 0
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            // ArgumentParser's usage errors are EX_USAGE (64); the contract says 2.
            return code == .validationFailure ? ExitStatus.usage.rawValue : code.rawValue
        }
    }
}
