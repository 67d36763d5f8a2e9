import Foundation
import PostgresClient

/// Writes `batch.job_runs` and `batch.job_run_steps` on a connection of its
/// own, outside the job's transaction: a dashboard sees a run while it is
/// `running`, and a failed run's rows survive the job's rollback.
public final class RunRecorder: Sendable {
    let connection: Connection
    let host: String
    let pid: Int32

    public init(connection: Connection) {
        self.connection = connection
        self.host = ProcessInfo.processInfo.hostName
        self.pid = getpid()
    }

    public struct Start: Sendable {
        public var job: String
        public var parentRunID: Int64?
        public var logicalDate: LocalDate?
        public var windowStart: Date?
        public var windowEnd: Date?
        public var trigger: RunTrigger
        public var args: RunArgs
        public var startedAt: Date
    }

    /// Inserts the run row with status `running` (or `skipped`) and returns its id.
    func insert(_ start: Start, status: RunStatus, errorCode: String? = nil, errorMessage: String? = nil) async throws -> Int64 {
        let row = try await connection.query("""
            INSERT INTO batch.job_runs
                (parent_run_id, job, logical_date, window_start, window_end, trigger, status,
                 started_at, host, pid, version, args, error_code, error_message,
                 finished_at, duration_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14,
                    CASE WHEN $7 = 'running' THEN NULL ELSE $8::timestamptz END,
                    CASE WHEN $7 = 'running' THEN NULL ELSE 0 END)
            RETURNING id
            """, [start.parentRunID, start.job, start.logicalDate, start.windowStart, start.windowEnd,
                  start.trigger.rawValue, status.rawValue, start.startedAt, host, pid, BatchVersion.current,
                  JSONText(try start.args.json()), errorCode, errorMessage]).first!
        return try row.decode("id", as: Int64.self)
    }

    public func start(_ start: Start) async throws -> Int64 {
        try await insert(start, status: .running)
    }

    /// Records a run that did not start: `LOCKED` (another process holds
    /// the job) or `UPSTREAM` (a job it depends on failed).
    public func skipped(_ start: Start, code: String, reason: String) async throws -> Int64 {
        try await insert(start, status: .skipped, errorCode: code, errorMessage: reason)
    }

    /// Marks runs of `job` left `running` by a process that is gone: call
    /// it while holding the job's advisory lock (that proves the holder
    /// died), or pass the lock as `ifFree`.
    ///
    /// With `ifFree`, the same statement tests that no session holds the
    /// lock, so nobody else's run is disturbed: taking the lock just to look
    /// (as the daemon's start did) made a pipeline member starting at that
    /// moment in another process count as held, and its nightly as skipped.
    /// A run's row is inserted after its lock is taken, so a row this
    /// statement's snapshot sees belongs to a lock that is either still held
    /// (nothing is marked) or released by a process that ended.
    public func markInterrupted(job: String, foundBy runID: Int64?, at now: Date,
                                ifFree lock: AdvisoryLockKey? = nil) async throws -> Int {
        let result = try await connection.query("""
            WITH stale AS (
                UPDATE batch.job_runs
                SET status = 'interrupted', finished_at = $2,
                    duration_ms = GREATEST(0, (extract(epoch FROM $2::timestamptz - started_at) * 1000)::bigint),
                    error_message = coalesce(error_message,
                        'the process ended before the run finished (found when the job''s lock was free)')
                WHERE job = $1 AND status = 'running' AND id IS DISTINCT FROM $3
                  AND ($4::int IS NULL OR NOT EXISTS (
                      SELECT FROM pg_locks
                      WHERE locktype = 'advisory' AND classid = ($4::int)::oid AND objid = ($5::int)::oid
                        AND objsubid = 2 AND granted
                        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())))
                RETURNING id
            ), steps AS (
                UPDATE batch.job_run_steps s SET status = 'interrupted', finished_at = $2
                FROM stale WHERE s.run_id = stale.id AND s.status = 'running'
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM stale) AS runs
            """, [job, now, runID, lock?.namespace, lock?.key])
        return try result.first!.decode("runs", as: Int.self)
    }

    func stepStarted(runID: Int64, stepNo: Int, name: String, at: Date) async throws {
        try await connection.query("""
            INSERT INTO batch.job_run_steps (run_id, step_no, name, status, started_at)
            VALUES ($1, $2, $3, 'running', $4)
            """, [runID, stepNo, name, at])
    }

    /// Progress of a running step, for dashboards: rows so far and the rate.
    func stepProgress(runID: Int64, stepNo: Int, rows: Int, rate: Double, at: Date) async throws {
        try await connection.query("""
            UPDATE batch.job_run_steps
            SET detail = jsonb_build_object('rows_so_far', $3::bigint, 'rows_per_second', round($4::numeric, 1),
                                            'updated_at', $5::timestamptz)
            WHERE run_id = $1 AND step_no = $2 AND status = 'running'
            """, [runID, stepNo, rows, rate, at])
    }

    func stepFinished(runID: Int64, stepNo: Int, status: RunStatus, at: Date, duration: TimeInterval,
                      counts: StepCounts) async throws {
        var parts: [String: [String: Int]] = [:]
        if !counts.badRows.isEmpty { parts["bad_rows"] = counts.badRows }
        if !counts.counters.isEmpty { parts["counters"] = counts.counters }
        let detail = parts.isEmpty ? nil : JSONText(try jsonObject(parts))
        try await connection.query("""
            UPDATE batch.job_run_steps
            SET status = $3, finished_at = $4, duration_ms = $5, rows_affected = $6, detail = $7::jsonb
            WHERE run_id = $1 AND step_no = $2
            """, [runID, stepNo, status.rawValue, at, Int((duration * 1000).rounded()), counts.rowsWritten, detail])
    }

    /// The first succeeded, non-dry run of the same slot (job and logical
    /// date, for slot jobs inside the pipeline too; or job and instant T). For a pipeline member (`start` has a
    /// parent), only a member run of an earlier attempt of the same
    /// pipeline date counts: a manual run of the job earlier that night may
    /// have seen fewer attempts.
    func succeededRun(of start: Start) async throws -> Int64? {
        try await connection.query("""
            SELECT r.id FROM batch.job_runs r
            WHERE r.job = $1 AND r.status = 'succeeded' AND NOT coalesce((r.args->>'dry_run')::boolean, false)
              AND CASE WHEN $2::date IS NOT NULL THEN r.logical_date = $2::date ELSE r.window_end = $3::timestamptz AND r.logical_date IS NULL END
              AND ($4::bigint IS NULL
                   OR EXISTS (SELECT 1 FROM batch.job_runs p, batch.job_runs me
                              WHERE p.id = r.parent_run_id AND me.id = $4::bigint
                                AND p.job = me.job AND p.logical_date = me.logical_date))
            ORDER BY r.id LIMIT 1
            """, [start.job, start.logicalDate, start.windowEnd, start.parentRunID]).first?.decode("id", as: Int64.self)
    }

    func finish(runID: Int64, report: RunReport) async throws {
        try await connection.query("""
            UPDATE batch.job_run_steps SET status = $2, finished_at = coalesce(finished_at, $3)
            WHERE run_id = $1 AND status = 'running'
            """, [runID, report.status == .succeeded ? RunStatus.succeeded.rawValue : RunStatus.interrupted.rawValue, report.finishedAt])
        try await connection.query("""
            UPDATE batch.job_runs
            SET status = $2, finished_at = $3, duration_ms = $4, rows_read = $5, rows_written = $6,
                error_code = $7, error_message = $8, report = $9::jsonb
            WHERE id = $1
            """, [runID, report.status.rawValue, report.finishedAt, report.durationMs, report.totals.rowsRead,
                  report.totals.rowsWritten, report.error?.sqlstate, report.error?.message, JSONText(try report.json())])
    }

    /// Stores the report of a run that is already final (a skipped run).
    func attachReport(runID: Int64, report: RunReport) async throws {
        try await connection.query("UPDATE batch.job_runs SET report = $2::jsonb WHERE id = $1",
                                   [runID, JSONText(try report.json())])
    }

    /// Who holds `job` now, for the message of a run that cannot start.
    func holderDescription(job: String, lock: AdvisoryLockKey) async throws -> String {
        let backend = try await connection.advisoryLockHolder(lock)
        let row = try await connection.query("""
            SELECT id, host, pid FROM batch.job_runs
            WHERE job = $1 AND status = 'running' ORDER BY started_at DESC LIMIT 1
            """, [job]).first
        var text = "job \(job) is running elsewhere"
        if let row {
            text += ": host \(try row.decode("host", as: String?.self) ?? "?"), pid \(try row.decode("pid", as: Int32?.self).map(String.init) ?? "?"), run \(try row.decode("id", as: Int64.self))"
        }
        if let backend { text += " (database backend pid \(backend))" }
        return text
    }

    private func jsonObject(_ value: [String: [String: Int]]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

public enum BatchVersion {
    public static let current = "0.1.0"
}
