import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// The built daemon as systemd runs it: NOTIFY_SOCKET and WATCHDOG_USEC
/// point at a socket the test owns.
@Suite("daemon", .serialized)
struct DaemonProcessTests {
    func workspace(config: String) throws -> (CLIProcess, String) {
        let cli = CLIProcess()
        let path = cli.workingDirectory + "/config.toml"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return (cli, path)
    }

    /// The environment systemd gives a `Type=notify` unit with
    /// `WatchdogSec=0.6`, with the clock at 2026-11-24 05:59:30 (30 s before
    /// the 06:00 mastery-decay slot).
    func watchdogEnvironment(_ cli: CLIProcess, _ socket: NotifySocket) -> [String: String] {
        var environment = cli.environment
        environment["NOTIFY_SOCKET"] = socket.path
        environment["WATCHDOG_USEC"] = "600000"
        environment["STUDYBUDDY_BATCH_NOW"] = "2026-11-24T05:59:30Z"
        return environment
    }

    /// SIGTERM, then the daemon must exit 0 within `timeout` seconds.
    func stop(_ daemon: DaemonProcess, timeout: TimeInterval = 15,
              sourceLocation: SourceLocation = #_sourceLocation) async {
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: timeout) == 0, "\(daemon.log)", sourceLocation: sourceLocation)
    }

    /// A database with demo data, no connections left on it (usable as a template).
    func seeded(_ db: TestDatabase) async throws {
        let c = try await db.connect()
        _ = try await DemoData.load(on: c, learners: 20, days: 4, seed: 5, endDate: .d("2026-11-23"), timezone: "UTC")
    }

    func admin(_ db: TestDatabase) async throws -> Connection {
        try await Connection.connect(ConnectionOptions(conninfo: "host=\(db.host) user=postgres dbname=postgres"))
    }

    @Test("READY only after the database is reachable; STATUS tells the truth; WATCHDOG keeps coming; SIGHUP reloads; SIGTERM stops cleanly and the cancelled run is interrupted")
    func notifySequence() async throws {
        try await TestPostgres.withDatabase { db in
            try await seeded(db)
            let copy = db.name + "_live"
            let (cli, configPath) = try workspace(config: """
                [catchup]
                max_days = 2
                [shutdown]
                grace_seconds = 1
                [timeouts]
                lock_seconds = 60
                """)
            let socket = try NotifySocket()
            defer { socket.close() }
            let environment = watchdogEnvironment(cli, socket)
            let live = "host=\(db.host) user=postgres dbname=\(copy)"
            let daemon = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", live],
                                           environment: environment, workingDirectory: cli.workingDirectory)
            let admin = try await admin(db)
            defer { Task { _ = try? await admin.run("DROP DATABASE IF EXISTS \(copy) WITH (FORCE)") } }

            // The database does not exist yet: waiting, never READY.
            #expect(await socket.wait(timeout: 10) { $0.hasPrefix("STATUS=waiting for PostgreSQL") })
            #expect(!socket.messages.contains("READY=1"))
            // (sent right after that STATUS: waited for, not assumed to have arrived)
            #expect(await socket.wait(timeout: 5) { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") })
            try await admin.run("CREATE DATABASE \(copy) TEMPLATE \(db.name)")
            #expect(await socket.wait(timeout: 15) { $0 == "READY=1" }, "\(daemon.log)")
            let readyIndex = socket.messages.firstIndex(of: "READY=1") ?? 0
            #expect(!socket.messages[..<readyIndex].contains { $0.hasPrefix("STATUS=running") })

            // Catch-up runs; STATUS names the job and step; then idle with the next slot.
            #expect(await socket.wait(timeout: 20) { $0.hasPrefix("STATUS=running mastery-update 2026-11-23 step") })
            #expect(await socket.wait(timeout: 20) { $0.hasPrefix("STATUS=idle; next: mastery-decay at 2026-11-24 06:00") },
                    "\(socket.messages.suffix(5))")

            // Block the 06:00 decay on a table lock, so a stop finds it running.
            let blocker = try await Connection.connect(ConnectionOptions(conninfo: live))
            try await blocker.query("BEGIN")
            try await blocker.query("LOCK TABLE mastery IN ACCESS EXCLUSIVE MODE")

            // SIGHUP: RELOADING then READY, config reread.
            let before = socket.messages.count
            daemon.signal(SIGHUP)
            #expect(await socket.wait(timeout: 10) { $0 == "RELOADING=1" })
            #expect(await socket.wait(from: before, timeout: 10) { $0 == "READY=1" })

            let watchdogs = socket.messages.filter { $0 == "WATCHDOG=1" }.count
            #expect(await socket.wait(from: before, timeout: 45) { $0.hasPrefix("STATUS=running mastery-decay step") },
                    "\(socket.messages.suffix(5))")
            #expect(socket.messages.filter { $0 == "WATCHDOG=1" }.count > watchdogs)
            try await Task.sleep(for: .milliseconds(600))
            let beforeStop = socket.messages.filter { $0 == "WATCHDOG=1" }.count
            try await Task.sleep(for: .milliseconds(1500))
            // Pings continue while the job waits on PostgreSQL.
            #expect(socket.messages.filter { $0 == "WATCHDOG=1" }.count >= beforeStop + 2)

            let stopAsked = Date()
            daemon.signal(SIGTERM)
            #expect(await socket.wait(timeout: 5) { $0 == "STOPPING=1" })
            let status = await daemon.waitForExit(timeout: 10)
            #expect(status == 0, "\(daemon.log)")
            #expect(Date().timeIntervalSince(stopAsked) < 10)
            try await blocker.query("ROLLBACK")

            let c = try await Connection.connect(ConnectionOptions(conninfo: live))
            let decay = try await c.query("""
                SELECT status FROM batch.job_runs WHERE job = 'mastery-decay' AND window_end = '2026-11-24T06:00:00Z'
                """).rows.map { try $0.decode("status", as: String.self) }
            #expect(decay == ["interrupted"])
            #expect(try await c.query("SELECT count(*) AS n FROM batch.job_runs WHERE status = 'running'").first!.decode("n", as: Int.self) == 0)
            let nightly = try await c.query("""
                SELECT logical_date::text AS d, trigger FROM batch.job_runs WHERE job = 'nightly' AND status = 'succeeded' ORDER BY 1
                """).rows.map { try $0.decode("d", as: String.self) + ":" + $0.decode("trigger", as: String.self) }
            #expect(nightly == ["2026-11-22:catchup", "2026-11-23:catchup"])
        }
    }

    @Test("a bad config on SIGHUP is rejected with its reason and the old one kept")
    func badReload() async throws {
        try await TestPostgres.withDatabase { db in
            let (cli, configPath) = try workspace(config: "[catchup]\nmax_days = 0\n")
            let socket = try NotifySocket()
            defer { socket.close() }
            var environment = cli.environment
            environment["NOTIFY_SOCKET"] = socket.path
            let daemon = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", db.conninfo],
                                           environment: environment, workingDirectory: cli.workingDirectory)
            #expect(await socket.wait(timeout: 15) { $0.hasPrefix("STATUS=idle") }, "\(daemon.log)")
            try "[catchup]\nmax_dayz = 1\n".write(toFile: configPath, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(await socket.wait(timeout: 10) { $0 == "RELOADING=1" })
            try await Task.sleep(for: .milliseconds(500))
            #expect(socket.messages.filter { $0 == "READY=1" }.count == 2)
            // A report folder the start would refuse is refused by a reload too.
            let file = cli.workingDirectory + "/not-a-folder"
            try "x".write(toFile: file, atomically: true, encoding: .utf8)
            try "report_dir = \"\(file)/reports\"\n".write(toFile: configPath, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(await socket.wait(timeout: 10) { _ in socket.messages.filter { $0 == "READY=1" }.count == 3 })
            await stop(daemon, timeout: 10)
            #expect(daemon.log.contains("configuration rejected") && daemon.log.contains("catchup.max_dayz"))
            #expect(daemon.log.contains("configuration rejected, keeping the previous one: cannot create the report directory"),
                    "\(daemon.log)")
        }
    }

    @Test("a schema that needs migrating stops the daemon with exit 2 unless --migrate is given")
    func pendingMigration() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await c.query("DELETE FROM batch.schema_migrations WHERE migration_set = 'batch' AND version = 4")
            try await c.run("DROP VIEW batch.checked_sessions; DROP VIEW batch.checked_attempts;")
            let (cli, configPath) = try workspace(config: "[catchup]\nmax_days = 0\n")
            let refused = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", db.conninfo],
                                            environment: cli.environment, workingDirectory: cli.workingDirectory)
            #expect(await refused.waitForExit(timeout: 15) == 2)
            #expect(refused.log.contains("pending") && refused.log.contains("--migrate"))
            let migrating = try DaemonProcess(arguments: ["daemon", "--migrate", "--config", configPath, "--database", db.conninfo],
                                              environment: cli.environment, workingDirectory: cli.workingDirectory)
            let deadline = Date().addingTimeInterval(15)
            while !migrating.log.contains("ready"), Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            await stop(migrating, timeout: 10)
            try await Migrator.verifyCurrent(on: c)
        }
    }

    @Test("a connection string libpq rejects, or an unwritable report folder, stops the daemon with exit 2 (no waiting for the database)")
    func badSettingsAtStart() async throws {
        let (cli, configPath) = try workspace(config: "[catchup]\nmax_days = 0\n")
        let socket = try NotifySocket()
        defer { socket.close() }
        var environment = cli.environment
        environment["NOTIFY_SOCKET"] = socket.path
        let malformed = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", "postgresql://u:S3cret%zz@/db"],
                                          environment: environment, workingDirectory: cli.workingDirectory)
        #expect(await malformed.waitForExit(timeout: 15) == 2, "\(malformed.log)")
        #expect(malformed.log.contains("--database is not a valid PostgreSQL connection string"), "\(malformed.log)")
        #expect(!malformed.log.contains("S3cret"))
        #expect(!socket.messages.contains("READY=1"))
        let file = cli.workingDirectory + "/not-a-folder"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        try "report_dir = \"\(file)/reports\"\n[catchup]\nmax_days = 0\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        let unwritable = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", "host=/nonexistent dbname=x"],
                                           environment: environment, workingDirectory: cli.workingDirectory)
        #expect(await unwritable.waitForExit(timeout: 15) == 2, "\(unwritable.log)")
        #expect(unwritable.log.contains("report directory"), "\(unwritable.log)")
    }

    @Test("a statement waiting far past its statement_timeout (a stopped backend) stops the watchdog pings")
    func watchdogWithheldWhenStuck() async throws {
        try await TestPostgres.withDatabase { db in
            try await seeded(db)
            let c = try await db.connect()
            let (cli, configPath) = try workspace(config: """
                [catchup]
                max_days = 1
                [shutdown]
                grace_seconds = 1
                [timeouts]
                statement_seconds = 8
                lock_seconds = 60
                """)
            let socket = try NotifySocket()
            defer { socket.close() }
            let environment = watchdogEnvironment(cli, socket)
            let blocker = try await db.connect()
            try await blocker.query("BEGIN")
            try await blocker.query("LOCK TABLE mastery_history IN ACCESS EXCLUSIVE MODE")
            let daemon = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", db.conninfo],
                                           environment: environment, workingDirectory: cli.workingDirectory)
            // The catch-up's mastery-update waits for the table lock; stop its backend
            // (SIGSTOP: it cannot even act on its statement_timeout).
            var backend: Int32?
            let deadline = Date().addingTimeInterval(20)
            while backend == nil, Date() < deadline {
                backend = try await c.query("""
                    SELECT pid FROM pg_stat_activity
                    WHERE application_name = 'studybuddy-batch/mastery-update' AND wait_event_type = 'Lock'
                    """).first?.decode("pid", as: Int32.self)
                if backend == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            let pid = try #require(backend, "\(daemon.log)")
            kill(pid, SIGSTOP)
            defer { kill(pid, SIGCONT) }
            let stoppedAt = Date()
            // Pings go on within the timeout (8 s) plus the margin (5 s), then stop.
            #expect(await socket.wait(from: socket.messages.count, timeout: 3) { $0 == "WATCHDOG=1" })
            while Date().timeIntervalSince(stoppedAt) < 14.5 { try await Task.sleep(for: .milliseconds(100)) }
            let mark = socket.messages.count
            try await Task.sleep(for: .seconds(2))
            #expect(!socket.messages.dropFirst(mark).contains("WATCHDOG=1"), "no pings while stuck")
            #expect(daemon.log.contains("WATCHDOG=1 withheld"), "\(daemon.log)")
            kill(pid, SIGCONT)
            try await blocker.query("ROLLBACK")
            // Once the backend answers again (its statement times out), the pings resume.
            #expect(await socket.wait(from: socket.messages.count, timeout: 10) { $0 == "WATCHDOG=1" }, "\(daemon.log)")
            await stop(daemon)
        }
    }

    @Test("after a slot runs, batch.job_schedule's next_due moves on to the following slot")
    func scheduleMovesOn() async throws {
        try await TestPostgres.withDatabase { db in
            try await seeded(db)
            let c = try await db.connect()
            let (cli, configPath) = try workspace(config: "[catchup]\nmax_days = 0\n")
            var environment = cli.environment
            environment["STUDYBUDDY_BATCH_NOW"] = "2026-11-24T05:59:45Z"
            let daemon = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", db.conninfo],
                                           environment: environment, workingDirectory: cli.workingDirectory)
            func nextDue(_ job: String) async throws -> String? {
                try await c.query("""
                    SELECT to_char(next_due AT TIME ZONE 'UTC', 'HH24:MI') AS t FROM batch.job_schedule WHERE job = $1
                    """, [job]).first?.decode("t", as: String?.self)
            }
            // Written after the 06:00 slots ran (at their slot or, on a slow start, in catch-up):
            // the slots after them.
            func refreshedAfterRun() async throws -> Bool {
                try await c.query("""
                    SELECT s.updated_at > r.finished_at AS after FROM batch.job_schedule s, batch.job_runs r
                    WHERE s.job = 'mastery-decay' AND r.job = 'mastery-decay' AND r.status = 'succeeded'
                      AND r.window_end = '2026-11-24T06:00:00Z'
                    """).first?.decode("after", as: Bool.self) ?? false
            }
            let deadline = Date().addingTimeInterval(45)
            var seen = ""
            while Date() < deadline {
                seen = "\(try await nextDue("mastery-decay") ?? "-") \(try await nextDue("session-close") ?? "-")"
                if seen == "12:00 06:15", try await refreshedAfterRun() { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(seen == "12:00 06:15", "\(seen) \(daemon.log)")
            #expect(try await refreshedAfterRun(), "batch.job_schedule rewritten after the 06:00 run")
            await stop(daemon)
        }
    }

    @Test("two daemons on one database run every missed slot exactly once between them")
    func twoDaemons() async throws {
        try await TestPostgres.withDatabase { db in
            try await seeded(db)
            let (cli, configPath) = try workspace(config: "[catchup]\nmax_days = 3\n")
            var environment = cli.environment
            environment["STUDYBUDDY_BATCH_NOW"] = "2026-11-24T05:00:00Z"
            let first = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", db.conninfo],
                                          environment: environment, workingDirectory: cli.workingDirectory)
            let second = try DaemonProcess(arguments: ["daemon", "--config", configPath, "--database", db.conninfo],
                                           environment: environment, workingDirectory: cli.workingDirectory)
            let c = try await db.connect()
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let done = try await c.query("""
                    SELECT (SELECT count(*) FROM batch.job_runs WHERE job = 'nightly' AND status = 'succeeded') AS nightly,
                           (SELECT count(*) FROM batch.job_runs WHERE job IN ('mastery-decay', 'session-close')
                               AND logical_date IS NULL AND status = 'succeeded') AS slots,
                           (SELECT count(*) FROM batch.job_runs WHERE status = 'running') AS running
                    """).first!
                if try done.decode("nightly", as: Int.self) >= 3, try done.decode("slots", as: Int.self) >= 2,
                   try done.decode("running", as: Int.self) == 0 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await Task.sleep(for: .milliseconds(1000))
            first.signal(SIGTERM)
            second.signal(SIGTERM)
            #expect(await first.waitForExit(timeout: 10) == 0, "\(first.log)")
            #expect(await second.waitForExit(timeout: 10) == 0, "\(second.log)")
            let counts = try await c.query("""
                SELECT job, coalesce(logical_date::text, to_char(window_end AT TIME ZONE 'UTC', 'HH24:MI')) AS slot, count(*) AS n
                FROM batch.job_runs WHERE status = 'succeeded' GROUP BY 1, 2 ORDER BY 1, 2
                """).rows
            let slots = try counts.map { try $0.decode("job", as: String.self) + " " + $0.decode("slot", as: String.self) }
            #expect(slots.filter { $0.hasPrefix("nightly") } == ["nightly 2026-11-21", "nightly 2026-11-22", "nightly 2026-11-23"])
            #expect(slots.contains("mastery-decay 00:00") && slots.contains("session-close 05:00"))
            // On a failure, the whole run history says who ran what and why.
            let history = try await c.query("""
                SELECT string_agg(concat_ws(' ', id, parent_run_id, job, logical_date, trigger, status, pid, error_code, error_message),
                                  E'\\n' ORDER BY id) AS h FROM batch.job_runs
                """).first!.decode("h", as: String.self)
            for row in counts {
                let what = try row.decode("job", as: String.self) + " " + row.decode("slot", as: String.self)
                #expect(try row.decode("n", as: Int.self) == 1, "\(what) ran more than once:\n\(history)")
            }
        }
    }
}
