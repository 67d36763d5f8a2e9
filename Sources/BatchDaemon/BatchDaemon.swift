import BatchEngine
import Foundation
import Logging
import PostgresClient
import ServiceLifecycle
import SystemdNotify
import UnixSignals

/// `studybuddy-batch daemon`: the long-running, systemd-notified worker.
///
/// Start: connect (retrying with capped exponential backoff while the
/// database is unreachable), check the schema (apply pending migrations with
/// `--migrate`), mark runs of dead processes `interrupted`, write the
/// schedule, send READY=1, then catch up missed slots. Then: sleep until the
/// next slot, run it, repeat. Every run takes the job's advisory lock and
/// skips a slot that already succeeded, so two daemons on one database run
/// each slot once between them.
public final class BatchDaemon: Service, Sendable {
    public struct Options: Sendable {
        public var configPath: String?
        public var databaseFlag: String?
        public var migrate: Bool
        public var logFormat: String?

        public init(configPath: String?, databaseFlag: String?, migrate: Bool, logFormat: String?) {
            self.configPath = configPath
            self.databaseFlag = databaseFlag
            self.migrate = migrate
            self.logFormat = logFormat
        }
    }

    let registry: JobRegistry
    let options: Options
    let clock: BatchClock
    let logger: Logger
    let notifier = SystemdNotifier()
    let state: DaemonState

    public init(registry: JobRegistry, config: BatchConfig, options: Options, clock: BatchClock, logger: Logger) {
        self.registry = registry
        self.options = options
        self.clock = clock
        self.logger = logger
        self.state = DaemonState(config: config)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.watchdogLoop() }
                group.addTask { await self.reloadLoop() }
                defer { group.cancelAll() }
                try await self.mainLoop()
            }
        } onGracefulShutdown: {
            self.notifier.stopping()
            Task {
                let grace = await self.state.config.shutdown.graceSeconds
                self.notifier.extendTimeout(seconds: grace + 5)
                self.logger.info("stopping: no new work; a running job gets \(grace) s to finish before it is cancelled")
                await self.state.requestStop(grace: .milliseconds(Int(grace * 1000)))
            }
        }
        logger.info("stopped")
    }

    // MARK: Status, watchdog, reload

    func setStatus(_ text: String) async {
        await state.setStatus(text)
        notifier.status(text)
    }

    /// WATCHDOG=1 at half the interval systemd expects. It runs on the
    /// cooperative pool like the scheduler loop (libpq waits happen off the
    /// pool), so pings continue while a statement runs within its
    /// statement_timeout. They stop when the process's own loop is stuck,
    /// and when a job's statement has waited more than
    /// `watchdogMargin` past its statement_timeout: the server would have
    /// ended it, so it cannot answer (a dead network path, a stopped
    /// backend), and libpq would wait forever. systemd then restarts the
    /// daemon. The stuck run is marked interrupted once its job lock is free,
    /// i.e. once the server has dropped the old session (at once when the
    /// backend runs again: client_connection_check_interval; over a dead
    /// network path, when the server's TCP keepalives give up).
    func watchdogLoop() async {
        guard let interval = notifier.watchdogInterval else { return }
        let margin = max(Self.watchdogMargin, interval)
        var withheld = false
        while !Task.isCancelled {
            if let waited = StatementWatch.shared.overdue(margin: margin) {
                if !withheld {
                    logger.error("""
                        a statement has waited \(waited.components.seconds) s, more than its statement_timeout plus \(margin.components.seconds) s: \
                        PostgreSQL no longer answers on that connection; WATCHDOG=1 withheld so that systemd restarts the daemon
                        """)
                    notifier.status("stuck: a statement waits beyond its statement_timeout; watchdog pings withheld")
                    withheld = true
                }
            } else {
                notifier.watchdog()
                withheld = false
            }
            try? await Task.sleep(for: interval / 2)
        }
    }

    /// How far past its statement_timeout a statement may wait before the
    /// watchdog pings stop (at least one watchdog interval).
    static let watchdogMargin: Duration = .seconds(5)

    /// SIGHUP: RELOADING=1, reread the config (a bad one is rejected and the
    /// old one kept, with the reason logged), rewrite the schedule, READY=1.
    func reloadLoop() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals {
            notifier.reloading()
            do {
                let config = try ConfigLoader.load(path: options.configPath)
                try validateJobTables(config)
                // What the start refuses (exit 2), a reload refuses too: the old config stays.
                _ = try target(config)
                try ReportWriter(directory: ReportWriter.directory(config: config)).prepare()
                await state.replaceConfig(config)
                logger.info("configuration reloaded\(options.configPath.map { " from \($0)" } ?? "")")
                if let connection = try? await target(config).connect(for: "schedule") {
                    try? await ScheduleTable.write(registry: registry, config: config, clock: clock, on: connection)
                }
            } catch {
                logger.error("configuration rejected, keeping the previous one: \(BatchError.classify(error).message)")
            }
            notifier.notify("READY=1\nSTATUS=" + (await state.status))
        }
    }

    func validateJobTables(_ config: BatchConfig) throws {
        for job in config.jobTimeouts.keys where !registry.isKnown(job) {
            throw ConfigError("[timeouts.\(job)] names no job; known jobs: \(registry.names.joined(separator: ", "))")
        }
    }

    func target(_ config: BatchConfig) throws -> DatabaseTarget {
        try DatabaseTarget(flag: options.databaseFlag, config: config)
    }

    func orchestrator(_ config: BatchConfig) throws -> Orchestrator {
        let reports = ReportWriter(directory: ReportWriter.directory(config: config))
        try reports.prepare()
        var runner = JobRunner(registry: registry, config: config, target: try target(config), clock: clock,
                               logger: logger, reports: reports)
        runner.printSummary = false
        let notifier = self.notifier
        let state = self.state
        runner.progress = { text in
            notifier.status(text)
            Task { await state.setStatus(text) }
        }
        return Orchestrator(runner: runner)
    }

    // MARK: The loop

    func mainLoop() async throws {
        guard try await startUp() else { return }
        var handled = try await catchUp()
        await refreshSchedule(await state.config)
        while await !state.stopping {
            let config = await state.config
            guard let (slot, due) = nextSlot(after: handled, config: config) else { return }
            await setStatus("idle; next: \(slot.description(in: config.timeZone))")
            while clock.now < due {
                if await state.stopping { return }
                let wait = min(1.0, due.timeIntervalSince(clock.now))
                try? await Task.sleep(for: .milliseconds(max(10, Int(wait * 1000))))
            }
            if await state.stopping { return }
            if await run(slot, trigger: .schedule, config: config) {
                handled[slot.job] = slot.instant
                await refreshSchedule(await state.config)
            } else {
                await backoffAfterFailure()
            }
        }
    }

    /// Connects (with backoff), checks the schema, marks dead runs, writes
    /// the schedule and sends READY=1. False when a stop came first.
    func startUp() async throws -> Bool {
        var delay = 1.0
        while true {
            if await state.stopping { return false }
            let config = await state.config
            try validateJobTables(config)
            let target = try target(config)
            // An unwritable report folder would fail every slot; say so now (exit 2).
            try ReportWriter(directory: ReportWriter.directory(config: config)).prepare()
            do {
                let connection = try await target.connect(for: "daemon")
                try await checkSchema(on: connection)
                try await markDeadRuns(on: connection)
                try await ScheduleTable.write(registry: registry, config: config, clock: clock, on: connection)
                await state.markReady()
                let status = "ready; catching up missed slots"
                await state.setStatus(status)
                notifier.ready(status: status)
                logger.info("connected to \(connection.endpoint); schema current; ready")
                return true
            } catch let error as BatchError where error.status == .tryLater {
                let reason = error.message
                await setStatus("waiting for PostgreSQL: \(reason); retrying in \(Int(delay)) s")
                notifier.extendTimeout(seconds: delay + 10)
                logger.warning("database unreachable, retrying in \(Int(delay)) s: \(reason)")
                let until = Date().addingTimeInterval(delay)
                while Date() < until {
                    if await state.stopping { return false }
                    try? await Task.sleep(for: .milliseconds(200))
                }
                delay = min(delay * 2, 30)
            }
        }
    }

    func checkSchema(on connection: Connection) async throws {
        do {
            try await Migrator.verifyCurrent(on: connection)
        } catch let error as BatchError where error.message.contains("pending") || error.message.contains("no studybuddy-batch schema") {
            guard options.migrate else {
                throw BatchError.usage("\(error.message) (or start the daemon with --migrate)")
            }
            let outcome = try await Migrator(logger: logger).migrate(on: connection, withAppSchema: false)
            logger.info("applied \(outcome.applied.count) migration(s) at start")
        }
        try await AppSchemaCheck.verify(on: connection)
    }

    /// Runs left `running` whose job lock is free belong to dead processes.
    /// The lock is only looked at, never taken: another daemon's run may be
    /// about to take it.
    func markDeadRuns(on connection: Connection) async throws {
        let recorder = RunRecorder(connection: connection)
        for job in [JobRegistry.pipelineName] + registry.jobs.map(\.name) {
            let marked = try await recorder.markInterrupted(job: job, foundBy: nil, at: Date(), ifFree: AdvisoryLockKey(name: job))
            if marked > 0 { logger.warning("marked \(marked) run(s) of \(job) interrupted: their process is gone") }
        }
    }

    /// Missed nightly dates since the last success (at most
    /// `catchup.max_days`, oldest first) and, for slot jobs, only the latest
    /// missed slot. Returns the slots handled, per job.
    func catchUp() async throws -> [String: Date] {
        let config = await state.config
        let now = clock.now
        let calendar = SlotCalendar(zone: config.timeZone)
        var handled: [String: Date] = [:]
        if let nightly = ScheduleTime(config.schedule.nightly), !registry.pipeline.isEmpty {
            let last = try await lastSuccess(job: JobRegistry.pipelineName, config: config)
            for day in calendar.nightlyCatchup(lastSuccess: last, at: nightly, now: now, maxDays: config.catchup.maxDays) {
                let slot = Slot(job: JobRegistry.pipelineName, instant: calendar.nightlySlot(for: day, at: nightly), logicalDate: day)
                // A slot that could not run (database gone) is tried again
                // after a pause, until it ran or the daemon stops.
                while await !state.stopping, await !run(slot, trigger: .catchup, config: config) {
                    await backoffAfterFailure()
                }
                if await state.stopping { return handled }
            }
            handled[JobRegistry.pipelineName] = now
        }
        for job in registry.jobs where job.kind == .slot {
            if await state.stopping { return handled }
            let latest = Schedules.latestSlot(job: job, config: config, atOrBefore: now)
            while await !state.stopping,
                  await !run(Slot(job: job.name, instant: latest, logicalDate: nil), trigger: .catchup, config: config) {
                await backoffAfterFailure()
            }
            handled[job.name] = now
        }
        return handled
    }

    func lastSuccess(job: String, config: BatchConfig) async throws -> LocalDate? {
        let connection = try await target(config).connect(for: "daemon")
        return try await connection.query("""
            SELECT max(logical_date) AS d FROM batch.job_runs
            WHERE job = $1 AND status = 'succeeded' AND NOT coalesce((args->>'dry_run')::boolean, false)
            """, [job]).first?.decode("d", as: LocalDate?.self)
    }

    /// The earliest next slot of any scheduled job after what was handled.
    func nextSlot(after handled: [String: Date], config: BatchConfig) -> (Slot, Date)? {
        let calendar = SlotCalendar(zone: config.timeZone)
        let now = clock.now
        var candidates: [Slot] = []
        if let nightly = ScheduleTime(config.schedule.nightly), !registry.pipeline.isEmpty {
            let after = handled[JobRegistry.pipelineName] ?? now
            if let instant = calendar.nextSlot(of: [nightly], after: after) {
                candidates.append(Slot(job: JobRegistry.pipelineName, instant: instant,
                                       logicalDate: calendar.localDate(of: instant).adding(days: -1)))
            }
        }
        for job in registry.jobs where job.kind == .slot {
            let after = handled[job.name] ?? now
            guard var instant = Schedules.nextDue(job: job, config: config, after: after) else { continue }
            // A slot job depends on T alone: after a long run, only the latest missed slot.
            if instant < now { instant = Schedules.latestSlot(job: job, config: config, atOrBefore: now) }
            candidates.append(Slot(job: job.name, instant: instant, logicalDate: nil))
        }
        guard let next = candidates.min(by: { ($0.instant, $0.job) < ($1.instant, $1.job) }) else { return nil }
        return (next, next.instant)
    }

    /// Runs one slot as the current job. True when its outcome is recorded
    /// (whatever it was); false when it could not run (database unreachable).
    func run(_ slot: Slot, trigger: RunTrigger, config: BatchConfig) async -> Bool {
        let orchestrator: Orchestrator
        do { orchestrator = try self.orchestrator(config) } catch {
            logger.error("cannot run \(slot.job): \(BatchError.classify(error).message)")
            return false
        }
        let box = OutcomeBox()
        let logger = self.logger
        // A slot held elsewhere is tried again until it ran (here or there);
        // only the first attempt records its `skipped` row.
        let quiet = await state.heldBefore(slot.key)
        let configPath = options.configPath
        let task = await state.start {
            do {
                let redacted = orchestrator.runner.target.redacted
                let args = RunArgs(date: slot.logicalDate, at: slot.logicalDate == nil ? ISOInstant.format(slot.instant) : nil,
                                   database: redacted.isEmpty ? nil : redacted, config: configPath)
                if slot.job == JobRegistry.pipelineName, let day = slot.logicalDate {
                    let outcome = try await orchestrator.runPipeline(date: day, trigger: trigger, dryRun: false, args: args,
                                                                     onlyIfNotDone: true, quietIfHeld: quiet)
                    await box.set(outcome.status, retryable: outcome.retryable)
                } else {
                    let outcome = try await orchestrator.runner.run(RunRequest(job: slot.job, at: slot.instant, trigger: trigger,
                                                                               args: args, onlyIfNotDone: true, quietIfHeld: quiet))
                    await box.set(outcome.status, retryable: outcome.retryable)
                }
            } catch {
                logger.error("\(slot.job) could not run: \(BatchError.classify(error).message)")
                await box.fail(BatchError.classify(error))
            }
        }
        await task.value
        await state.finished()
        if let error = await box.error {
            await setStatus("error: \(slot.job) could not run: \(error.message); retrying")
            return error.status != .tryLater
        }
        if await box.status == .skipped, await !state.stopping {
            await state.markHeld(slot.key)
            await setStatus("\(slot.job) is held by another process; trying again shortly")
            return false
        }
        await state.clearHeld(slot.key)
        if await box.retryable, await !state.stopping {
            await setStatus("database connection lost during \(slot.job); retrying")
            logger.warning("\(slot.job) lost its database connection; the slot runs again when the database is back")
            return false
        }
        return true
    }

    /// Rewrites `batch.job_schedule` after a slot ran, so that its
    /// `next_due` (and `batch.job_status`'s next due slot) moves on with the
    /// daemon instead of showing the slot after its start. A failure only
    /// leaves the old values; it is logged, never fatal.
    func refreshSchedule(_ config: BatchConfig) async {
        do {
            let connection = try await target(config).connect(for: "schedule")
            try await ScheduleTable.write(registry: registry, config: config, clock: clock, on: connection)
        } catch {
            logger.warning("batch.job_schedule not refreshed: \(BatchError.classify(error).message)")
        }
    }

    func backoffAfterFailure() async {
        for _ in 0..<50 {
            if await state.stopping { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// One scheduled slot: the nightly pipeline for a logical date, or a slot
/// job as of its instant.
struct Slot: Sendable {
    var job: String
    var instant: Date
    var logicalDate: LocalDate?

    var key: String { "\(job)|\(logicalDate?.description ?? ISOInstant.format(instant))" }

    func description(in zone: TimeZone) -> String {
        let when = Schedules.describe(instant, in: zone)
        if let logicalDate { return "\(job) for \(logicalDate) at \(when)" }
        return "\(job) at \(when)"
    }
}

actor OutcomeBox {
    var status: RunStatus?
    var retryable = false
    var error: BatchError?
    func set(_ status: RunStatus, retryable: Bool) {
        self.status = status
        self.retryable = retryable
    }
    func fail(_ error: BatchError) { self.error = error }
}
