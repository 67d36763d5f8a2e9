import BatchTesting
import Foundation
import PostgresClient
import Testing

/// The executable as an operator meets it: exit codes and messages of
/// interface.md.
@Suite("studybuddy-batch CLI")
struct CLITests {
    @Test("--help works on every command and shows --config and --database", arguments: [
        [], ["migrate"], ["jobs"], ["status"], ["demo-data"],
    ])
    func help(command: [String]) throws {
        let result = try CLIProcess().run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--config") && result.stdout.contains("--database"))
    }

    @Test("usage errors exit 2 and say what was wrong", arguments: [
        (["--job", "mastery-updte"], "known jobs: nightly, session-close, mastery-update"),
        (["--job", "mastery-update", "--date", "2026-02-30"], "--date 2026-02-30 is not a valid date"),
        (["--job", "mastery-update", "--date", "0000-01-01"], "not a valid date"),
        (["--job", "mastery-update", "--date", "2026-11-24"], "is not over yet"),
        (["--job", "mastery-update", "--date", "2027-01-01"], "is not over yet"),
        (["--job", "mastery-update", "--from", "2026-11-10", "--to", "2026-11-01"], "--to 2026-11-01 is before --from 2026-11-10"),
        (["--job", "mastery-update", "--from", "2026-11-10"], "--from and --to go together"),
        (["--job", "mastery-update", "--date", "2026-11-20'; DROP TABLE attempts; --"], "not a valid date"),
        (["--job", "mastery-update", "--trigger", "cron"], "--trigger must be"),
        (["--job", "mastery-update", "--log-format", "xml"], "--log-format"),
        (["--bogus-flag"], "bogus"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let result = try CLIProcess().run(arguments + ["--database", "host=/nonexistent"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack"))
    }

    @Test("a bad config file exits 2 naming the key")
    func badConfig() throws {
        let cli = CLIProcess()
        let path = cli.workingDirectory + "/config.toml"
        try "[mastery]\nalpah = 0.4\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try cli.run(["jobs", "--config", path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("mastery.alpah"))
        try "[timeouts.mastery-updat]\nlock_seconds = 2\n".write(toFile: path, atomically: true, encoding: .utf8)
        let unknownJob = try cli.run(["jobs", "--config", path])
        #expect(unknownJob.status == 2 && unknownJob.stderr.contains("[timeouts.mastery-updat] names no job"))
        let missing = try cli.run(["jobs", "--config", cli.workingDirectory + "/nope.toml"])
        #expect(missing.status == 2 && missing.stderr.contains("does not exist"))
    }

    @Test("an unreachable database exits 75 with libpq's reason and no password")
    func unreachable() throws {
        let result = try CLIProcess().run(["--job", "mastery-update", "--date", "2026-11-20",
                                           "--database", "host=127.0.0.1 port=1 dbname=x password=Hunter2Secret connect_timeout=2"])
        #expect(result.status == 75, "\(result.stderr)")
        #expect(result.stderr.contains("127.0.0.1:1/x"))
        #expect(result.stderr.lowercased().contains("connection refused") || result.stderr.contains("could not connect"))
        #expect(!result.stderr.contains("Hunter2Secret"))
    }

    @Test("a connection string libpq rejects exits 2 naming where it came from, never echoing the password")
    func malformedConninfo() throws {
        let cli = CLIProcess()
        let keyword = try cli.run(["--job", "mastery-update", "--date", "2026-11-20", "--database", "foo=bar"])
        #expect(keyword.status == 2, "\(keyword.stderr)")
        #expect(keyword.stderr.contains("--database") && keyword.stderr.contains("invalid connection option \"foo\""))
        var withURL = CLIProcess()
        withURL.environment["DATABASE_URL"] = "postgresql://u:Hun%zzter2Secret@/db"
        let uri = try withURL.run(["--job", "mastery-update", "--date", "2026-11-20"])
        #expect(uri.status == 2, "\(uri.stderr)")
        #expect(uri.stderr.contains("DATABASE_URL"))
        #expect(!uri.stderr.contains("zzter2Secret"), "\(uri.stderr)")
        let spaced = try cli.run(["jobs", "--database", "host=x password=ab Hunter2 Secret"])
        #expect(spaced.status == 2, "\(spaced.stderr)")
        #expect(!spaced.stderr.contains("Hunter2") && !spaced.stderr.contains("Secret"), "\(spaced.stderr)")
    }

    @Test("migrate, demo-data, and the same --job --date twice: second run recorded, tables byte-identical, no password anywhere")
    func endToEnd() async throws {
        try await TestPostgres.withDatabase { db in
            let cli = CLIProcess()
            let secret = "Pa55-RecognisableSecret"
            let database = db.conninfo + " password=\(secret)"
            let c = try await db.connect()
            try await c.run("TRUNCATE learners, questions, sessions, attempts")
            let migrate = try cli.run(["migrate", "--with-app-schema", "--database", database])
            #expect(migrate.status == 0, "\(migrate.stderr)")
            let demo = try cli.run(["demo-data", "--learners", "60", "--days", "5", "--seed", "7", "--end-date", "2026-11-22",
                                    "--database", database])
            #expect(demo.status == 0, "\(demo.stderr)")
            let first = try cli.run(["--job", "mastery-update", "--date", "2026-11-22", "--database", database])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stderr.contains("mastery-update 2026-11-22 [manual] succeeded"))
            let after = try await db.snapshot(on: c)
            #expect(after["mastery_history"]?.isEmpty == false)
            let second = try cli.run(["--job", "mastery-update", "--date", "2026-11-22", "--database", database])
            #expect(second.status == 0)
            #expect(try await db.snapshot(on: c) == after)
            let runs = try await c.query("SELECT rows_written, args::text AS args FROM batch.job_runs ORDER BY id").rows
            #expect(runs.count == 2)
            #expect(try runs.last!.decode("rows_written", as: Int.self) == 0)
            #expect(try runs.allSatisfy { try !$0.decode("args", as: String.self).contains(secret) })
            let status = try cli.run(["status", "--database", database])
            #expect(status.status == 0 && status.stdout.contains("mastery-update"))
            let json = try cli.run(["status", "--json", "--database", database])
            #expect(json.stdout.hasPrefix("{") && json.stdout.contains("\"runs\""))
            for text in [migrate.stderr, demo.stderr, first.stderr, second.stderr, status.stdout, json.stdout, cli.reportsText()] {
                #expect(!text.contains(secret))
            }
            #expect(cli.reportsText().contains("\"schema_version\" : 1"))

            // A range runs each date ascending, recorded as backfill.
            let range = try cli.run(["--job", "mastery-update", "--from", "2026-11-18", "--to", "2026-11-20", "--database", database])
            #expect(range.status == 0, "\(range.stderr)")
            // 2026-11-22 was processed before, so it is rerun too (the
            // cascade), with mastery-update's downstream jobs.
            #expect(range.stderr.contains("2026-11-22: mastery-update, importance-index, cleanup"), "\(range.stderr)")
            let dates = try await c.query("""
                SELECT job || ' ' || logical_date::text AS d FROM batch.job_runs WHERE trigger = 'backfill' ORDER BY id
                """).rows.map { try $0.decode("d", as: String.self) }
            #expect(dates == ["mastery-update 2026-11-18", "mastery-update 2026-11-19", "mastery-update 2026-11-20",
                              "mastery-update 2026-11-22", "importance-index 2026-11-22", "cleanup 2026-11-22"])
        }
    }

    @Test("a job held by another process exits 75 and says who holds it")
    func held() async throws {
        try await TestPostgres.withDatabase { db in
            let holder = try await db.connect()
            #expect(try await holder.tryAdvisoryLock(AdvisoryLockKey(name: "mastery-update")))
            let result = try CLIProcess().run(["--job", "mastery-update", "--date", "2026-11-20", "--database", db.conninfo])
            #expect(result.status == 75)
            #expect(result.stderr.contains("running elsewhere"))
        }
    }

    @Test("status: an empty history says so; a busy one shows jobs, failures in a row, gaps and runs; --json for scripts")
    func status() async throws {
        try await TestPostgres.withDatabase { db in
            let cli = CLIProcess()
            let empty = try cli.run(["status", "--database", db.conninfo])
            #expect(empty.status == 0)
            #expect(empty.stdout.contains("no runs recorded yet"))
            let c = try await db.connect()
            try await c.query("DELETE FROM batch.job_schedule")
            #expect(try cli.run(["migrate", "--database", db.conninfo]).status == 0)   // writes the schedule
            for (job, status) in [("mastery-update", "succeeded"), ("mastery-update", "failed"), ("mastery-update", "failed")] {
                try await c.query("""
                    INSERT INTO batch.job_runs (job, trigger, status, started_at, finished_at, duration_ms, rows_written, logical_date, error_message)
                    VALUES ($1, 'manual', $2, now(), now(), 1500, 3, '2026-11-20', CASE WHEN $2 = 'failed' THEN 'division by zero' END)
                    """, [job, status])
            }
            let busy = try cli.run(["status", "--database", db.conninfo])
            #expect(busy.status == 0)
            #expect(busy.stdout.contains("mastery-update") && busy.stdout.contains("2 in a row"))
            #expect(busy.stdout.contains("division by zero"))
            #expect(busy.stdout.contains("missing"))
            #expect(busy.stdout.contains("never run"))
            let json = try cli.run(["status", "--json", "--database", db.conninfo])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect((object?["runs"] as? [Any])?.count == 3)
            let jobs = object?["jobs"] as? [[String: Any]] ?? []
            #expect(jobs.first { $0["job"] as? String == "mastery-update" }?["consecutive_failures"] as? Int == 2)
            let one = try cli.run(["status", "--run", "2", "--database", db.conninfo])
            #expect(one.status == 0 && one.stdout.contains("run 2: mastery-update failed"))
        }
    }

    @Test("--log-format json: one JSON object per line, each line of a run with job and run id")
    func jsonLogs() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "s")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 99, at: "2026-11-20T09:01:00Z", correct: true)
            let result = try CLIProcess().run(["--job", "mastery-update", "--date", "2026-11-20", "--log-format", "json",
                                               "--database", db.conninfo])
            #expect(result.status == 0)
            let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
            #expect(!lines.isEmpty)
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["level"] != nil && object?["msg"] != nil && object?["ts"] != nil)
                #expect(object?["job"] as? String == "mastery-update")
                #expect(object?["run_id"] != nil)
            }
        }
    }

    @Test("under systemd (JOURNAL_STREAM set) every log line starts with its syslog priority")
    func journalPrefix() async throws {
        try await TestPostgres.withDatabase { db in
            var cli = CLIProcess()
            cli.environment["JOURNAL_STREAM"] = "8:12345"
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "s")
            try await f.attempt(learner: 1, question: 99, at: "2026-11-20T09:01:00Z", correct: true)
            let result = try cli.run(["--job", "mastery-update", "--date", "2026-11-20", "--database", db.conninfo])
            #expect(result.status == 0)
            let logLines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("<") }
            #expect(logLines.contains { $0.hasPrefix("<4>") && $0.contains("bad input row") }, "\(result.stderr)")
            #expect(logLines.allSatisfy { $0.range(of: #"^<[0-7]>"#, options: .regularExpression) != nil })
        }
    }
}
