import Foundation
import Logging
import PostgresClient

/// Runs what an operator or the scheduler asks for: one job for a list of
/// dates, the nightly pipeline, slot jobs, and the rerun cascade of
/// computations.md ("rerunning a job for a date older than its newest
/// processed one re-runs that job and its downstream jobs for every later
/// processed date too, oldest first").
public struct Orchestrator: Sendable {
    public let runner: JobRunner

    public init(runner: JobRunner) { self.runner = runner }

    var registry: JobRegistry { runner.registry }
    var logger: Logger { runner.logger }

    /// What to do about later processed dates when an older date is rerun.
    public enum CascadeMode: String, Sendable {
        /// Cascade, unless it spans more than `catchup.max_cascade_days` dates (exit 2).
        case automatic
        /// `--cascade`: cascade however many dates it spans.
        case force
        /// `--no-cascade`: rerun only what was asked, and say so in the report.
        case skip
    }

    /// The dates a rerun of `job` up to `date` must run again, oldest first:
    /// every later date on which `job` (for the pipeline: any member)
    /// succeeded in a real (not dry) run.
    public func cascadeDates(job: String, after date: LocalDate) async throws -> [LocalDate] {
        let jobs = job == JobRegistry.pipelineName ? registry.pipeline + [job] : [job]
        let connection = try await runner.target.connect(for: "plan")
        try await Migrator.verifyCurrent(on: connection)
        return try await connection.query("""
            SELECT DISTINCT logical_date FROM batch.job_runs
            WHERE job = ANY($1::text[]) AND status = 'succeeded' AND logical_date > $2::date
              AND NOT coalesce((args->>'dry_run')::boolean, false)
            ORDER BY logical_date
            """, [jobs, date]).rows.map { try $0.decode("logical_date", as: LocalDate.self) }
    }

    /// Runs `job` (a nightly job or `nightly`) for each date in ascending
    /// order, then the cascade. Stops after the first date with a failure.
    /// Exit: 1 if any run failed, else 75 if any was skipped for a lock, else 0.
    public func runDates(job: String, dates: [LocalDate], trigger: RunTrigger, dryRun: Bool,
                         cascade: CascadeMode, args: RunArgs) async throws -> ExitStatus {
        let dates = dates.sorted()
        guard let last = dates.last else { return .success }
        var cascadeDates: [LocalDate] = []
        var args = args
        if !dryRun {
            cascadeDates = try await self.cascadeDates(job: job, after: last)
        }
        let cascadeJobs = job == JobRegistry.pipelineName ? [job] : registry.withDownstream(job)
        if !cascadeDates.isEmpty {
            let span = "\(cascadeDates.count) later processed date(s) \(cascadeDates.first!)..\(cascadeDates.last!)"
            switch cascade {
            case .skip:
                args.cascade = "skipped: \(span) not rerun (--no-cascade)"
                logger.warning("--no-cascade: \(span) keep results computed from the old input of \(last) and before")
                cascadeDates = []
            case .automatic where cascadeDates.count > runner.config.catchup.maxCascadeDays:
                throw BatchError.usage(
                    "rerunning \(job) for \(last) cascades over \(span), more than catchup.max_cascade_days "
                    + "(\(runner.config.catchup.maxCascadeDays)); pass --cascade to run them all, or --no-cascade to skip them")
            default:
                args.cascade = "\(span): \(cascadeJobs.joined(separator: ", "))"
            }
        }
        printPlan(job: job, dates: dates, cascadeJobs: cascadeJobs, cascadeDates: cascadeDates, dryRun: dryRun)

        var skipped = false
        for day in dates {
            var dayArgs = args
            dayArgs.date = day
            switch try await runOne(job: job, date: day, trigger: trigger, dryRun: dryRun, args: dayArgs) {
            case .jobFailed:
                if day != dates.last || !cascadeDates.isEmpty {
                    logger.error("stopping after \(day): a run failed there; later dates were not run")
                }
                return .jobFailed
            case .tryLater: skipped = true
            default: break
            }
        }
        for day in cascadeDates {
            var dayArgs = args
            dayArgs.date = day
            for member in cascadeJobs {
                switch try await runOne(job: member, date: day, trigger: .backfill, dryRun: false, args: dayArgs) {
                case .jobFailed:
                    logger.error("stopping the cascade at \(day): \(member) failed; later dates were not rerun")
                    return .jobFailed
                case .tryLater:
                    logger.error("stopping the cascade at \(day): \(member) is held by another process; rerun later")
                    return .tryLater
                default: break
                }
            }
        }
        return skipped ? .tryLater : .success
    }

    private func runOne(job: String, date: LocalDate, trigger: RunTrigger, dryRun: Bool, args: RunArgs) async throws -> ExitStatus {
        if job == JobRegistry.pipelineName {
            return try await runPipeline(date: date, trigger: trigger, dryRun: dryRun, args: args).exitStatus
        }
        return try await runner.run(RunRequest(job: job, logicalDate: date, trigger: trigger, dryRun: dryRun, args: args))
            .exitStatus
    }

    private func printPlan(job: String, dates: [LocalDate], cascadeJobs: [String], cascadeDates: [LocalDate], dryRun: Bool) {
        guard dates.count > 1 || !cascadeDates.isEmpty else { return }
        var lines = ["plan\(dryRun ? " (dry run)" : ""):"]
        let what = job == JobRegistry.pipelineName ? "nightly (\(registry.pipeline.joined(separator: ", ")))" : job
        lines.append("  \(what) for \(dates.map(\.description).joined(separator: ", "))")
        if !cascadeDates.isEmpty {
            lines.append("  then, because later dates were processed before (rerun cascade):")
            for day in cascadeDates { lines.append("    \(day): \(cascadeJobs.joined(separator: ", "))") }
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    // MARK: The nightly pipeline

    /// Runs the pipeline's members in order for `date`, under a parent run
    /// row (`job = 'nightly'`). A member whose upstream failed or was held
    /// elsewhere is recorded `skipped`, naming it; independent members still
    /// run. The parent is `failed` if any member failed.
    public func runPipeline(date: LocalDate, trigger: RunTrigger, dryRun: Bool, args: RunArgs,
                            members: [String]? = nil, onlyIfNotDone: Bool = false,
                            quietIfHeld: Bool = false) async throws -> RunOutcome {
        let name = JobRegistry.pipelineName
        let control = try await runner.target.connect(for: name)
        try await Migrator.verifyCurrent(on: control)
        try await AppSchemaCheck.verify(on: control)
        let recorder = RunRecorder(connection: control)
        let window = try await control.query("""
            SELECT ($1::date::timestamp AT TIME ZONE $2) AS window_start,
                   (($1::date + 1)::timestamp AT TIME ZONE $2) AS window_end
            """, [date, runner.config.timezone]).first!
        let start = RunRecorder.Start(
            job: name, parentRunID: nil, logicalDate: date, windowStart: try window.decode("window_start"),
            windowEnd: try window.decode("window_end"), trigger: trigger, args: args, startedAt: Date())
        let lock = AdvisoryLockKey(name: name)
        guard try await control.tryAdvisoryLock(lock) else {
            let holder = try await recorder.holderDescription(job: name, lock: lock)
            if quietIfHeld { return RunOutcome(runID: nil, status: .skipped, report: nil, message: holder) }
            return try await runner.recordSkipped(start, code: "LOCKED", reason: holder, recorder: recorder)
        }
        do {
            if onlyIfNotDone, let done = try await recorder.succeededRun(of: start) {
                await Task { _ = try? await control.advisoryUnlock(lock) }.value
                return RunOutcome(runID: done, status: .succeeded, report: nil, message: "already done by run \(done)")
            }
            let outcome = try await pipelineHoldingLock(start: start, recorder: recorder, members: members ?? registry.pipeline,
                                                        date: date, trigger: trigger, dryRun: dryRun, args: args,
                                                        onlyIfNotDone: onlyIfNotDone)
            await Task { _ = try? await control.advisoryUnlock(lock) }.value
            return outcome
        } catch {
            await Task { _ = try? await control.advisoryUnlock(lock) }.value
            throw error
        }
    }

    /// With `onlyIfNotDone` (the daemon's slots), a member that already
    /// succeeded for the date (in an earlier attempt of this slot that
    /// found another member held, or lost its connection) is not run again.
    private func pipelineHoldingLock(start: RunRecorder.Start, recorder: RunRecorder, members: [String], date: LocalDate,
                                     trigger: RunTrigger, dryRun: Bool, args: RunArgs,
                                     onlyIfNotDone: Bool) async throws -> RunOutcome {
        let parentID = try await recorder.start(start)
        _ = try await recorder.markInterrupted(job: start.job, foundBy: parentID, at: start.startedAt)
        var unusable: [String: String] = [:]   // member -> why its dependents must not run
        var steps: [RunReport.Step] = []
        var anyFailed = false
        var anyLocked = false
        var totals = StepCounts()
        var interrupted = false
        var retryable = false
        for (index, member) in members.enumerated() {
            if Task.isCancelled {
                interrupted = true
                break
            }
            let number = index + 1
            let began = Date()
            try await recorder.stepStarted(runID: parentID, stepNo: number, name: member, at: began)
            let blocking = (registry[member]?.dependsOn ?? []).filter { members.contains($0) && unusable[$0] != nil }
            var status: RunStatus
            var counts = StepCounts()
            if let upstream = blocking.first {
                let reason = "not run: upstream \(upstream) \(unusable[upstream]!)"
                var memberStart = start
                memberStart.job = member
                memberStart.parentRunID = parentID
                memberStart.startedAt = Date()
                _ = try await runner.recordSkipped(memberStart, code: "UPSTREAM", reason: reason, recorder: recorder)
                status = .skipped
                unusable[member] = "was skipped"
            } else {
                var outcome: RunOutcome
                do {
                    outcome = try await runner.run(RunRequest(job: member, logicalDate: date, trigger: trigger, dryRun: dryRun,
                                                              parentRunID: parentID, args: args, onlyIfNotDone: onlyIfNotDone,
                                                              lockWaitSeconds: runner.config.timeouts(for: member).lockSeconds))
                } catch {
                    // The member could not even start (e.g. its connection
                    // failed): it counts as failed, the rest goes on.
                    if error is CancellationError {
                        // Stopped while waiting for the member's lock: it never started.
                        outcome = RunOutcome(runID: nil, status: .interrupted, report: nil, message: "stopped before it started")
                    } else {
                        logger.error("\(member) \(date) could not run: \(BatchError.classify(error).message)")
                        outcome = RunOutcome(runID: nil, status: .failed, report: nil, message: BatchError.classify(error).message)
                    }
                    outcome.retryable = JobRunner.isConnectionLoss(error)
                }
                retryable = retryable || outcome.retryable
                status = outcome.status
                if let report = outcome.report {
                    counts = StepCounts(rowsRead: report.totals.rowsRead, rowsWritten: report.totals.rowsWritten,
                                        badRows: report.badRows)
                } else if outcome.status == .succeeded, let done = outcome.runID {
                    // Done in an earlier attempt of this slot: not run again, no new row.
                    counts.counters["already_done"] = 1
                    logger.info("\(member) \(date): already done by run \(done) in an earlier attempt of this slot")
                }
                switch outcome.status {
                case .failed, .interrupted, .running:
                    anyFailed = true
                    unusable[member] = "failed"
                case .skipped:
                    anyLocked = true
                    unusable[member] = "was held by another process"
                case .succeeded: break
                }
            }
            let ended = Date()
            let stepCounts = counts
            let stepStatus = status
            try await Task {
                try await recorder.stepFinished(runID: parentID, stepNo: number, status: stepStatus, at: ended,
                                                duration: ended.timeIntervalSince(began), counts: stepCounts)
            }.value
            steps.append(RunReport.Step(number: number, name: member, status: status, started: began, finished: ended, counts: counts))
            totals.rowsRead += counts.rowsRead
            totals.rowsWritten += counts.rowsWritten
        }
        let finished = Date()
        interrupted = interrupted || Task.isCancelled || steps.contains { $0.status == .interrupted }
        let status: RunStatus = interrupted ? .interrupted : (anyFailed ? .failed : (anyLocked ? .skipped : .succeeded))
        let failedMembers = steps.filter { $0.status == .failed }.map(\.name)
        let report = RunReport(
            runId: parentID, parentRunId: nil, job: start.job, logicalDate: date,
            window: .init(start: start.windowStart, end: start.windowEnd), trigger: trigger, args: args,
            host: recorder.host, pid: recorder.pid, version: BatchVersion.current, status: status,
            startedAt: start.startedAt, finishedAt: finished,
            durationMs: max(0, Int((finished.timeIntervalSince(start.startedAt) * 1000).rounded())),
            steps: steps, badRows: [:], warnings: [],
            error: anyFailed ? .init(sqlstate: nil, message: "failed: \(failedMembers.joined(separator: ", "))") : nil,
            totals: .init(rowsRead: totals.rowsRead, rowsWritten: totals.rowsWritten, badRows: 0))
        let runner = self.runner
        try await Task {
            try await recorder.finish(runID: parentID, report: report)
            await runner.writeMetrics(using: recorder.connection)
        }.value
        let published = runner.publish(report, logger: logger)
        var outcome = RunOutcome(runID: parentID, status: status, report: published,
                                 message: anyFailed ? "failed: \(failedMembers.joined(separator: ", "))" : nil)
        outcome.retryable = retryable
        return outcome
    }
}
