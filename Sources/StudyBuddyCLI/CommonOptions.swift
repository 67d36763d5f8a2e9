import ArgumentParser
import BatchEngine
import LearningJobs
import Foundation
import Logging
import PostgresClient

/// Options every command takes (interface.md).
public struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "TOML config file (default: /etc/studybuddy-batch/config.toml when present).")
    var config: String?

    @Option(name: .long, help: ArgumentHelp(
        "PostgreSQL conninfo or URI (default: DATABASE_URL, then the config's `database`, then libpq's PG* rules).",
        valueName: "conninfo-or-uri"))
    var database: String?

    @Option(name: .customLong("log-format"), help: "Log lines as `text` or `json` (default: the config's log_format).")
    var logFormat: String?

    @Flag(name: .long, help: "Log debug lines too.")
    var verbose = false

    public init() {}
}

/// What a command needs, resolved from the common options once.
struct CommandEnvironment {
    let config: BatchConfig
    let target: DatabaseTarget
    let clock: BatchClock
    let logger: Logger
    let configPath: String?

    init(_ options: CommonOptions) throws {
        var config = try ConfigLoader.load(path: options.config)
        for job in config.jobTimeouts.keys.sorted() where !LearningJobs.registry.isKnown(job) {
            throw ConfigError("\(options.config ?? "config"): [timeouts.\(job)] names no job; known jobs: \(LearningJobs.registry.names.joined(separator: ", "))")
        }
        if let format = options.logFormat {
            guard ["text", "json"].contains(format) else {
                throw BatchError.usage("--log-format must be `text` or `json`, not `\(format)`")
            }
            config.logFormat = format
        }
        BatchLogHandler.bootstrapOnce(format: BatchLogHandler.Format(rawValue: config.logFormat) ?? .text,
                                      level: options.verbose ? .debug : .info)
        self.config = config
        self.target = try DatabaseTarget(flag: options.database, config: config)
        self.clock = try BatchClock.fromEnvironment()
        self.logger = Logger(label: "studybuddy-batch")
        self.configPath = options.config
    }

    /// Today in the configured zone, by the (injectable) wall clock.
    var today: LocalDate { LocalDate(clock.now, in: config.timeZone) }
}

extension BatchLogHandler {
    private static let installed = InstallOnce()

    /// LoggingSystem may be bootstrapped only once per process.
    static func bootstrapOnce(format: Format, level: Logger.Level) {
        installed.run { bootstrap(format: format, level: level) }
    }
}

final class InstallOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func run(_ body: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if !done {
            done = true
            body()
        }
    }
}
