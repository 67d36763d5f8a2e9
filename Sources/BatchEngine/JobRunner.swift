import Foundation
import Logging
import PostgresClient

/// What to run: one job for one logical date (nightly jobs) or as of one
/// instant (slot jobs).
public struct RunRequest: Sendable {
    public var job: String
    public var logicalDate: LocalDate?
    public var at: Date?
    public var trigger: RunTrigger
    public var dryRun: Bool
    public var parentRunID: Int64?
    public var args: RunArgs
    /// For the scheduler: do nothing when this slot (the job's logical date,
    /// or its instant T) already succeeded. Checked while holding the job's
    /// lock, so that two daemons run every slot exactly once between them.
    public var onlyIfNotDone: Bool
    /// For the scheduler's retries: when the job is held elsewhere, do not
    /// record another `skipped` row (the first attempt recorded one).
    public var quietIfHeld: Bool
    /// For pipeline members: how long to wait for a job lock held elsewhere
    /// before the run counts as held (`nil`: do not wait; 0: no limit). The
    /// usual holder is a session-close slot run that ends within a second;
    /// without the wait, the nightly's session-close step would be skipped
    /// and with it session-analytics, usage-stats and cleanup for the date.
    public var lockWaitSeconds: Double?

    public init(job: String, logicalDate: LocalDate? = nil, at: Date? = nil, trigger: RunTrigger = .manual,
                dryRun: Bool = false, parentRunID: Int64? = nil, args: RunArgs = RunArgs(), onlyIfNotDone: Bool = false,
                quietIfHeld: Bool = false, lockWaitSeconds: Double? = nil) {
        self.job = job
        self.onlyIfNotDone = onlyIfNotDone
        self.quietIfHeld = quietIfHeld
        self.lockWaitSeconds = lockWaitSeconds
        self.logicalDate = logicalDate
        self.at = at
        self.trigger = trigger
        self.dryRun = dryRun
        self.parentRunID = parentRunID
        self.args = args
    }
}

/// How a run ended.
public struct RunOutcome: Sendable {
    public var runID: Int64?
    public var status: RunStatus
    public var report: RunReport?
    public var message: String?
    /// The failure came from losing the database (server restart, network),
    /// not from the job: the scheduler runs the slot again once it is back.
    public var retryable = false

    public var exitStatus: ExitStatus {
        switch status {
        case .succeeded: return .success
        case .skipped: return .tryLater
        case .failed, .interrupted, .running: return .jobFailed
        }
    }
}

/// Runs one job: takes the job's advisory lock on the working connection,
/// marks runs of dead processes `interrupted`, records the run, runs the
/// job's steps in one transaction (rolled back on any error, or always for a
/// dry run), then records the outcome and writes the report.
public struct JobRunner: Sendable {
    public let registry: JobRegistry
    public let config: BatchConfig
    public let target: DatabaseTarget
    public let clock: BatchClock
    public let logger: Logger
    public let reports: ReportWriter
    /// Prints the human summary on stderr after each run.
    public var printSummary = true
    /// Told what runs now (job, step), for sd_notify STATUS.
    public var progress: (@Sendable (String) -> Void)?

    public init(registry: JobRegistry, config: BatchConfig, target: DatabaseTarget, clock: BatchClock,
                logger: Logger, reports: ReportWriter) {
        self.registry = registry
        self.config = config
        self.target = target
        self.clock = clock
        self.logger = logger
        self.reports = reports
    }

    public func run(_ request: RunRequest) async throws -> RunOutcome {
        let job = try registry.require(request.job)
        let work = try await target.connect(for: job.name)
        try await Migrator.verifyCurrent(on: work)
        try await AppSchemaCheck.verify(on: work)
        let recorder = RunRecorder(connection: try await target.connect(for: "\(job.name)/recorder"))

        let (logicalDate, windowStart, windowEnd) = try await window(for: job, request: request, on: work)
        let start = RunRecorder.Start(
            job: job.name, parentRunID: request.parentRunID,
            logicalDate: job.kind == .slot && request.logicalDate == nil ? nil : logicalDate,
            windowStart: windowStart, windowEnd: windowEnd, trigger: request.trigger,
            args: request.args, startedAt: Date())

        let lock = AdvisoryLockKey(name: job.name)
        guard try await takeLock(lock, job: job.name, waitingUpTo: request.lockWaitSeconds, on: work, recorder: recorder) else {
            let holder = try await recorder.holderDescription(job: job.name, lock: lock)
            if request.quietIfHeld { return RunOutcome(runID: nil, status: .skipped, report: nil, message: holder) }
            return try await recordSkipped(start, code: "LOCKED", reason: holder, recorder: recorder)
        }
        do {
            let outcome = try await runHoldingLock(job: job, request: request, work: work, recorder: recorder,
                                                   start: start, logicalDate: logicalDate,
                                                   windowStart: windowStart, windowEnd: windowEnd)
            await Task { _ = try? await work.advisoryUnlock(lock) }.value
            return outcome
        } catch {
            await Task { _ = try? await work.advisoryUnlock(lock) }.value
            throw error
        }
    }

    private func runHoldingLock(job: JobDefinition, request: RunRequest, work: Connection, recorder: RunRecorder,
                                start: RunRecorder.Start, logicalDate: LocalDate, windowStart: Date?,
                                windowEnd: Date) async throws -> RunOutcome {
        var start = start
        if request.onlyIfNotDone, let done = try await recorder.succeededRun(of: start) {
            logger.debug("\(job.name): slot already done by run \(done)")
            return RunOutcome(runID: done, status: .succeeded, report: nil, message: "already done by run \(done)")
        }
        // Run rows carry real times: the injectable clock decides dates, not durations.
        start.startedAt = Date()
        let runID = try await recorder.start(start)
        var runLogger = logger
        runLogger[metadataKey: "job"] = "\(job.name)"
        runLogger[metadataKey: "run_id"] = "\(runID)"
        let stale = try await recorder.markInterrupted(job: job.name, foundBy: runID, at: start.startedAt)
        if stale > 0 { runLogger.warning("marked \(stale) earlier run(s) of \(job.name) interrupted: their process is gone") }

        let context = JobContext(job: job, connection: work, config: config, logger: runLogger,
                                 logicalDate: logicalDate, windowStart: windowStart, windowEnd: windowEnd,
                                 dryRun: request.dryRun, today: LocalDate(clock.now, in: config.timeZone),
                                 reportDirectory: reports.directory, recorder: recorder, runID: runID,
                                 progress: progress)
        progress?("running \(job.name) \(start.logicalDate.map(\.description) ?? ISOInstant.format(windowEnd))")
        var failure: (any Error)?
        var tableCounts: [String: RunReport.TableCounts]?
        let oneTransaction = job.transactional || request.dryRun
        do {
            if oneTransaction {
                try await work.transaction(isolation: job.isolation) { tx in
                    try await applyTimeouts(for: job, on: tx, local: true)
                    try await job.run(context)
                    tableCounts = try await Self.tableCounts(on: tx)
                    if request.dryRun { throw DryRunRollback() }
                }
            } else {
                try await applyTimeouts(for: job, on: work, local: false)
                try await job.run(context)
            }
        } catch is DryRunRollback {
            runLogger.info("dry run: rolled back")
        } catch {
            failure = error
        }
        // A lock or statement timeout: name the sessions holding locks (LockDiagnostics.swift).
        let blockers = await LockDiagnostics.describe(failure, on: work, excluding: [recorder.connection.backendPID])

        let finished = Date()
        // Cancelled (daemon stop): the transaction was rolled back; the run
        // is `interrupted`, not `failed`.
        let interrupted = failure != nil && Task.isCancelled
        var report = RunReport(
            runId: runID, parentRunId: request.parentRunID, job: job.name, logicalDate: start.logicalDate,
            window: .init(start: windowStart, end: windowEnd), trigger: request.trigger, args: request.args,
            host: recorder.host, pid: recorder.pid, version: BatchVersion.current,
            status: failure == nil ? .succeeded : (interrupted ? .interrupted : .failed),
            startedAt: start.startedAt, finishedAt: finished,
            durationMs: max(0, Int((finished.timeIntervalSince(start.startedAt) * 1000).rounded())),
            steps: context.stepReports, badRows: context.totals.badRows,
            counters: context.totals.counters.isEmpty ? nil : context.totals.counters, warnings: context.warnings,
            error: failure.map(Self.errorInfo),
            totals: .init(rowsRead: context.totals.rowsRead, rowsWritten: context.totals.rowsWritten,
                          badRows: context.totals.badRows.values.reduce(0, +)))
        report.tables = failure == nil ? tableCounts : nil
        if let blockers {
            report.warnings.append(blockers)
            report.error?.message += "; \(blockers)"
        }
        if !report.badRows.isEmpty {
            let reasons = report.badRows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            runLogger.warning("skipped \(report.totals.badRows) bad input row(s): \(reasons)")
        }
        // Recording must happen even when this task was cancelled: an
        // unstructured task does not inherit the cancellation.
        let finalReport = report
        let target = self.target
        try await Task {
            do {
                try await recorder.finish(runID: runID, report: finalReport)
                await self.writeMetrics(using: recorder.connection)
            } catch {
                // The recorder's connection may have died with the server; one
                // fresh connection gets a chance before we give up.
                let retry = RunRecorder(connection: try await target.connect(for: "\(job.name)/recorder"))
                try await retry.finish(runID: runID, report: finalReport)
            }
        }.value
        report = publish(report, logger: runLogger)
        if let failure {
            runLogger.error("\(job.name) \(interrupted ? "was interrupted" : "failed"): \(Self.errorInfo(failure).message)")
        }
        var outcome = RunOutcome(runID: runID, status: report.status, report: report,
                                 message: failure.map { Self.errorInfo($0).message })
        outcome.retryable = failure.map(Self.isConnectionLoss) ?? false
        return outcome
    }

    /// Records a run that did not start, as every run is recorded: its
    /// `skipped` row (error_code `LOCKED` or `UPSTREAM`) with its report, the
    /// report file and the summary. The run took no time and wrote nothing.
    public func recordSkipped(_ start: RunRecorder.Start, code: String, reason: String,
                              recorder: RunRecorder) async throws -> RunOutcome {
        let id = try await recorder.skipped(start, code: code, reason: reason)
        let hint = code == "LOCKED"
            ? "the other run goes on; run this one again when it has finished (the daemon retries a held slot by itself)"
            : "fix the upstream job's failure, then rerun this date"
        var report = RunReport(
            runId: id, parentRunId: start.parentRunID, job: start.job, logicalDate: start.logicalDate,
            window: .init(start: start.windowStart, end: start.windowEnd), trigger: start.trigger, args: start.args,
            host: recorder.host, pid: recorder.pid, version: BatchVersion.current, status: .skipped,
            startedAt: start.startedAt, finishedAt: start.startedAt, durationMs: 0, steps: [], badRows: [:],
            counters: nil, warnings: [], error: .init(sqlstate: nil, message: "\(code): \(reason)", detail: nil, hint: hint),
            totals: .init(rowsRead: 0, rowsWritten: 0, badRows: 0))
        try await recorder.attachReport(runID: id, report: report)
        logger.warning("\(start.job): \(reason); recorded run \(id) as skipped; \(hint)", metadata: ["job": "\(start.job)"])
        report = publish(report, logger: logger)
        return RunOutcome(runID: id, status: .skipped, report: report, message: reason)
    }

    /// Writes the report file of a recorded run and prints its summary. A
    /// file that cannot be written (a full disk) fails nothing: the report
    /// is in the run row, and the log and the summary say so.
    func publish(_ report: RunReport, logger: Logger) -> RunReport {
        var report = report
        do {
            let path = try reports.write(report)
            logger.debug("report written to \(path)")
        } catch {
            report.warnings.append("\(error)")
            logger.error("run \(report.runId) is recorded in batch.job_runs, but its report file was not written: \(error)")
        }
        if printSummary { FileHandle.standardError.write(Data((report.summary + "\n").utf8)) }
        return report
    }

    /// Resolves the logical date and the half-open window `[start, end)`.
    /// The instants come from PostgreSQL's own zone rules, the same ones the
    /// job SQL uses. A slot job runs as of T: `--at`, else `end_of(D)`
    /// inside the nightly pipeline, else the latest past slot.
    private func window(for job: JobDefinition, request: RunRequest, on connection: Connection) async throws
        -> (LocalDate, Date?, Date) {
        if job.kind == .slot, request.logicalDate == nil {
            let at = request.at ?? Schedules.latestSlot(job: job, config: config, atOrBefore: clock.now)
            return (LocalDate(at, in: config.timeZone), nil, at)
        }
        guard let day = request.logicalDate else { throw BatchError.usage("\(job.name) needs a logical date (--date)") }
        let row = try await connection.query("""
            SELECT ($1::date::timestamp AT TIME ZONE $2) AS window_start,
                   (($1::date + 1)::timestamp AT TIME ZONE $2) AS window_end
            """, [day, config.timezone]).first!
        let end = try row.decode("window_end", as: Date.self)
        if job.kind == .slot { return (day, nil, request.at ?? end) }
        return (day, try row.decode("window_start", as: Date.self), end)
    }

    /// Rewrites the Prometheus textfile (`[metrics] textfile`), if configured.
    /// A failure is logged, never fails the run.
    func writeMetrics(using connection: Connection) async {
        guard !config.metrics.textfile.isEmpty else { return }
        do {
            try await MetricsTextfile(path: config.metrics.textfile).write(from: connection)
        } catch {
            logger.warning("metrics file \(config.metrics.textfile) not written: \(BatchError.classify(error).message)")
        }
    }

    /// Tries the job's lock; when it is held and a wait is allowed, tries
    /// again every 100 ms until it is free or the wait runs out. Polling
    /// rather than `pg_advisory_lock` keeps the wait cancellable and leaves
    /// no waiting lock request behind. A cancelled wait (daemon stop) throws
    /// CancellationError: the run did not start, and was not "held".
    private func takeLock(_ lock: AdvisoryLockKey, job: String, waitingUpTo seconds: Double?,
                          on work: Connection, recorder: RunRecorder) async throws -> Bool {
        if try await work.tryAdvisoryLock(lock) { return true }
        guard let seconds, seconds >= 0 else { return false }
        let holder = try await recorder.holderDescription(job: job, lock: lock)
        logger.info("\(holder); waiting for it\(seconds > 0 ? " up to \(String(format: "%g", seconds)) s (lock_seconds)" : "")",
                    metadata: ["job": "\(job)"])
        let deadline = Date().addingTimeInterval(seconds)
        while seconds == 0 || Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            if try await work.tryAdvisoryLock(lock) { return true }
        }
        return false
    }

    /// `statement_timeout`, `lock_timeout` and
    /// `idle_in_transaction_session_timeout` of the job's config, and
    /// `jit = off`: for its transaction (`local`), or for the session of a
    /// batched job.
    ///
    /// JIT because PostgreSQL's default (`jit = on`) compiles every
    /// statement whose estimated cost passes `jit_above_cost`. The jobs' key
    /// probes over large tables have large estimates but run in
    /// milliseconds, so the compile time (about 0.35 s a statement here) was
    /// most of such a job (usage-stats: 0.44 s with JIT, 0.09 s without; BENCHMARKS.md).
    ///
    /// `default_statistics_target = 10` (for the transaction, or for the
    /// connection of a job that runs without one; neither of those
    /// ANALYZEs) because the only tables a job ANALYZEs are its own
    /// temporary tables, whose statistics only steer
    /// the plans of the statements after them (row counts, and distinct
    /// counts for hash sizes). At the server default of 100, ANALYZE samples
    /// 30,000 rows and sorts every column of them: 40-57 ms for one day's
    /// first attempts at S, more than the statement that filled the table.
    /// At 10 it samples 3,000 rows in about 5 ms; the row count stays exact
    /// while the table has fewer than 3,000 pages. Distinct counts get
    /// rougher, so the job SQL does not lean on join estimates between temp
    /// tables: set differences are `EXCEPT`s, which are hashed whatever
    /// the estimate (BENCHMARKS.md, evening round: an anti-join estimated
    /// at 1 row became a nested loop, 6 s at M).
    private func applyTimeouts(for job: JobDefinition, on connection: Connection, local: Bool) async throws {
        let t = config.timeouts(for: job.name)
        try await connection.query("""
            SELECT set_config('statement_timeout', $1, $4), set_config('lock_timeout', $2, $4),
                   set_config('idle_in_transaction_session_timeout', $3, $4), set_config('jit', 'off', $4),
                   set_config('default_statistics_target', '10', $4)
            """, [Self.milliseconds(t.statementSeconds), Self.milliseconds(t.lockSeconds),
                  Self.milliseconds(t.idleInTransactionSeconds), local])
        // The daemon's watchdog stops its pings when a statement waits far
        // beyond this (StatementWatch): the server can no longer answer.
        connection.statementLimit = t.statementSeconds > 0 ? .milliseconds(Int(t.statementSeconds * 1000)) : nil
    }

    /// What this transaction changed, per table (temporary tables left out):
    /// the per-table counts of a run, and what a dry run would have written.
    static func tableCounts(on connection: Connection) async throws -> [String: RunReport.TableCounts] {
        var result: [String: RunReport.TableCounts] = [:]
        for row in try await connection.query("""
            SELECT schemaname || '.' || relname AS name, n_tup_ins, n_tup_upd, n_tup_del
            FROM pg_stat_xact_user_tables
            WHERE schemaname NOT LIKE 'pg_temp%' AND n_tup_ins + n_tup_upd + n_tup_del > 0
            """).rows {
            result[try row.decode("name")] = .init(inserted: try row.decode("n_tup_ins"), updated: try row.decode("n_tup_upd"),
                                                   deleted: try row.decode("n_tup_del"))
        }
        return result
    }

    /// A lost connection or a server shutting down (SQLSTATE class 08,
    /// 57P01-57P03), as opposed to an error of the job itself.
    public static func isConnectionLoss(_ error: any Error) -> Bool {
        if let error = error as? PostgresError { return error.isConnectionLoss }
        return (error as? BatchError)?.status == .tryLater
    }

    static func milliseconds(_ seconds: Double) -> String { String(Int((seconds * 1000).rounded())) }

    static func errorInfo(_ error: any Error) -> RunReport.ErrorInfo {
        switch error {
        case let e as PostgresError:
            return .init(sqlstate: e.sqlState, message: e.message + (e.statement.map { " [in: \($0)]" } ?? ""),
                         detail: e.detail, hint: e.hint)
        case let e as BatchError:
            return .init(sqlstate: nil, message: e.message)
        case is CancellationError:
            return .init(sqlstate: "57014", message: "the run was cancelled")
        default:
            return .init(sqlstate: nil, message: String(describing: error))
        }
    }
}

struct DryRunRollback: Error {}
