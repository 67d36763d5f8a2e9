import Foundation
import Logging
import PostgresClient

/// What a running job sees: its connection (inside the job's transaction),
/// its logical date or as-of instant, the config, and the step recorder.
///
/// A context belongs to one run and is used by that run's task only.
public final class JobContext {
    public let job: JobDefinition
    public let connection: Connection
    public let config: BatchConfig
    public let logger: Logger
    /// Nightly jobs: D. Slot jobs: the date of T in TZ.
    public let logicalDate: LocalDate
    /// `[windowStart, windowEnd)`: the logical day, or (slot jobs) ending at T.
    public let windowStart: Date?
    public let windowEnd: Date
    /// The as-of instant: `end_of(D)` for nightly jobs, T for slot jobs.
    public var asOf: Date { windowEnd }
    public let dryRun: Bool
    /// Today in the configured zone by the wall clock (tests pin it). Only
    /// for rules about the real world, such as "a plan for today is kept".
    public let today: LocalDate
    /// The directory run reports are written to (the runner's
    /// `ReportWriter`), for the retention of report files; nil when the
    /// runner has none.
    public let reportDirectory: String?

    let recorder: RunRecorder
    let runID: Int64
    let progress: (@Sendable (String) -> Void)?
    private(set) var stepReports: [RunReport.Step] = []
    private(set) var warnings: [String] = []

    init(job: JobDefinition, connection: Connection, config: BatchConfig, logger: Logger, logicalDate: LocalDate,
         windowStart: Date?, windowEnd: Date, dryRun: Bool, today: LocalDate, reportDirectory: String? = nil,
         recorder: RunRecorder, runID: Int64, progress: (@Sendable (String) -> Void)? = nil) {
        self.progress = progress
        self.job = job
        self.connection = connection
        self.config = config
        self.logger = logger
        self.logicalDate = logicalDate
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.dryRun = dryRun
        self.today = today
        self.reportDirectory = reportDirectory
        self.recorder = recorder
        self.runID = runID
    }

    /// Parameters every job's SQL may use: `:day`, `:tz`, `:window_start`,
    /// `:window_end`, `:as_of` and `:at` (both the same instant as
    /// `:window_end`: the cut of a nightly job, T of a slot job), `:today`.
    public var baseParameters: [String: any PostgresEncodable] {
        var p: [String: any PostgresEncodable] = [
            "day": logicalDate, "tz": config.timezone, "window_end": windowEnd, "as_of": windowEnd, "at": windowEnd,
            "today": today,
        ]
        if let windowStart { p["window_start"] = windowStart }
        return p
    }

    /// Records a warning for the run report (and logs it once).
    public func warn(_ message: String) {
        warnings.append(message)
        logger.warning("\(message)")
    }

    /// Runs one recorded step: its row in `batch.job_run_steps` shows it
    /// running, then its status, duration and counts.
    @discardableResult
    public func step(_ name: String, _ body: (Connection) async throws -> StepCounts) async throws -> StepCounts {
        let number = stepReports.count + 1
        let started = Date()
        stepStarted = started
        lastProgress = nil
        progress?("running \(job.name) \(job.kind == .slot ? "" : logicalDate.description + " ")step \(number)/\(max(number, job.steps.count)) \(name)")
        try await recorder.stepStarted(runID: runID, stepNo: number, name: name, at: started)
        do {
            let counts = try await body(connection)
            let finished = Date()
            try await recorder.stepFinished(runID: runID, stepNo: number, status: .succeeded, at: finished,
                                            duration: finished.timeIntervalSince(started), counts: counts)
            stepReports.append(RunReport.Step(number: number, name: name, status: .succeeded, started: started,
                                              finished: finished, counts: counts))
            logger.debug("step \(name) done", metadata: ["rows_written": "\(counts.rowsWritten)"])
            return counts
        } catch {
            let finished = Date()
            try? await recorder.stepFinished(runID: runID, stepNo: number, status: .failed, at: finished,
                                             duration: finished.timeIntervalSince(started), counts: StepCounts())
            stepReports.append(RunReport.Step(number: number, name: name, status: .failed, started: started,
                                              finished: finished, counts: StepCounts()))
            throw error
        }
    }

    private var stepStarted: Date?
    private var lastProgress: Date?

    /// Reports progress inside the running step (a batched job after each
    /// batch): at most once a second, into `batch.job_run_steps.detail`
    /// (rows so far, rate) and to the progress listener (sd_notify STATUS,
    /// a terminal).
    public func progress(rows: Int) async {
        let now = Date()
        if let last = lastProgress, now.timeIntervalSince(last) < 1 { return }
        lastProgress = now
        let number = stepReports.count + 1
        let elapsed = max(now.timeIntervalSince(stepStarted ?? now), 0.001)
        let rate = Double(rows) / elapsed
        let name = number <= job.steps.count ? job.steps[number - 1] : "step \(number)"
        progress?("running \(job.name) \(job.kind == .slot ? "" : logicalDate.description + " ")step \(number)/\(max(number, job.steps.count)) \(name): \(rows) rows, \(Int(rate))/s")
        let recorder = self.recorder, runID = self.runID
        await Task { try? await recorder.stepProgress(runID: runID, stepNo: number, rows: rows, rate: rate, at: now) }.value
    }

    /// Runs `body` in a transaction of its own, for jobs that commit in
    /// batches; in a dry run (one transaction for everything, rolled back)
    /// it runs inside the run's transaction instead.
    @discardableResult
    public func batch<T: Sendable>(_ body: (Connection) async throws -> T) async throws -> T {
        if job.transactional || dryRun { return try await body(connection) }
        return try await connection.transaction(isolation: job.isolation, body)
    }

    /// Runs one statement of a step with the base parameters plus `parameters`.
    public func query(named sql: String, _ parameters: [String: any PostgresEncodable] = [:]) async throws -> QueryResult {
        try await connection.query(named: sql, baseParameters.merging(parameters) { _, new in new })
    }

    /// Runs every step of a job SQL file in order, binding `parameters`
    /// (plus `baseParameters`, plus what a statement binds with a
    /// `bind_<name>` column) by name.
    public func runSteps(_ sql: JobSQL, parameters: [String: any PostgresEncodable]) async throws {
        var all = baseParameters.merging(parameters) { _, new in new }
        for step in sql.steps {
            try await self.step(step.name) { connection in
                var counts = StepCounts()
                for statement in step.statements {
                    let result = try await connection.query(named: statement, all)
                    try counts.add(result)
                    all.merge(try JobSQL.bindings(result)) { _, new in new }
                }
                return counts
            }
        }
    }

    var totals: StepCounts {
        stepReports.reduce(into: StepCounts()) { sum, step in
            sum.rowsRead += step.rowsRead
            sum.rowsWritten += step.rowsWritten
            for (reason, n) in step.badRows { sum.badRows[reason, default: 0] += n }
            for (name, n) in step.counters ?? [:] { sum.counters[name, default: 0] += n }
        }
    }
}
