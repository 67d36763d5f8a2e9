import ArgumentParser
import BatchEngine
import Foundation
import LearningJobs

/// `studybuddy-batch migrate [--with-app-schema]`.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending SQL migrations (sql/migrations), each in its own transaction.",
        discussion: """
            Concurrent calls are serialized by an advisory lock. A migration file that changed after it \
            was applied is refused. --with-app-schema also creates the app's reference tables (sql/app) \
            for demo, test and new databases; against an existing app database leave it out.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(name: .customLong("with-app-schema"), help: "Also create the app reference tables (demo, tests, new installs).")
    var withAppSchema = false

    func run() async throws {
        let environment = try CommandEnvironment(common)
        let connection = try await environment.target.connect(for: "migrate")
        let outcome = try await Migrator(logger: environment.logger)
            .migrate(on: connection, withAppSchema: withAppSchema)
        try await ScheduleTable.write(registry: LearningJobs.registry, config: environment.config,
                                      clock: environment.clock, on: connection)
        if outcome.applied.isEmpty {
            environment.logger.info("schema is up to date (\(outcome.alreadyApplied) migrations applied earlier)")
        } else {
            environment.logger.info("applied \(outcome.applied.count) migration(s): \(outcome.applied.joined(separator: ", "))")
        }
    }
}

/// `studybuddy-batch jobs`: the registry.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List the jobs: name, kind, schedule, dependencies, steps and next due slot.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let environment = try CommandEnvironment(common)
        let registry = LearningJobs.registry
        var rows: [[String]] = []
        if !registry.pipeline.isEmpty {
            let next = ScheduleTime(environment.config.schedule.nightly)
                .flatMap { SlotCalendar(zone: environment.config.timeZone).nextSlot(of: [$0], after: environment.clock.now) }
                .map { Schedules.describe($0, in: environment.config.timeZone) } ?? "-"
            rows.append([JobRegistry.pipelineName, "pipeline", "nightly at \(environment.config.schedule.nightly)",
                         registry.pipeline.joined(separator: " -> "), next])
        }
        rows += registry.jobs.map { job -> [String] in
            let next = Schedules.nextDue(job: job, config: environment.config, after: environment.clock.now)
                .map { Schedules.describe($0, in: environment.config.timeZone) } ?? "-"
            return [job.name, job.kind.rawValue, Schedules.text(for: job, config: environment.config),
                    job.dependsOn.isEmpty ? "-" : job.dependsOn.joined(separator: ", "), next]
        }
        print(TextTable.render(header: ["job", "kind", "schedule", "depends on / runs", "next due"], rows: rows))
        for job in registry.jobs {
            print("\n\(job.name): \(job.summary)\n  steps: \(job.steps.joined(separator: " -> "))")
        }
    }
}
