import BatchEngine
import BatchTesting
import Foundation
import PostgresClient
import Testing

/// Drill 4 of issue 6, "timeouts": a job that waits on a lock held by
/// another session fails after its `lock_timeout` (not after minutes), and
/// its run report and run row name the blocking backend pid and its query.
@Suite("drill 4: lock timeouts")
struct LockTimeoutDrillTests {
    /// How the other session blocks the job.
    enum Blocker: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// `LOCK TABLE mastery IN ACCESS EXCLUSIVE MODE`: even reads wait.
        case tableLock
        /// `SELECT ... FOR UPDATE` on the history rows the rerun upserts: a
        /// row lock, which `pg_locks` shows only as a transaction id wait.
        case rowLock

        var testDescription: String { rawValue }

        var statement: String {
            switch self {
            case .tableLock: return "LOCK TABLE mastery IN ACCESS EXCLUSIVE MODE"
            case .rowLock: return "SELECT learner_id FROM mastery_history WHERE recorded_date = '2026-11-20' FOR UPDATE"
            }
        }
    }

    @Test("a job blocked by another session's lock fails within lock_timeout, naming the blocker's pid and query",
          arguments: Blocker.allCases)
    func blocked(by blocker: Blocker) async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "algebra")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T10:00:00Z", correct: true)
            // A first run writes the rows the blocker then locks.
            let plain = try TestRunner(database: db)
            #expect(try await plain.run("mastery-update", .d("2026-11-20")).status == .succeeded)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T11:00:00Z", correct: false)

            let holder = try await db.connect(applicationName: "drill-blocker")
            try await holder.query("BEGIN")
            try await holder.query(blocker.statement)

            // Per-job timeouts from the config, as an operator writes them;
            // the default is long, so failing at all shows the job's own 1 s applied.
            let config = try ConfigLoader.parse("[timeouts]\nlock_seconds = 600\n[timeouts.mastery-update]\nlock_seconds = 1\n")
            let began = Date()
            let outcome = try await TestRunner(database: db, config: config).run("mastery-update", .d("2026-11-20"))
            let elapsed = Date().timeIntervalSince(began)

            #expect(outcome.status == .failed)
            #expect(elapsed < 120, "took \(elapsed) s: the job's lock_timeout of 1 s did not apply")
            let error = try #require(outcome.report?.error)
            #expect(error.sqlstate == "55P03")
            #expect(error.message.contains("pid \(holder.backendPID) "), "\(error.message)")
            #expect(error.message.contains(blocker.statement), "\(error.message)")
            #expect(error.message.contains("application drill-blocker"), "\(error.message)")
            #expect(outcome.report?.warnings.contains { $0.contains("pid \(holder.backendPID) ") } == true)

            // The run row says the same to a dashboard.
            let row = try await c.query("""
                SELECT status, error_code, error_message, report->'warnings' AS warnings FROM batch.job_runs WHERE id = $1
                """, [outcome.runID]).first!
            #expect(try row.decode("status", as: String.self) == "failed")
            #expect(try row.decode("error_code", as: String?.self) == "55P03")
            #expect(try row.decode("error_message", as: String.self).contains("pid \(holder.backendPID) "))

            // Once the blocker is gone the same run succeeds.
            try await holder.query("ROLLBACK")
            #expect(try await plain.run("mastery-update", .d("2026-11-20")).status == .succeeded)
        }
    }

    @Test("through the binary: [timeouts] lock_seconds = 1, exit 1 within seconds, stderr names the blocker")
    func blockedBinary() async throws {
        try await TestPostgres.withDatabase { db in
            let holder = try await db.connect(applicationName: "drill-blocker")
            try await holder.query("BEGIN")
            try await holder.query("LOCK TABLE mastery IN ACCESS EXCLUSIVE MODE")
            let cli = CLIProcess()
            let config = cli.workingDirectory + "/config.toml"
            try "[timeouts]\nlock_seconds = 1\n".write(toFile: config, atomically: true, encoding: .utf8)
            let began = Date()
            let result = try cli.run(["--job", "mastery-update", "--date", "2026-11-20", "--config", config, "--database", db.conninfo])
            let elapsed = Date().timeIntervalSince(began)
            #expect(result.status == 1, "\(result.stderr)")
            #expect(elapsed < 120, "took \(elapsed) s")
            #expect(result.stderr.contains("pid \(holder.backendPID) "), "\(result.stderr)")
            #expect(result.stderr.contains("LOCK TABLE mastery IN ACCESS EXCLUSIVE MODE"))
            #expect(cli.reportsText().contains("pid \(holder.backendPID) "))
            Drill.record("4 timeouts", "lock_timeout 1 s: failed after \(String(format: "%.1f", elapsed)) s (55P03), report names blocker pid and query")
        }
    }

    @Test("other failures get no lock diagnosis")
    func otherErrors() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let syntax = PostgresError(kind: .server, sqlState: "42601", message: "syntax error")
            #expect(await LockDiagnostics.describe(syntax, on: c) == nil)
            #expect(await LockDiagnostics.describe(nil, on: c) == nil)
            // A timeout with nobody holding a lock says so instead of naming someone.
            let timeout = PostgresError(kind: .server, sqlState: "55P03", message: "canceling statement due to lock timeout")
            let text = try #require(await LockDiagnostics.describe(timeout, on: c))
            #expect(text.contains("no other session holds a lock"), "\(text)")
        }
    }
}
