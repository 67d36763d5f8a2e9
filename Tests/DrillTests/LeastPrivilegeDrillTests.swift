import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// Drill 7 of issue 6, "least privilege": `sql/roles.sql` creates a role
/// that can run every job and nothing more, and no password ever shows up
/// in logs, reports, run rows or `status`.
///
/// Roles are cluster-wide, so each test creates its own
/// (`studybuddy_batch_drill_<random>`: roles.sql with the name substituted)
/// and drops it after its database.
@Suite("drill 7: least privilege")
struct LeastPrivilegeDrillTests {
    static let secret = "Drill-Secret-7781"

    @Test("the role of sql/roles.sql runs nightly, decay and status; it cannot write app data or migrate")
    func leastPrivilege() async throws {
        try await Self.withRole { db, role in
            let c = try await db.connect()
            try await c.run("TRUNCATE learners, questions, sessions, attempts")
            _ = try await DemoData.load(on: c, learners: 20, days: 3, seed: 5, endDate: .d(Drill.day), timezone: "UTC")
            // What session-close (UPDATE sessions) and cleanup (DELETE
            // sessions) must be allowed to do, on rows of their own.
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "drill")
            try await f.session(1, learner: 1, startedAt: "2026-11-01T08:00:00Z", endedAt: "2026-11-01T08:30:00Z")
            try await f.session(2, learner: 1, startedAt: "2026-11-22T08:00:00Z", endedAt: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-22T08:05:00Z", correct: true, session: 2)

            let cli = CLIProcess()
            let asRole = "host=\(db.host) user=\(role) dbname=\(db.name) password=\(Self.secret)"
            let nightly = try cli.run(["--job", "nightly", "--date", Drill.day, "--database", asRole])
            #expect(nightly.status == 0, "\(nightly.stderr)")
            let decay = try cli.run(["--job", "mastery-decay", "--at", "2026-11-24T06:00:00Z", "--database", asRole])
            #expect(decay.status == 0, "\(decay.stderr)")
            let status = try cli.run(["status", "--database", asRole])
            #expect(status.status == 0 && status.stdout.contains("mastery-decay"), "\(status.stderr)")
            let migrate = try cli.run(["migrate", "--database", asRole])
            #expect(migrate.status != 0 && migrate.stderr.contains("permission denied"), "\(migrate.stderr)")

            // The jobs did their work as that role.
            let runs = try await c.query("""
                SELECT job, status FROM batch.job_runs ORDER BY id
                """).rows.map { "\(try $0.decode("job", as: String.self)) \(try $0.decode("status", as: String.self))" }
            #expect(runs.count == LearningJobs.registry.pipeline.count + 2)
            #expect(runs.allSatisfy { $0.hasSuffix(" succeeded") }, "\(runs)")
            #expect(try await f.count("sessions WHERE id = '\(Fixture.id("s", 1))'") == 0, "cleanup deleted the old empty session")
            let closed = try await c.query("SELECT end_reason FROM sessions WHERE id = $1", [Fixture.id("s", 2)]).first!
            #expect(try closed.decode("end_reason", as: String?.self) == "idle_timeout", "session-close closed the idle session")
            for table in ["mastery", "mastery_history", "plan_units", "session_analytics", "daily_usage"] {
                #expect(try await f.count(table) > 0, "\(table) is empty")
            }

            // What the role must not do: 42501 (insufficient_privilege).
            let r = try await Connection.connect(ConnectionOptions(conninfo: "host=\(db.host) user=\(role) dbname=\(db.name)"))
            for statement in [
                "UPDATE attempts SET correct = NOT correct",
                "DELETE FROM attempts",
                "INSERT INTO attempts (learner_id) VALUES (NULL)",
                "DELETE FROM learners",
                "UPDATE learners SET daily_goal = 1",
                "UPDATE questions SET subcategory = 'x'",
                "UPDATE sessions SET notes = 'x'",
                "UPDATE sessions SET started_at = now()",
                "INSERT INTO sessions (learner_id) VALUES (NULL)",
                "UPDATE batch.checked_sessions SET ended_at = NULL",
                "DELETE FROM batch.schema_migrations",
                "TRUNCATE mastery",
                "CREATE TABLE public.drill_x (i int)",
                "CREATE TABLE batch.drill_x (i int)",
            ] {
                var state: String?
                do { try await r.query(statement) } catch let error as PostgresError { state = error.sqlState }
                #expect(state == "42501", "\(role) may run: \(statement)")
            }

            // pg_read_all_stats: other sessions' query text is visible (for LockDiagnostics).
            try await c.query("SELECT 'drill-visible-query'")
            let seen = try await r.query("SELECT query FROM pg_stat_activity WHERE pid = $1", [c.backendPID])
                .first!.decode("query", as: String.self)
            #expect(seen.contains("drill-visible-query"), "\(seen)")

            // Exactly these table privileges; the column privilege on sessions only for the three columns.
            let granted = try await c.query("""
                SELECT n.nspname || '.' || c.relname || ' ' || string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) AS g
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                CROSS JOIN LATERAL aclexplode(c.relacl) a
                WHERE a.grantee = $1::regrole
                GROUP BY n.nspname, c.relname
                """, [role]).rows.map { try $0.decode("g", as: String.self) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            var expected = ["public.attempts SELECT", "public.learners SELECT", "public.questions SELECT",
                            "public.sessions DELETE,SELECT"]
            expected += TestDatabase.derivedTables.map { "public.\($0) DELETE,INSERT,SELECT,UPDATE" }
            expected += try await c.query("""
                SELECT 'batch.' || c.relname || CASE WHEN c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
                                                     THEN ' DELETE,INSERT,SELECT,UPDATE' ELSE ' SELECT' END AS g
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'batch' AND c.relkind IN ('r', 'p', 'v', 'm')
                """).rows.map { try $0.decode("g", as: String.self) }
            #expect(granted == expected.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(!granted.contains { $0.hasPrefix("batch.checked_") && $0.contains("UPDATE") })
            let columns = try await c.query("""
                SELECT string_agg(a.attname || ' ' || p.privilege_type, ', ' ORDER BY a.attname) AS cols
                FROM pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) p
                WHERE p.grantee = $1::regrole
                """, [role]).first!.decode("cols", as: String?.self)
            #expect(columns == "duration_sec UPDATE, end_reason UPDATE, ended_at UPDATE")
            Drill.record("7 least privilege", "nightly + decay + status as the roles.sql role; 14 forbidden statements denied (42501); migrate refused")
        }
    }

    @Test("a recognisable password never appears in logs, reports, run rows or status output")
    func noSecretAnywhere() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await c.run("TRUNCATE learners, questions, sessions, attempts")
            _ = try await DemoData.load(on: c, learners: 10, days: 2, seed: 9, endDate: .d(Drill.day), timezone: "UTC")
            let cli = CLIProcess()
            let conninfo = db.conninfo + " password=\(Self.secret)"
            var outputs: [String] = []
            func run(_ arguments: [String], environment: [String: String] = [:], expect status: Int32) throws {
                var process = cli
                for (key, value) in environment { process.environment[key] = value }
                let result = try process.run(arguments + ["--verbose"])
                #expect(result.status == status, "\(arguments): \(result.stderr)")
                outputs += [result.stdout, result.stderr]
            }
            // The password in a conninfo, in a URI, and as a systemd credential.
            try run(["--job", "nightly", "--date", Drill.day, "--database", conninfo, "--log-format", "json"], expect: 0)
            let uri = "postgresql://postgres:\(Self.secret)@/\(db.name)?host=\(db.host)"
            try run(["--job", "mastery-decay", "--at", "2026-11-24T06:00:00Z"], environment: ["DATABASE_URL": uri], expect: 0)
            let credentials = cli.workingDirectory + "/credentials"
            try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
            try "\(Self.secret)\n".write(toFile: credentials + "/db-password", atomically: true, encoding: .utf8)
            try run(["--job", "usage-stats", "--date", Drill.day, "--database", db.conninfo],
                    environment: ["CREDENTIALS_DIRECTORY": credentials], expect: 0)

            // Failure paths: a lock timeout (with its diagnosis), a job held
            // elsewhere, a database that does not exist.
            let holder = try await db.connect()
            try await holder.query("BEGIN")
            try await holder.query("LOCK TABLE mastery IN ACCESS EXCLUSIVE MODE")
            let config = cli.workingDirectory + "/config.toml"
            try "[timeouts]\nlock_seconds = 1\n".write(toFile: config, atomically: true, encoding: .utf8)
            try run(["--job", "mastery-update", "--date", Drill.day, "--database", conninfo, "--config", config], expect: 1)
            try await holder.query("ROLLBACK")
            #expect(try await holder.tryAdvisoryLock(AdvisoryLockKey(name: "usage-stats")))
            try run(["--job", "usage-stats", "--date", Drill.day, "--database", conninfo], expect: 75)
            try run(["--job", "usage-stats", "--date", Drill.day,
                     "--database", "host=\(db.host) user=postgres dbname=nope_\(db.name) password=\(Self.secret)"], expect: 75)

            for arguments in [["status"], ["status", "--json"], ["status", "--job", "nightly"], ["status", "--run", "1"], ["jobs"]] {
                try run(arguments + ["--database", conninfo], expect: 0)
            }

            let rows = try await c.query("""
                SELECT coalesce((SELECT string_agg(t::text, E'\\n') FROM batch.job_runs t), '')
                    || coalesce((SELECT string_agg(t::text, E'\\n') FROM batch.job_run_steps t), '') AS text
                """).first!.decode("text", as: String.self)
            let reports = cli.reportsText()
            for (index, text) in (outputs + [rows, reports]).enumerated() {
                #expect(!text.contains(Self.secret), "output \(index) holds the password: \(text.prefix(2000))")
            }
            // Not vacuous: the runs, their args and the reports are there.
            #expect(rows.contains("lock wait ran out"))
            let recorded = try await c.query("SELECT DISTINCT args->>'database' AS d FROM batch.job_runs WHERE args ? 'database'")
                .rows.map { try $0.decode("d", as: String.self) }
            #expect(!recorded.isEmpty && recorded.allSatisfy { $0.contains("dbname=\(db.name)") }, "\(recorded)")
            #expect(reports.contains("\"job\" : \"nightly\"") && reports.contains("\"job\" : \"mastery-decay\""))
            #expect(outputs.joined().contains("\"level\""), "json log lines were produced")
            Drill.record("7 no secrets", "password in conninfo, URI and credential file: absent from \(outputs.count) outputs, run rows and report files")
        }
    }

    /// A fresh database with the roles.sql role in it (under a unique
    /// name, applied twice: the script is idempotent); the role is dropped
    /// after the database.
    static func withRole(_ body: (TestDatabase, String) async throws -> Void) async throws {
        let role = "studybuddy_batch_drill_" + UUID().uuidString.prefix(8).lowercased()
        let script = try String(contentsOfFile: TestPostgres.projectRoot + "/sql/roles.sql", encoding: .utf8)
        #expect(script.contains("CREATE ROLE studybuddy_batch LOGIN"))
        var failure: (any Error)?
        var host = ""
        do {
            try await TestPostgres.withDatabase { db in
                host = db.host
                let admin = try await db.connect()
                let named = script.replacingOccurrences(of: "studybuddy_batch", with: role)
                try await admin.run(named)
                try await admin.run(named)
                try await body(db, role)
            }
        } catch {
            failure = error
        }
        if !host.isEmpty {
            let admin = try await Connection.connect(ConnectionOptions(conninfo: "host=\(host) user=postgres dbname=postgres"))
            try await admin.run("DROP ROLE IF EXISTS \(role)")
        }
        if let failure { throw failure }
    }
}
