import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// Drill 3: racing runners. Never two runs of a job at once; the loser of a
/// manual call exits 75 naming the holder (host, pid, run id); two daemons
/// and a manual call on one database run every scheduled slot once.
@Suite("drill 3: racing runners", .serialized)
struct RaceDrillTests {
    /// A one-shot `--job mastery-update` for 2026-11-22 on demo data, stuck
    /// on a table lock that `blocker` holds (in an open transaction), once
    /// its run row is `running`.
    struct BlockedRun {
        let connection: Connection
        let cli: CLIProcess
        let blocker: Connection
        let process: DaemonProcess
        let runID: Int64
    }

    func blockedRun(_ db: TestDatabase, config: String) async throws -> BlockedRun {
        let c = try await db.connect()
        _ = try await DemoData.load(on: c, learners: 20, days: 3, seed: 4, endDate: .d("2026-11-22"), timezone: "UTC")
        let cli = CLIProcess()
        let path = cli.workingDirectory + "/config.toml"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let blocker = try await db.connect()
        try await blocker.query("BEGIN")
        try await blocker.query("LOCK TABLE mastery_history IN ACCESS EXCLUSIVE MODE")
        let process = try DaemonProcess(arguments: ["--job", "mastery-update", "--date", "2026-11-22", "--config", path,
                                                    "--database", db.conninfo],
                                        environment: cli.environment, workingDirectory: cli.workingDirectory)
        var runID: Int64?
        for _ in 0..<200 where runID == nil {
            runID = try await c.query("SELECT id FROM batch.job_runs WHERE job = 'mastery-update' AND status = 'running'")
                .first?.decode("id", as: Int64.self)
            if runID == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        return BlockedRun(connection: c, cli: cli, blocker: blocker, process: process,
                          runID: try #require(runID, "\(process.log)"))
    }

    @Test("a manual call while the job runs elsewhere exits 75 and names host, pid and run id")
    func manualLoser() async throws {
        try await TestPostgres.withDatabase { db in
            let blocked = try await blockedRun(db, config: "[timeouts]\nlock_seconds = 60\n")
            let (c, cli, blocker, holder, id) = (blocked.connection, blocked.cli, blocked.blocker, blocked.process, blocked.runID)
            let loser = try cli.run(["--job", "mastery-update", "--date", "2026-11-22", "--database", db.conninfo])
            #expect(loser.status == 75)
            let host = ProcessInfo.processInfo.hostName
            #expect(loser.stderr.contains("host \(host)") && loser.stderr.contains("pid \(holder.pid)")
                    && loser.stderr.contains("run \(id)"), "\(loser.stderr)")
            let skipped = try await c.query("""
                SELECT id, status, error_code, report->>'status' AS report_status FROM batch.job_runs WHERE id > $1
                """, [id]).first
            #expect(try skipped?.decode("status", as: String.self) == "skipped")
            #expect(try skipped?.decode("error_code", as: String.self) == "LOCKED")
            // The skipped run has its report like any run: in the row, as a file, and as a summary.
            #expect(try skipped?.decode("report_status", as: String?.self) == "skipped")
            let skippedID = try #require(try skipped?.decode("id", as: Int64.self))
            let files = (try? FileManager.default.contentsOfDirectory(atPath: cli.workingDirectory + "/reports")) ?? []
            #expect(files.contains { $0.hasSuffix("-mastery-update-run\(skippedID).json") }, "a report file for run \(skippedID): \(files)")
            #expect(loser.stderr.contains("skipped in 0.00 s (run \(skippedID))"), "\(loser.stderr)")
            try await blocker.query("ROLLBACK")
            #expect(await holder.waitForExit(timeout: 30) == 0, "\(holder.log)")
            Drill.record("3 racing runners (manual)", "loser exit \(loser.status), named pid \(holder.pid) and run \(id)")
        }
    }

    @Test("SIGTERM to a one-shot run: after shutdown.grace_seconds the run is cancelled and recorded interrupted, with its report")
    func oneShotStop() async throws {
        try await TestPostgres.withDatabase { db in
            let blocked = try await blockedRun(db, config: "[shutdown]\ngrace_seconds = 1\n[timeouts]\nlock_seconds = 60\n")
            let (c, blocker, run) = (blocked.connection, blocked.blocker, blocked.process)
            let stopAsked = Date()
            run.signal(SIGTERM)
            #expect(await run.waitForExit(timeout: 15) == 1, "\(run.log)")
            #expect(Date().timeIntervalSince(stopAsked) >= 1, "the grace is given")
            try await blocker.query("ROLLBACK")
            let row = try await c.query("""
                SELECT status, report->>'status' AS report_status FROM batch.job_runs WHERE job = 'mastery-update'
                """).first
            #expect(try row?.decode("status", as: String.self) == "interrupted")
            #expect(try row?.decode("report_status", as: String?.self) == "interrupted")
            #expect(run.log.contains("SIGTERM received"), "\(run.log)")
            #expect(try await c.query("SELECT count(*) AS n FROM mastery_history").first!.decode("n", as: Int.self) == 0)
        }
    }

    @Test("two daemons and a manual --job nightly on one database: every scheduled slot runs once")
    func twoDaemonsAndManual() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            _ = try await DemoData.load(on: c, learners: 20, days: 4, seed: 6, endDate: .d("2026-11-23"), timezone: "UTC")
            let cli = CLIProcess(now: "2026-11-24T05:00:00Z")
            let config = cli.workingDirectory + "/config.toml"
            try "[catchup]\nmax_days = 3\n".write(toFile: config, atomically: true, encoding: .utf8)
            let daemons = try (0..<2).map { _ in
                try DaemonProcess(arguments: ["daemon", "--config", config, "--database", db.conninfo],
                                  environment: cli.environment, workingDirectory: cli.workingDirectory)
            }
            let manual = try cli.run(["--job", "nightly", "--date", "2026-11-22", "--config", config, "--database", db.conninfo])
            #expect(manual.status == 0 || manual.status == 75, "\(manual.stderr)")
            if manual.status == 75 { #expect(manual.stderr.contains("running elsewhere")) }
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let row = try await c.query("""
                    SELECT (SELECT count(DISTINCT logical_date) FROM batch.job_runs WHERE job = 'nightly' AND status = 'succeeded') AS dates,
                           (SELECT count(*) FROM batch.job_runs WHERE status = 'running') AS running
                    """).first!
                if try row.decode("dates", as: Int.self) == 3, try row.decode("running", as: Int.self) == 0 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await Task.sleep(for: .milliseconds(500))
            for daemon in daemons { daemon.signal(SIGTERM) }
            for daemon in daemons { #expect(await daemon.waitForExit(timeout: 15) == 0, "\(daemon.log)") }
            let counts = try await c.query("""
                SELECT job, coalesce(logical_date::text, window_end::text) AS slot, count(*) AS n
                FROM batch.job_runs
                WHERE status = 'succeeded' AND trigger IN ('schedule', 'catchup')
                GROUP BY 1, 2
                """).rows
            // Every missed date ran (by a daemon, or by the manual call).
            let dates = try await c.query("""
                SELECT DISTINCT logical_date::text AS d FROM batch.job_runs WHERE job = 'nightly' AND status = 'succeeded' ORDER BY 1
                """).rows.map { try $0.decode("d", as: String.self) }
            #expect(dates == ["2026-11-21", "2026-11-22", "2026-11-23"])
            #expect(counts.count >= 2 * 8 + 2)
            for row in counts {
                let what = try row.decode("job", as: String.self) + " " + row.decode("slot", as: String.self)
                #expect(try row.decode("n", as: Int.self) == 1, "\(what) ran more than once")
            }
            Drill.record("3 racing runners (two daemons + manual)",
                         "\(counts.count) scheduled slots, each once; manual call exit \(manual.status)")
        }
    }
}
