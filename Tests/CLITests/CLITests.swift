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
            #expect(json.stdout.hasPrefix("["))
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
}
