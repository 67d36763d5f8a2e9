import Foundation
import PostgresClient
import Prometheus

/// The node_exporter textfile collector file (`[metrics] textfile`), written
/// after every run from the job-run tables, atomically (temporary file in
/// the same folder, then rename), so node_exporter never reads half a file.
///
/// `studybuddy_batch_runs_total` counts the runs the tables hold; cleanup's
/// retention can lower it, which Prometheus treats as a counter reset.
public struct MetricsTextfile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Renders the metrics of every job from the database.
    public static func render(on connection: Connection) async throws -> String {
        let registry = PrometheusCollectorRegistry()
        let rows = try await connection.query("""
            SELECT s.job,
                   extract(epoch FROM s.last_success_at)::float8 AS last_success,
                   extract(epoch FROM r.started_at)::float8 AS last_run,
                   r.duration_ms, r.rows_written, r.status
            FROM batch.job_status s
            LEFT JOIN batch.job_runs r ON r.id = (
                SELECT id FROM batch.real_runs x WHERE x.job = s.job AND x.status <> 'running'
                ORDER BY x.started_at DESC, x.id DESC LIMIT 1)
            ORDER BY s.job
            """).rows
        for row in rows {
            let job = try row.decode("job", as: String.self)
            let labels = [("job", job)]
            if let value = try row.decode("last_success", as: Double?.self) {
                registry.makeGauge(descriptor: Self.descriptor("last_success_timestamp", "seconds",
                                                              "Unix time the job's newest successful run finished."),
                                   labels: labels).set(to: value)
            }
            if let value = try row.decode("last_run", as: Double?.self) {
                registry.makeGauge(descriptor: Self.descriptor("last_run_timestamp", "seconds",
                                                              "Unix time the job's newest finished run started."),
                                   labels: labels).set(to: value)
            }
            if let value = try row.decode("duration_ms", as: Int64?.self) {
                registry.makeGauge(descriptor: Self.descriptor("last_run_duration", "seconds",
                                                              "Wall time of the job's newest finished run, in seconds."),
                                   labels: labels).set(to: Double(value) / 1000)
            }
            if let value = try row.decode("rows_written", as: Int64?.self) {
                registry.makeGauge(descriptor: Self.descriptor("last_run", "rows",
                                                              "Rows the job's newest finished run changed."),
                                   labels: labels).set(to: Double(value))
            }
            if let status = try row.decode("status", as: String?.self) {
                registry.makeGauge(descriptor: Self.descriptor("last_run", "status",
                                                              "Outcome of the job's newest finished run: 1 succeeded, 0 otherwise."),
                                   labels: labels).set(to: status == "succeeded" ? 1.0 : 0.0)
            }
        }
        for row in try await connection.query("""
            SELECT job, status, count(*) AS n FROM batch.real_runs GROUP BY job, status ORDER BY job, status
            """).rows {
            registry.makeCounter(descriptor: Self.descriptor("runs", "total",
                                                             "Runs recorded in batch.job_runs, by job and status (dry runs excluded)."),
                                 labels: [("job", try row.decode("job", as: String.self)),
                                          ("status", try row.decode("status", as: String.self))])
                .increment(by: try row.decode("n", as: Int64.self))
        }
        return registry.emitToString()
    }

    static func descriptor(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "studybuddy", subsystem: "batch", metricName: metric, unitName: unit, helpText: help)
    }

    /// Renders and writes the file atomically.
    public func write(from connection: Connection) async throws {
        let text = try await Self.render(on: connection)
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = (folder.isEmpty ? "." : folder) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) else {
            throw BatchError(.jobFailed, "cannot write the metrics file \(temporary); check [metrics] textfile")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw BatchError(.jobFailed, "cannot move the metrics file into place at \(path): \(reason)")
        }
    }
}
