import BatchEngine
import Foundation
import PostgresClient

/// `--job NAME` with its date options, checked and turned into runs.
struct JobInvocation {
    let job: JobDefinition
    let dates: [LocalDate]
    let at: Date?
    let dryRun: Bool
    let trigger: RunTrigger
    let environment: CommandEnvironment
    let runner: JobRunner
    let args: RunArgs

    init(job name: String, date: String?, from: String?, to: String?, at: String?, dryRun: Bool, trigger: String?,
         environment: CommandEnvironment, registry: JobRegistry, configPath: String?) throws {
        let job = try registry.require(name)
        self.job = job
        self.environment = environment
        self.dryRun = dryRun
        let today = environment.today
        let zone = environment.config.timezone

        func parse(_ text: String, _ flag: String) throws -> LocalDate {
            guard let value = LocalDate(text) else {
                throw BatchError.usage("\(flag) \(text) is not a valid date; use YYYY-MM-DD, e.g. \(today.adding(days: -1))")
            }
            guard value < today else {
                throw BatchError.usage("\(flag) \(value) is not over yet in \(zone) (today is \(today)); a logical date must have ended")
            }
            return value
        }

        var rangeTrigger: RunTrigger = .manual
        if date != nil, from != nil || to != nil {
            throw BatchError.usage("give either --date or --from/--to, not both")
        }
        if (from == nil) != (to == nil) {
            throw BatchError.usage("--from and --to go together: give both, or use --date for one day")
        }
        if job.kind == .slot {
            if date != nil || from != nil { throw BatchError.usage("\(job.name) runs as of an instant: use --at, not --date/--from/--to") }
            dates = []
        } else {
            if at != nil { throw BatchError.usage("\(job.name) runs for a logical date: use --date, not --at") }
            if let from, let to {
                let first = try parse(from, "--from")
                let last = try parse(to, "--to")
                guard first <= last else { throw BatchError.usage("--to \(last) is before --from \(first)") }
                dates = (0...first.days(until: last)).map { first.adding(days: $0) }
                rangeTrigger = .backfill
            } else if let date {
                dates = [try parse(date, "--date")]
            } else {
                dates = [today.adding(days: -1)]
            }
        }
        if let at {
            guard let instant = ISOInstant.parse(at) else {
                throw BatchError.usage("--at \(at) is not an ISO 8601 instant with offset, e.g. 2026-11-24T06:00:00+01:00")
            }
            guard instant <= environment.clock.now else { throw BatchError.usage("--at \(at) is in the future") }
            self.at = instant
        } else {
            self.at = nil
        }
        if let trigger {
            guard let value = RunTrigger(rawValue: trigger), value == .schedule || value == .catchup else {
                throw BatchError.usage("--trigger must be `schedule` or `catchup`, not `\(trigger)`")
            }
            self.trigger = value
        } else {
            self.trigger = rangeTrigger
        }
        let redacted = environment.target.redacted
        self.args = RunArgs(date: date.flatMap { LocalDate($0) }, from: from.flatMap { LocalDate($0) },
                            to: to.flatMap { LocalDate($0) }, at: at, dryRun: dryRun,
                            database: redacted.isEmpty ? nil : redacted, config: configPath)
        let reports = ReportWriter(directory: ReportWriter.directory(config: environment.config))
        try reports.prepare()
        self.runner = JobRunner(registry: registry, config: environment.config, target: environment.target,
                                clock: environment.clock, logger: environment.logger, reports: reports)
    }

    /// Runs every date in ascending order; a range stops after the first
    /// date with a failure. 1 if any failed, else 75 if any was skipped.
    func execute() async throws -> ExitStatus {
        if job.kind == .slot {
            return try await runner.run(RunRequest(job: job.name, at: at, trigger: trigger, dryRun: dryRun, args: args))
                .exitStatus
        }
        var skipped = false
        for day in dates {
            var runArgs = args
            runArgs.date = day
            let outcome = try await runner.run(RunRequest(job: job.name, logicalDate: day, trigger: trigger,
                                                          dryRun: dryRun, args: runArgs))
            switch outcome.exitStatus {
            case .jobFailed:
                if dates.count > 1, day != dates.last {
                    environment.logger.error("stopping the range after \(day): \(job.name) failed there; later dates were not run")
                }
                return .jobFailed
            case .tryLater: skipped = true
            default: break
            }
        }
        return skipped ? .tryLater : .success
    }
}
