import Foundation
import PostgresClient

/// The run report of interface.md: written as JSON into
/// `batch.job_runs.report` and as one file per run in the report directory.
public struct RunReport: Codable, Sendable {
    public static let currentSchemaVersion = 1

    public struct Window: Codable, Sendable {
        public var start: Date?
        public var end: Date?
    }

    public struct Step: Codable, Sendable {
        public var number: Int
        public var name: String
        public var status: RunStatus
        public var started: Date
        public var finished: Date
        public var durationMs: Int
        public var rowsRead: Int
        public var rowsWritten: Int
        public var badRows: [String: Int]
        /// Other counts of the step (e.g. `plans_kept`); absent when none.
        public var counters: [String: Int]?

        init(number: Int, name: String, status: RunStatus, started: Date, finished: Date, counts: StepCounts) {
            self.number = number
            self.name = name
            self.status = status
            self.started = started
            self.finished = finished
            self.durationMs = Int((finished.timeIntervalSince(started) * 1000).rounded())
            self.rowsRead = counts.rowsRead
            self.rowsWritten = counts.rowsWritten
            self.badRows = counts.badRows
            self.counters = counts.counters.isEmpty ? nil : counts.counters
        }
    }

    public struct ErrorInfo: Codable, Sendable {
        public var sqlstate: String?
        public var message: String
        public var detail: String?
        public var hint: String?
    }

    public struct Totals: Codable, Sendable {
        public var rowsRead: Int
        public var rowsWritten: Int
        public var badRows: Int
    }

    public var schemaVersion = RunReport.currentSchemaVersion
    public var runId: Int64
    public var parentRunId: Int64?
    public var job: String
    public var logicalDate: LocalDate?
    public var window: Window
    public var trigger: RunTrigger
    public var args: RunArgs
    public var host: String
    public var pid: Int32
    public var version: String
    public var status: RunStatus
    public var startedAt: Date
    public var finishedAt: Date
    public var durationMs: Int
    public var steps: [Step]
    /// Input rows excluded from the computation, by reason.
    public var badRows: [String: Int]
    /// Other counts of the run, summed over its steps (e.g. `plans_kept`); absent when none.
    public var counters: [String: Int]?
    public var warnings: [String]
    public var error: ErrorInfo?
    public var totals: Totals
    /// Rows inserted, updated and deleted per table by the run's transaction
    /// (what a dry run would have written), from `pg_stat_xact_user_tables`.
    public var tables: [String: TableCounts]?

    public struct TableCounts: Codable, Sendable, Equatable {
        public var inserted: Int
        public var updated: Int
        public var deleted: Int

        public init(inserted: Int, updated: Int, deleted: Int) {
            self.inserted = inserted
            self.updated = updated
            self.deleted = deleted
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISOInstant.format(date))
        }
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = ISOInstant.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad instant \(text)"))
            }
            return date
        }
        return decoder
    }()

    public func json() throws -> String {
        String(decoding: try Self.encoder.encode(self), as: UTF8.self)
    }

    /// The few lines printed on stderr after a run.
    public var summary: String {
        var what = job
        if let logicalDate { what += " \(logicalDate)" } else if let end = window.end { what += " at \(ISOInstant.format(end))" }
        var lines = ["\(what) [\(trigger.rawValue)\(args.dryRun ? ", dry run" : "")] \(status.rawValue) in "
                     + String(format: "%.2f s", Double(durationMs) / 1000) + " (run \(runId)): "
                     + "read \(totals.rowsRead), written \(totals.rowsWritten)"]
        for step in steps {
            let name = step.name.padding(toLength: max(24, step.name.count), withPad: " ", startingAt: 0)
            let status = step.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
            lines.append(String(format: "  %2d ", step.number) + name + " " + status
                         + String(format: "%8.3f s  read %9d  written %9d", Double(step.durationMs) / 1000,
                                  step.rowsRead, step.rowsWritten))
        }
        if !badRows.isEmpty {
            lines.append("  bad rows skipped: " + badRows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let tables, !tables.isEmpty {
            lines.append("  " + (args.dryRun ? "would write: " : "tables: ") + tables.sorted { $0.key < $1.key }.map {
                "\($0.key) +\($0.value.inserted) ~\($0.value.updated) -\($0.value.deleted)"
            }.joined(separator: ", "))
        }
        if let counters, !counters.isEmpty {
            lines.append("  " + counters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for warning in warnings { lines.append("  warning: \(warning)") }
        if let error {
            lines.append("  error: \(error.message)" + (error.sqlstate.map { " (SQLSTATE \($0))" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}

/// The arguments of a run as stored in `batch.job_runs.args` and the
/// report. `database` is the conninfo with the password removed.
public struct RunArgs: Codable, Sendable, Equatable {
    public var date: LocalDate?
    public var from: LocalDate?
    public var to: LocalDate?
    public var at: String?
    public var dryRun: Bool = false
    public var cascade: String?
    public var database: String?
    public var config: String?

    public init(date: LocalDate? = nil, from: LocalDate? = nil, to: LocalDate? = nil, at: String? = nil,
                dryRun: Bool = false, cascade: String? = nil, database: String? = nil, config: String? = nil) {
        self.date = date
        self.from = from
        self.to = to
        self.at = at
        self.dryRun = dryRun
        self.cascade = cascade
        self.database = database
        self.config = config
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Writes report files atomically: a temporary file in the same directory,
/// then `rename(2)`, so a reader never sees half a report.
public struct ReportWriter: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// The directory from the config: `report_dir`, else
    /// `$STATE_DIRECTORY/reports` under systemd, else `./reports`.
    public static func directory(config: BatchConfig,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if !config.reportDir.isEmpty { return config.reportDir }
        if let state = environment["STATE_DIRECTORY"], !state.isEmpty {
            // systemd may pass several directories separated by ':'.
            let first = state.split(separator: ":").first.map(String.init) ?? state
            return (first as NSString).appendingPathComponent("reports")
        }
        return "reports"
    }

    /// Creates the directory if needed and proves it writable, so that a
    /// run is refused up front (exit 2) rather than losing its report.
    public func prepare() throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw BatchError.usage("cannot create the report directory \(directory): \(error.localizedDescription); set report_dir in the config to a writable folder")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw BatchError.usage("the report directory \(directory) is not writable; set report_dir in the config to a writable folder")
        }
    }

    public func fileName(for report: RunReport) -> String {
        let stamp = ISOInstant.format(report.startedAt).replacingOccurrences(of: ":", with: "")
            .replacingOccurrences(of: "-", with: "")
        return "\(stamp)-\(report.job)-run\(report.runId).json"
    }

    @discardableResult
    public func write(_ report: RunReport) throws -> String {
        let name = fileName(for: report)
        let final = (directory as NSString).appendingPathComponent(name)
        let temporary = (directory as NSString).appendingPathComponent(".\(name).tmp")
        let data = Data((try report.json() + "\n").utf8)
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw BatchError(.jobFailed, "could not write the report \(temporary) (disk full or not writable)")
        }
        guard rename(temporary, final) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw BatchError(.jobFailed, "could not move the report into place at \(final): \(reason)")
        }
        return final
    }
}
