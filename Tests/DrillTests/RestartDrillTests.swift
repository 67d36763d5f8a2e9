import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// Drill 2: the database restarts while a run works. The one-shot run exits
/// 75 or 1 with a clear message and its run ends up failed or interrupted;
/// the daemon reconnects, says so in STATUS, and completes the slot.
///
/// These drills restart PostgreSQL, so they run on a cluster of their own.
@Suite("drill 2: database restart", .serialized)
struct RestartDrillTests {
    final class Cluster: Sendable {
        let name = "restart-\(getpid())-\(UUID().uuidString.prefix(4))"
        let host: String

        /// Durable commits (unlike the other test clusters): an immediate
        /// shutdown is a crash, and a commit must survive it as in production.
        init() throws {
            let (status, output) = try Spawn.run([
                "/usr/bin/env", "PG_EXTRA_OPTS=-c synchronous_commit=on -c fsync=on",
                TestPostgres.projectRoot + "/scripts/pg-cluster", "start", name,
            ])
            guard status == 0 else { throw TestSetupError("pg-cluster start \(name) exited \(status)") }
            host = output.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func restart(_ mode: String) throws { _ = try Self.script(["restart", name, mode]) }
        func stop() { _ = try? Self.script(["stop", name]) }

        func conninfo(_ database: String) -> String { "host=\(host) user=postgres dbname=\(database)" }

        static func script(_ arguments: [String]) throws -> String {
            let (status, output) = try Spawn.run([TestPostgres.projectRoot + "/scripts/pg-cluster"] + arguments)
            guard status == 0 else { throw TestSetupError("pg-cluster \(arguments) exited \(status)") }
            return output
        }
    }

    /// A migrated database with demo data on the drill's cluster.
    func prepare(_ cluster: Cluster, _ database: String) async throws {
        let admin = try await Connection.connect(ConnectionOptions(conninfo: cluster.conninfo("postgres")))
        try await admin.run("CREATE DATABASE \(database)")
        let c = try await Connection.connect(ConnectionOptions(conninfo: cluster.conninfo(database)))
        _ = try await Migrator(logger: .init(label: "drill")).migrate(on: c, withAppSchema: true)
        _ = try await DemoData.load(on: c, learners: 30, days: 4, seed: 9, endDate: .d("2026-11-22"), timezone: "UTC")
    }

    /// Waits until `job` has a running run row, reconnecting while needed.
    func waitForRunning(_ job: String, conninfo: String, timeout: TimeInterval = 30) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let c = try? await Connection.connect(ConnectionOptions(conninfo: conninfo)),
               let n = try? await c.query("SELECT count(*) AS n FROM batch.job_runs WHERE job = $1 AND status = 'running'", [job])
                   .first?.decode("n", as: Int.self), n > 0 {
                return true
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test("one-shot: a restart mid-run exits 75 or 1 with a clear message; the run is failed or interrupted", arguments: ["fast", "immediate"])
    func oneShot(mode: String) async throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        try await prepare(cluster, "drill")
        let cli = CLIProcess()
        let config = cli.workingDirectory + "/config.toml"
        try "[timeouts]\nlock_seconds = 60\n".write(toFile: config, atomically: true, encoding: .utf8)
        // Hold mastery-update at a lock, so the restart finds it mid-run.
        let blocker = try await Connection.connect(ConnectionOptions(conninfo: cluster.conninfo("drill")))
        try await blocker.query("BEGIN")
        try await blocker.query("LOCK TABLE mastery_history IN ACCESS EXCLUSIVE MODE")
        let run = try DaemonProcess(arguments: ["--job", "nightly", "--date", "2026-11-22", "--config", config,
                                                "--database", cluster.conninfo("drill")],
                                    environment: cli.environment, workingDirectory: cli.workingDirectory)
        #expect(await waitForRunning("mastery-update", conninfo: cluster.conninfo("drill")))
        try cluster.restart(mode)
        let status = await run.waitForExit(timeout: 60)
        #expect(status == 1 || status == 75, "exit \(String(describing: status)): \(run.log)")
        #expect(!run.log.contains("Fatal error") && !run.log.contains("Backtrace"))
        #expect(run.log.contains("terminating connection") || run.log.contains("server closed the connection")
                || run.log.contains("cannot connect") || run.log.contains("connection"), "\(run.log)")

        // The next run completes and leaves nothing running.
        let again = try cli.run(["--job", "nightly", "--date", "2026-11-22", "--database", cluster.conninfo("drill")])
        #expect(again.status == 0, "\(again.stderr)")
        let c = try await Connection.connect(ConnectionOptions(conninfo: cluster.conninfo("drill")))
        #expect(try await c.query("SELECT count(*) AS n FROM batch.job_runs WHERE status = 'running'").first!.decode("n", as: Int.self) == 0)
        let first = try await c.query("""
            SELECT status FROM batch.job_runs WHERE job = 'mastery-update' ORDER BY id LIMIT 1
            """).first!.decode("status", as: String.self)
        #expect(first == "failed" || first == "interrupted")
        Drill.record("2 database restart (\(mode))", "one-shot exit \(status.map(String.init) ?? "none"), run \(first), rerun exit \(again.status)")
    }

    @Test("daemon: reconnects with backoff, reports it in STATUS, and completes the slot in catch-up")
    func daemon() async throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        try await prepare(cluster, "drill")
        let cli = CLIProcess()
        let config = cli.workingDirectory + "/config.toml"
        try "[catchup]\nmax_days = 2\n[timeouts]\nlock_seconds = 60\n".write(toFile: config, atomically: true, encoding: .utf8)
        let socket = try NotifySocket()
        defer { socket.close() }
        var environment = cli.environment
        environment["NOTIFY_SOCKET"] = socket.path
        environment["STUDYBUDDY_BATCH_NOW"] = "2026-11-24T05:00:00Z"
        let blocker = try await Connection.connect(ConnectionOptions(conninfo: cluster.conninfo("drill")))
        try await blocker.query("BEGIN")
        try await blocker.query("LOCK TABLE mastery_history IN ACCESS EXCLUSIVE MODE")
        let daemon = try DaemonProcess(arguments: ["daemon", "--config", config, "--database", cluster.conninfo("drill")],
                                       environment: environment, workingDirectory: cli.workingDirectory)
        #expect(await socket.wait(timeout: 20) { $0.hasPrefix("STATUS=running mastery-update 2026-11-22") }, "\(daemon.log)")
        let before = socket.messages.count
        try cluster.restart("immediate")
        #expect(await socket.wait(from: before, timeout: 30) {
            $0.contains("retrying") || $0.hasPrefix("STATUS=waiting for PostgreSQL")
        }, "\(socket.messages.suffix(6))")
        // After the restart the lock is gone: the catch-up completes both dates.
        let deadline = Date().addingTimeInterval(60)
        var done: [String] = []
        while Date() < deadline {
            if let c = try? await Connection.connect(ConnectionOptions(conninfo: cluster.conninfo("drill"))),
               let rows = try? await c.query("""
                   SELECT logical_date::text AS d FROM batch.job_runs WHERE job = 'nightly' AND status = 'succeeded' ORDER BY 1
                   """).rows {
                done = rows.compactMap { try? $0.decode("d", as: String.self) }
                if done.count == 2 { break }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(done == ["2026-11-22", "2026-11-23"])
        if done.count != 2 {
            print(daemon.log)
            if let c = try? await Connection.connect(ConnectionOptions(conninfo: cluster.conninfo("drill"))) {
                for row in (try? await c.query("SELECT id, job, logical_date::text AS d, status, error_message FROM batch.job_runs ORDER BY id").rows) ?? [] {
                    print("RUN", row.allText)
                }
                for row in (try? await c.query("SELECT pid, application_name, state, wait_event_type, wait_event, left(query, 80) AS q FROM pg_stat_activity WHERE datname = 'drill'").rows) ?? [] {
                    print("ACT", row.allText)
                }
            }
        }
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: 15) == 0, "\(daemon.log)")
        let c = try await Connection.connect(ConnectionOptions(conninfo: cluster.conninfo("drill")))
        #expect(try await c.query("SELECT count(*) AS n FROM batch.job_runs WHERE status = 'running'").first!.decode("n", as: Int.self) == 0)
        Drill.record("2 database restart (daemon)", "reconnected; catch-up completed \(done.joined(separator: ", "))")
    }
}
