import ArgumentParser
import BatchEngine
import Foundation
import PostgresClient

/// `studybuddy-batch status [--job NAME] [--run ID] [--json]`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show recent runs from the job-run tables, or one run's steps and report.")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Only runs of this job.")
    var job: String?

    @Option(name: .long, help: "Show one run: its steps and report.")
    var run: Int64?

    @Option(name: .long, help: "How many runs to list.")
    var limit: Int = 20

    @Flag(name: .long, help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let environment = try CommandEnvironment(common)
        let connection = try await environment.target.connect(for: "status")
        try await Migrator.verifyCurrent(on: connection)
        if let run {
            try await showRun(run, on: connection)
            return
        }
        let jobs = try await jobSummaries(on: connection, zone: environment.config.timezone)
        let result = try await connection.query("""
            SELECT id, job, logical_date::text AS logical_date, trigger, status,
                   to_char(started_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS started,
                   duration_ms, rows_read, rows_written, error_message,
                   coalesce((args->>'dry_run')::boolean, false) AS dry_run
            FROM batch.job_runs
            WHERE ($1::text IS NULL OR job = $1)
            ORDER BY started_at DESC, id DESC
            LIMIT $2
            """, [job, limit, environment.config.timezone])
        let runs = try result.rows.map { row in
            StatusRow(id: try row.decode("id"), job: try row.decode("job"), logicalDate: try row.decode("logical_date", as: String?.self),
                      trigger: try row.decode("trigger"), status: try row.decode("status"), started: try row.decode("started"),
                      durationMs: try row.decode("duration_ms", as: Int64?.self), rowsRead: try row.decode("rows_read", as: Int64?.self),
                      rowsWritten: try row.decode("rows_written", as: Int64?.self), error: try row.decode("error_message", as: String?.self),
                      dryRun: try row.decode("dry_run"))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(StatusDocument(jobs: jobs, runs: runs)), as: UTF8.self))
            return
        }
        if jobs.allSatisfy({ $0.lastRunId == nil }) && runs.isEmpty {
            print("no runs recorded yet\(job.map { " for \($0)" } ?? ""); `studybuddy-batch jobs` lists what is scheduled")
            return
        }
        let zone = environment.config.timezone
        print(TextTable.render(
            header: ["job", "last run", "date", "trigger", "status", "duration", "rows", "failures", "gaps", "next due (\(zone))"],
            rows: jobs.map { j in
                [j.job, j.lastRunId.map(String.init) ?? "-", j.lastLogicalDate ?? "-", j.lastTrigger ?? "-",
                 j.lastStatus ?? "never run", j.lastDurationMs.map { String(format: "%.2fs", Double($0) / 1000) } ?? "-",
                 j.lastRowsWritten.map(String.init) ?? "-",
                 j.consecutiveFailures > 0 ? "\(j.consecutiveFailures) in a row" : "-",
                 j.gapCount == 0 ? "-" : "\(j.gapCount) missing\(j.gapRange.map { " (\($0))" } ?? "")",
                 j.nextDue ?? "-"]
            }))
        for j in jobs where j.lastFailureMessage != nil && j.consecutiveFailures > 0 {
            print("  \(j.job): last failure (run \(j.lastFailureRunId ?? 0)): \(j.lastFailureMessage!.prefix(200))")
        }
        print("")
        if runs.isEmpty { return }
        print(TextTable.render(
            header: ["run", "job", "date", "trigger", "status", "started (\(zone))", "duration", "rows", "error"],
            rows: runs.map { r in
                [String(r.id), r.job, r.logicalDate ?? "-", r.trigger, r.status + (r.dryRun ? " (dry)" : ""), r.started,
                 r.durationMs.map { String(format: "%.2fs", Double($0) / 1000) } ?? "-",
                 r.rowsWritten.map(String.init) ?? "-", String((r.error ?? "").prefix(60))]
            }))
    }

    /// batch.job_status with each job's gaps (batch.job_gaps), in pipeline order.
    private func jobSummaries(on connection: Connection, zone: String) async throws -> [JobSummary] {
        let rows = try await connection.query("""
            SELECT s.job, s.last_run_id, s.last_status, s.last_trigger, s.last_logical_date::text AS last_logical_date,
                   s.last_duration_ms, r.rows_written AS last_rows_written, s.last_success_run_id,
                   to_char(s.last_success_at AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI') AS last_success_at,
                   s.last_failure_run_id, s.last_failure_message, s.consecutive_failures,
                   to_char(s.next_due AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI') AS next_due,
                   (SELECT count(*) FROM batch.job_gaps g WHERE g.job = s.job) AS gap_count,
                   (SELECT min(coalesce(g.logical_date::text, to_char(g.slot AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI')))
                           || '..' ||
                           max(coalesce(g.logical_date::text, to_char(g.slot AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI')))
                    FROM batch.job_gaps g WHERE g.job = s.job) AS gap_range
            FROM batch.job_status s
            LEFT JOIN batch.job_runs r ON r.id = s.last_run_id
            WHERE ($1::text IS NULL OR s.job = $1)
            """, [job, zone]).rows
        let order = ["nightly", "session-close", "mastery-update", "learning-impact", "importance-index",
                     "session-analytics", "usage-stats", "cleanup", "mastery-decay"]
        return try rows.map { row in
            JobSummary(job: try row.decode("job"), lastRunId: try row.decode("last_run_id", as: Int64?.self),
                       lastStatus: try row.decode("last_status", as: String?.self),
                       lastTrigger: try row.decode("last_trigger", as: String?.self),
                       lastLogicalDate: try row.decode("last_logical_date", as: String?.self),
                       lastDurationMs: try row.decode("last_duration_ms", as: Int64?.self),
                       lastRowsWritten: try row.decode("last_rows_written", as: Int64?.self),
                       lastSuccessRunId: try row.decode("last_success_run_id", as: Int64?.self),
                       lastSuccessAt: try row.decode("last_success_at", as: String?.self),
                       lastFailureRunId: try row.decode("last_failure_run_id", as: Int64?.self),
                       lastFailureMessage: try row.decode("last_failure_message", as: String?.self),
                       consecutiveFailures: try row.decode("consecutive_failures"),
                       nextDue: try row.decode("next_due", as: String?.self),
                       gapCount: try row.decode("gap_count"), gapRange: try row.decode("gap_range", as: String?.self))
        }.sorted { (order.firstIndex(of: $0.job) ?? 99, $0.job) < (order.firstIndex(of: $1.job) ?? 99, $1.job) }
    }

    private func showRun(_ id: Int64, on connection: Connection) async throws {
        guard let run = try await connection.query("SELECT report::text AS report, status, job FROM batch.job_runs WHERE id = $1", [id]).first else {
            throw BatchError.usage("no run with id \(id); `studybuddy-batch status` lists recent runs")
        }
        let steps = try await connection.query("""
            SELECT step_no, name, status, duration_ms, rows_affected FROM batch.job_run_steps
            WHERE run_id = $1 ORDER BY step_no
            """, [id])
        if json {
            print(try run.decode("report", as: String?.self) ?? "null")
            return
        }
        print("run \(id): \(try run.decode("job", as: String.self)) \(try run.decode("status", as: String.self))")
        let rows = try steps.rows.map { row -> [String] in
            [String(try row.decode("step_no", as: Int.self)), try row.decode("name"), try row.decode("status"),
             try row.decode("duration_ms", as: Int64?.self).map { String(format: "%.3fs", Double($0) / 1000) } ?? "-",
             try row.decode("rows_affected", as: Int64?.self).map(String.init) ?? "-"]
        }
        print(TextTable.render(header: ["step", "name", "status", "duration", "rows"], rows: rows))
        if let report = try run.decode("report", as: String?.self),
           let parsed = try? RunReport.decoder.decode(RunReport.self, from: Data(report.utf8)) {
            print(parsed.summary)
        }
    }
}

struct StatusDocument: Encodable {
    var jobs: [JobSummary]
    var runs: [StatusRow]
}

/// One job in `status`: batch.job_status plus its gaps.
struct JobSummary: Encodable {
    var job: String
    var lastRunId: Int64?
    var lastStatus: String?
    var lastTrigger: String?
    var lastLogicalDate: String?
    var lastDurationMs: Int64?
    var lastRowsWritten: Int64?
    var lastSuccessRunId: Int64?
    var lastSuccessAt: String?
    var lastFailureRunId: Int64?
    var lastFailureMessage: String?
    var consecutiveFailures: Int
    var nextDue: String?
    var gapCount: Int
    var gapRange: String?
}

struct StatusRow: Encodable {
    var id: Int64
    var job: String
    var logicalDate: String?
    var trigger: String
    var status: String
    var started: String
    var durationMs: Int64?
    var rowsRead: Int64?
    var rowsWritten: Int64?
    var error: String?
    var dryRun: Bool
}

/// Aligned plain-text tables for terminals.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line))
            .joined(separator: "\n")
    }
}
