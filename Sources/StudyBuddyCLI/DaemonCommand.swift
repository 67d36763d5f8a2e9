import ArgumentParser
import BatchDaemon
import BatchEngine
import Foundation
import LearningJobs
import Logging
import ServiceLifecycle

/// `studybuddy-batch daemon [--migrate]`.
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the long-lived worker: internal schedule, catch-up, sd_notify (Type=notify), clean stop.",
        discussion: """
            Signals: SIGTERM/SIGINT stop (a running job gets shutdown.grace_seconds, then is cancelled and \
            recorded interrupted); SIGHUP rereads the config (a bad config is rejected and the old one kept).
            """)

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "Apply pending migrations at start (otherwise a pending migration stops the daemon with exit 2).")
    var migrate = false

    func run() async throws {
        let environment = try CommandEnvironment(common)
        let daemon = BatchDaemon(
            registry: LearningJobs.registry, config: environment.config,
            options: .init(configPath: common.config, databaseFlag: common.database, migrate: migrate,
                           logFormat: common.logFormat),
            clock: environment.clock, logger: environment.logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: daemon)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: environment.logger))
        do {
            try await group.run()
        } catch let error as ServiceGroupError {
            throw BatchError(.jobFailed, "the daemon stopped: \(error)")
        }
    }
}
