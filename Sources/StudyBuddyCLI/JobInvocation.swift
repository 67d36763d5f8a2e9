import BatchEngine
import Foundation
import PostgresClient
import UnixSignals

/// `--job NAME` with its date options, checked up front (exit 2 with the
/// reason) and then handed to the orchestrator.
struct JobInvocation {
    enum Target {
        case dates([LocalDate])
        case instant(Date?)
    }

    let job: String
    let target: Target
    let dryRun: Bool
    let trigger: RunTrigger
    let cascade: Orchestrator.CascadeMode
    let orchestrator: Orchestrator
    let args: RunArgs

    init(job name: String, date: String?, from: String?, to: String?, at: String?, dryRun: Bool, trigger: String?,
         cascade: Bool, noCascade: Bool, environment: CommandEnvironment, registry: JobRegistry, configPath: String?) throws {
        guard registry.isKnown(name) else {
            throw BatchError.usage("unknown job \"\(name)\"; known jobs: \(registry.names.joined(separator: ", "))")
        }
        self.job = name
        self.dryRun = dryRun
        let today = environment.today
        let zone = environment.config.timezone
        let isSlot = registry[name]?.kind == .slot

        func parse(_ text: String, _ flag: String) throws -> LocalDate {
            guard let value = LocalDate(text) else {
                throw BatchError.usage("\(flag) \(text) is not a valid date; use YYYY-MM-DD, e.g. \(today.adding(days: -1))")
            }
            guard value < today else {
                throw BatchError.usage("\(flag) \(value) is not over yet in \(zone) (today is \(today)); a logical date must have ended")
            }
            return value
        }

        if date != nil, from != nil || to != nil { throw BatchError.usage("give either --date or --from/--to, not both") }
        if (from == nil) != (to == nil) {
            throw BatchError.usage("--from and --to go together: give both, or use --date for one day")
        }
        if cascade && noCascade { throw BatchError.usage("give --cascade or --no-cascade, not both") }
        var rangeTrigger: RunTrigger = .manual
        if isSlot {
            if date != nil || from != nil {
                throw BatchError.usage("\(name) runs as of an instant: use --at T (default: the latest past slot), not --date/--from/--to")
            }
            if let at {
                guard let instant = ISOInstant.parse(at) else {
                    throw BatchError.usage("--at \(at) is not an ISO 8601 instant with offset, e.g. 2026-11-24T06:00:00+01:00")
                }
                guard instant <= environment.clock.now else { throw BatchError.usage("--at \(at) is in the future") }
                target = .instant(instant)
            } else {
                target = .instant(nil)
            }
        } else {
            if at != nil { throw BatchError.usage("\(name) runs for a logical date: use --date, not --at") }
            if let from, let to {
                let first = try parse(from, "--from")
                let last = try parse(to, "--to")
                guard first <= last else { throw BatchError.usage("--to \(last) is before --from \(first)") }
                target = .dates((0...first.days(until: last)).map { first.adding(days: $0) })
                rangeTrigger = .backfill
            } else if let date {
                target = .dates([try parse(date, "--date")])
            } else {
                target = .dates([today.adding(days: -1)])
            }
        }
        if let trigger {
            guard let value = RunTrigger(rawValue: trigger), value == .schedule || value == .catchup else {
                throw BatchError.usage("--trigger must be `schedule` or `catchup`, not `\(trigger)`")
            }
            self.trigger = value
        } else {
            self.trigger = rangeTrigger
        }
        self.cascade = cascade ? .force : (noCascade ? .skip : .automatic)
        let redacted = environment.target.redacted
        self.args = RunArgs(date: date.flatMap { LocalDate($0) }, from: from.flatMap { LocalDate($0) },
                            to: to.flatMap { LocalDate($0) }, at: at, dryRun: dryRun,
                            database: redacted.isEmpty ? nil : redacted, config: configPath)
        let reports = ReportWriter(directory: ReportWriter.directory(config: environment.config))
        try reports.prepare()
        var runner = JobRunner(
            registry: registry, config: environment.config, target: environment.target,
            clock: environment.clock, logger: environment.logger, reports: reports)
        if TerminalProgress.isWanted {
            let printer = TerminalProgress()
            runner.progress = { printer.report($0) }
        }
        self.orchestrator = Orchestrator(runner: runner)
    }

    /// Runs the invocation. SIGTERM or SIGINT (a timer unit stopped, Ctrl-C)
    /// gives the run `shutdown.grace_seconds` to finish, then cancels it: its
    /// statement is cancelled, its transaction rolled back and the run
    /// recorded `interrupted` with its report (exit 1), instead of the
    /// process dying with its row left `running` until the next run of the
    /// job. A second signal cancels at once; a third ends the process
    /// (exit 130), for a run that cannot even be cancelled (a connect that
    /// hangs).
    func execute() async throws -> ExitStatus {
        let grace = orchestrator.runner.config.shutdown.graceSeconds
        // Trapped before the run starts: a signal from now on is handled.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let work = Task { try await self.run() }
        let stopper = Task {
            var count = 0
            for await signal in signals {
                count += 1
                switch count {
                case 1:
                    FileHandle.standardError.write(Data(
                        "studybuddy-batch: \(signal) received: the run gets \(grace) s to finish, then it is cancelled and recorded interrupted\n".utf8))
                    Task {
                        try? await Task.sleep(for: .milliseconds(Int(grace * 1000)))
                        work.cancel()
                    }
                case 2:
                    FileHandle.standardError.write(Data("studybuddy-batch: \(signal) again: cancelling the run now\n".utf8))
                    work.cancel()
                default:
                    FileHandle.standardError.write(Data("studybuddy-batch: \(signal) a third time: exiting without waiting\n".utf8))
                    exit(130)
                }
            }
        }
        defer { stopper.cancel() }
        do {
            return try await work.value
        } catch is CancellationError {
            throw BatchError(.jobFailed, "stopped by a signal before the run was recorded: nothing ran; run it again")
        }
    }

    private func run() async throws -> ExitStatus {
        switch target {
        case .instant(let at):
            return try await orchestrator.runner.run(RunRequest(job: job, at: at, trigger: trigger, dryRun: dryRun, args: args))
                .exitStatus
        case .dates(let dates):
            return try await orchestrator.runDates(job: job, dates: dates, trigger: trigger, dryRun: dryRun,
                                                   cascade: cascade, args: args)
        }
    }
}
