import BatchEngine
import Foundation
import PostgresClient

/// cleanup (nightly, last): the retention rules of computations.md, each
/// deleting in batches of at most `retention.batch_size` rows per
/// transaction, with each rule's count in the run report.
///
/// SQL: `sql/jobs/cleanup.sql`. Rules: computations.md, "cleanup".
///
/// Each rule is one recorded step, whose `rows_written` is the number of
/// rows the rule deleted (including the rows that go with them: a session's
/// analytics, a run's steps and member runs) or, for report files, the
/// number of files; the step's counters split it by table
/// (`sessions_deleted`, `session_analytics_deleted`, `plan_units_deleted`,
/// `job_runs_deleted`, `job_run_steps_deleted`, `report_files_deleted`),
/// and the run report sums them. The job is not one transaction (`transactional:
/// false`): every batch commits on its own through `JobContext.batch`, so
/// no transaction holds many row locks for long; a batch is idempotent, so
/// an interrupted run loses nothing. A dry run runs every batch inside the
/// run's single transaction, rolled back, and deletes no file.
public enum Cleanup {
    public static let name = "cleanup"
    static let sql = JobSQL("jobs/cleanup.sql")
    /// The step handled here in Swift: its statement only yields the cut-off instant.
    static let reportFilesStep = "delete-old-report-files"
    /// The engine's own ceiling on rows per transaction (the config allows 1...10000).
    static let maxBatchSize = 10_000

    public static let definition = JobDefinition(
        name: name,
        summary: "retention: empty sessions, old plans, old run rows and report files",
        kind: .nightly,
        schedule: "nightly",
        dependsOn: [SessionClose.name, MasteryUpdate.name, LearningImpact.name, ImportanceIndex.name,
                    SessionAnalytics.name, UsageStats.name],
        steps: sql.stepNames,
        transactional: false,
        run: run)

    @Sendable static func run(_ context: JobContext) async throws {
        let r = context.config.retention
        let parameters = context.baseParameters.merging([
            "batch_size": min(max(r.batchSize, 1), maxBatchSize),
            "empty_session_days": r.emptySessionDays,
            "plan_days": r.planDays,
            "skipped_run_days": r.skippedRunDays,
            "step_detail_days": r.stepDetailDays,
            "succeeded_run_days": r.succeededRunDays,
            "report_file_days": r.reportFileDays,
        ] as [String: any PostgresEncodable]) { _, new in new }

        for step in sql.steps {
            if step.name == reportFilesStep {
                try await context.step(step.name) { connection in
                    let cutoff = try await connection.query(named: step.statements[0], parameters).first!
                        .decode("files_before", as: Date.self)
                    let files = try deleteReportFiles(in: context.reportDirectory, before: cutoff, dryRun: context.dryRun,
                                                      context: context)
                    return StepCounts(rowsWritten: files, counters: ["report_files_deleted": files])
                }
                continue
            }
            try await context.step(step.name) { connection in
                var counts = StepCounts()
                // Every statement but the last runs once: bad-row counts.
                for statement in step.statements.dropLast() {
                    let result = try await connection.query(named: statement, parameters)
                    guard let row = result.first else { continue }
                    for column in result.columns where column.hasPrefix("bad_") {
                        let n = try row.decode(column, as: Int?.self) ?? 0
                        if n > 0 { counts.badRows[String(column.dropFirst(4)), default: 0] += n }
                    }
                }
                // The last one deletes one batch per transaction, until it says no more are left.
                guard let batchStatement = step.statements.last else { return counts }
                var batches = 0
                while true {
                    let (deleted, perTable, more) = try await context.batch { connection in
                        let result = try await connection.query(named: batchStatement, parameters)
                        let row = result.first!
                        var perTable: [String: Int] = [:]
                        for column in result.columns where column.hasSuffix("_deleted") {
                            perTable[column] = try row.decode(column, as: Int.self)
                        }
                        return (try row.decode("rows_written", as: Int.self), perTable, try row.decode("more", as: Bool.self))
                    }
                    batches += 1
                    counts.rowsWritten += deleted
                    for (table, n) in perTable { counts.counters[table, default: 0] += n }
                    if !more { break }
                    await context.progress(rows: counts.rowsWritten)
                }
                context.logger.debug("\(step.name): \(counts.rowsWritten) row(s) deleted in \(batches) batch(es)")
                return counts
            }
        }
    }

    /// Deletes the run report files in `directory` last modified before
    /// `cutoff` (in a dry run: only counts them) and returns their number.
    /// Only the report writer's own files are touched: `*-run<ID>.json` and
    /// leftover temporaries `.*-run<ID>.json.tmp`; nothing in subdirectories.
    static func deleteReportFiles(in directory: String?, before cutoff: Date, dryRun: Bool,
                                  context: JobContext) throws -> Int {
        guard let directory else {
            context.warn("no report directory is known to this run: report files were not cleaned up")
            return 0
        }
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        for name in names.sorted() where isReportFile(name) {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let attributes = try? manager.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular,
                  let modified = attributes[.modificationDate] as? Date,
                  modified < cutoff else { continue }
            if !dryRun {
                do {
                    try manager.removeItem(atPath: path)
                } catch {
                    // Gone meanwhile, or not ours to delete: say so, keep going.
                    if manager.fileExists(atPath: path) { context.warn("could not delete the old report \(path): \(error)") }
                    continue
                }
            }
            removed += 1
        }
        return removed
    }

    /// `YYYYMMDDTHHMMSS...-JOB-runID.json` (ReportWriter.fileName), or its temporary `.NAME.tmp`.
    static func isReportFile(_ name: String) -> Bool {
        var base = Substring(name)
        if base.hasPrefix("."), base.hasSuffix(".json.tmp") { base = base.dropFirst().dropLast(".tmp".count) }
        guard base.hasSuffix(".json"), let run = base.range(of: "-run", options: .backwards) else { return false }
        let id = base[run.upperBound...].dropLast(".json".count)
        return !id.isEmpty && id.allSatisfy(\.isNumber)
    }
}
