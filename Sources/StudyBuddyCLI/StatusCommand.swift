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
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let runs = try result.rows.map { row in
                StatusRow(id: try row.decode("id"), job: try row.decode("job"), logicalDate: try row.decode("logical_date", as: String?.self),
                          trigger: try row.decode("trigger"), status: try row.decode("status"), started: try row.decode("started"),
                          durationMs: try row.decode("duration_ms", as: Int64?.self), rowsRead: try row.decode("rows_read", as: Int64?.self),
                          rowsWritten: try row.decode("rows_written", as: Int64?.self), error: try row.decode("error_message", as: String?.self),
                          dryRun: try row.decode("dry_run"))
            }
            print(String(decoding: try encoder.encode(runs), as: UTF8.self))
            return
        }
        if result.rows.isEmpty {
            print("no runs recorded yet\(job.map { " for \($0)" } ?? "")")
            return
        }
        let rows = try result.rows.map { row -> [String] in
            let duration = try row.decode("duration_ms", as: Int64?.self).map { String(format: "%.2fs", Double($0) / 1000) } ?? "-"
            let dry = try row.decode("dry_run", as: Bool.self) ? " (dry)" : ""
            return [String(try row.decode("id", as: Int64.self)), try row.decode("job"),
                    try row.decode("logical_date", as: String?.self) ?? "-", try row.decode("trigger"),
                    try row.decode("status", as: String.self) + dry, try row.decode("started"), duration,
                    try row.decode("rows_written", as: Int64?.self).map(String.init) ?? "-",
                    String((try row.decode("error_message", as: String?.self) ?? "").prefix(60))]
        }
        print(TextTable.render(header: ["run", "job", "date", "trigger", "status", "started (\(environment.config.timezone))",
                                        "duration", "rows", "error"], rows: rows))
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
