import BatchTesting
import Foundation
import PostgresClient
import Testing

/// Drill 6 of issue 6, "bad input" (the parts covered so far): hostile app
/// rows are skipped and counted while the pipeline succeeds and leaves the
/// app's data alone, and hostile command lines and configs exit 2 with a
/// clear message before touching anything.
@Suite("drill 6: bad input")
struct BadInputDrillTests {
    /// Subcategory names a parser, a collation or a JSON encoder could trip on.
    static let hostileNames = [
        "🧮 Brüche",                      // emoji + umlaut
        "الكسور العشرية",                 // Arabic, right to left
        "שברים\u{200F} (RTL mark)",       // Hebrew with a right-to-left mark
        "e\u{301}quations 👨‍👩‍👧",          // combining accent, ZWJ emoji sequence
        "'; DROP TABLE attempts; --",      // SQL in data
    ]

    static let day = Drill.day
    static let huge = Int(Int32.max)   // time_sec = 2147483647

    @Test("hostile app rows: nightly exits 0, bad rows counted by reason, app tables unchanged but the idle session closed")
    func hostileRows() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            // Learner 2: RTL + emoji name, NULL goal; learner 3 created in 9999, learner 4 in 1970.
            try await c.query("INSERT INTO learners (id, display_name, daily_goal, created_at) VALUES ($1, $2, NULL, '2026-01-01Z')",
                              [Fixture.id("l", 2), "مريم 👩‍🎓 ‏"])
            try await c.query("INSERT INTO learners (id, display_name, created_at) VALUES ($1, 'future', '9999-12-31T23:59:59Z')",
                              [Fixture.id("l", 3)])
            try await c.query("INSERT INTO learners (id, display_name, created_at) VALUES ($1, 'epoch', '1970-01-01T00:00:00Z')",
                              [Fixture.id("l", 4)])
            for (index, name) in Self.hostileNames.enumerated() {
                try await f.question(index + 1, subcategory: name, subject: "math 🧪", topic: "topic ‮reversed")
            }
            try await c.query("INSERT INTO questions (id, subject, topic, subcategory) VALUES ($1, 'math', 'topic', NULL)",
                              [Fixture.id("q", 9)])

            // Session 1: 10,000 attempts of 2147483647 s each (sums overflow int4).
            try await f.session(1, learner: 1, startedAt: "\(Self.day)T08:00:00Z", endedAt: "\(Self.day)T20:00:00Z")
            try await c.query("""
                INSERT INTO attempts (learner_id, question_id, session_id, attempt_no, context, correct, time_sec, hint_used, created_at)
                SELECT $1, ('00000000-0000-4000-8000-2' || lpad((1 + (g - 1) % 5)::text, 11, '0'))::uuid, $2,
                       1 + (g - 1) / 5, 'session', g % 3 <> 0, $3, false,
                       '\(Self.day)T08:00:00Z'::timestamptz + g * interval '4 seconds'
                FROM generate_series(1, 10000) g
                """, [Fixture.id("l", 1), Fixture.id("s", 1), Self.huge])
            // Session 2: ends before it starts. Session 3: open and idle (session-close closes it).
            // Session 4: NULL started_at.
            try await f.session(2, learner: 1, startedAt: "\(Self.day)T10:00:00Z", endedAt: "\(Self.day)T09:00:00Z")
            try await f.session(3, learner: 2, startedAt: "\(Self.day)T09:00:00Z", endedAt: nil)
            try await c.query("INSERT INTO sessions (id, learner_id, subject, topic) VALUES ($1, $2, 'math', 'topic')",
                              [Fixture.id("s", 4), Fixture.id("l", 2)])
            // Learner 2 practises every hostile name once, in session 3.
            for index in Self.hostileNames.indices {
                try await f.attempt(learner: 2, question: index + 1, at: "\(Self.day)T09:0\(index):00Z", correct: true, session: 3)
            }
            // One bad attempt per reason (interface.md "Bad rows"), inside D.
            let at = "\(Self.day)T12:00:00Z"
            try await f.attempt(learner: 2, question: 1, at: at, correct: nil)                       // null_value
            try await f.attempt(learner: 2, question: 1, at: at, correct: true, timeSec: nil)        // null_value
            try await f.attempt(learner: 2, question: 1, at: at, correct: true, context: nil)        // null_value
            try await f.attempt(learner: 2, question: 9, at: at, correct: true)                      // null_value (NULL subcategory)
            try await f.attempt(learner: 2, question: 1, at: at, correct: true, timeSec: -5)         // negative_time_sec
            try await f.attempt(learner: 2, question: 1, at: at, correct: true, attemptNo: 0)        // attempt_no_below_1
            try await f.attempt(learner: 2, question: 1, at: at, correct: true,
                                context: "session'); DELETE FROM learners; --")                     // unknown_context
            try await f.attempt(learner: 2, question: 77, at: at, correct: true)                     // question_missing
            try await f.attempt(learner: 77, question: 1, at: at, correct: true)                     // learner_missing
            try await f.attempt(learner: 1, question: 1, at: "9999-01-01T00:00:00Z", correct: true,
                                session: 1)                                                          // created_after_cut (session-analytics)
            try await f.attempt(learner: 2, question: 1, at: "1970-01-01T00:00:00Z", correct: true)  // old, but fine
            try await c.query("""
                INSERT INTO attempts (learner_id, question_id, attempt_no, context, correct, time_sec, created_at)
                VALUES ($1, $2, 1, 'practice', true, 3, NULL)
                """, [Fixture.id("l", 2), Fixture.id("q", 1)])                                    // null_value (no time)
            try await c.query("""
                INSERT INTO attempts (learner_id, question_id, attempt_no, context, user_answer, correct, time_sec, created_at)
                VALUES ($1, $2, 1, 'practice', NULL, true, 3, '\(Self.day)T12:00:00Z')
                """, [Fixture.id("l", 2), Fixture.id("q", 1)])                                    // null_value (user_answer)
            // Session 5: a NULL topic (interface.md lists it without NULL): a bad row, no analytics.
            try await c.query("""
                INSERT INTO sessions (id, learner_id, subject, topic, started_at, ended_at)
                VALUES ($1, $2, 'math', NULL, '\(Self.day)T07:00:00Z', '\(Self.day)T07:30:00Z')
                """, [Fixture.id("s", 5), Fixture.id("l", 2)])

            let before = try await Self.appTables(on: c, db: db)
            let cli = CLIProcess()
            let first = try cli.run(["--job", "nightly", "--date", Self.day, "--database", db.conninfo])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stderr.contains("bad rows skipped"), "the summary names the skipped rows")

            // Every member succeeded; the bad rows are counted by reason.
            let members = try await c.query("""
                SELECT job, status FROM batch.job_runs WHERE parent_run_id IS NOT NULL ORDER BY id
                """).rows.map { "\(try $0.decode("job", as: String.self)) \(try $0.decode("status", as: String.self))" }
            #expect(members.count == 7 && members.allSatisfy { $0.hasSuffix(" succeeded") }, "\(members)")
            let reasons = try await Self.badRows(on: c, job: "mastery-update")
            // mastery-update reads D's attempts: the ten bad ones created in D, by first
            // reason (the NULL created_at one is in no window; the year-9999 one is after
            // the cut, counted by session-analytics for its session).
            #expect(reasons["null_value"] == 5, "\(reasons)")
            for reason in ["negative_time_sec", "attempt_no_below_1", "unknown_context", "question_missing", "learner_missing"] {
                #expect(reasons[reason] == 1, "\(reason): \(reasons)")
            }
            #expect(try await c.query("SELECT count(*) AS n FROM session_analytics WHERE session_id = $1",
                                      [Fixture.id("s", 5)]).first!.decode("n", as: Int.self) == 0)
            let all = try await Self.badRows(on: c, job: nil)
            for reason in ["created_after_cut", "ended_before_started"] {
                #expect(all[reason, default: 0] >= 1, "\(reason) counted by some job: \(all)")
            }

            // The results are right, byte for byte.
            let names = try await c.query("""
                SELECT subcategory FROM mastery WHERE learner_id = $1 ORDER BY subcategory COLLATE "C"
                """, [Fixture.id("l", 2)]).rows.map { try $0.decode("subcategory", as: String.self) }
            #expect(names == Self.hostileNames.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            let big = try await c.query("""
                SELECT questions_attempted, total_time_ms, active_seconds FROM session_analytics WHERE session_id = $1
                """, [Fixture.id("s", 1)]).first
            #expect(try big?.decode("questions_attempted", as: Int.self) == 10_000)
            #expect(try big?.decode("total_time_ms", as: Int64.self) == 1000 * 10_000 * Int64(Self.huge))
            #expect(try big?.decode("active_seconds", as: Int64.self) == 10_000 * 300)

            // The app's data: unchanged, except that session-close closed session 3.
            let after = try await Self.appTables(on: c, db: db)
            for table in ["learners", "questions", "attempts"] {
                #expect(after[table] == before[table], "\(table) changed")
            }
            let changed = try await c.query("""
                SELECT id, end_reason FROM sessions WHERE ended_at IS NOT NULL AND id = $1
                """, [Fixture.id("s", 3)]).rows
            let reason = try changed.first?.decode("end_reason", as: String?.self)
            #expect(changed.count == 1 && reason == "idle_timeout")
            #expect(try await Self.sessionsWithoutClose(on: c) == before["sessions-without-close"])

            // A rerun with the same hostile input changes nothing.
            let derived = try await Drill.contents(on: c)
            let second = try cli.run(["--job", "nightly", "--date", Self.day, "--database", db.conninfo])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(try await Drill.contents(on: c) == derived)
            Drill.record("6 bad input (rows)", "NULLs, time_sec 2^31-1 x 10,000 in one session, unicode/RTL/SQL names, years 1970 and 9999: exit 0, \(all.values.reduce(0, +)) bad rows counted, app data intact")
        }
    }

    @Test("hostile command lines and configs exit 2 with a clear message and touch nothing")
    func hostileCommandLines() async throws {
        try await TestPostgres.withDatabase { db in
            let cli = CLIProcess()
            let folder = cli.workingDirectory
            let plainFile = folder + "/not-a-folder"
            try "x".write(toFile: plainFile, atomically: true, encoding: .utf8)
            func config(_ name: String, _ text: String) throws -> String {
                let path = folder + "/" + name
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            let full = "timezone = \"UTC\"\n[mastery]\nalpha = 0.6\ncontexts = [\"session\", \"practice\"]\n[sessions]\nidle_timeout_minutes = 30\n"
            let sql = "'; DROP TABLE attempts; --"
            let cases: [(name: String, arguments: [String], message: String)] = [
                ("config cut in a value", ["--config", try config("cut1.toml", String(full.prefix(35)))], "invalid TOML at line 3"),
                ("config cut in an array", ["--config", try config("cut2.toml", String(full.prefix(70)))], "invalid TOML at line 4"),
                ("config cut in a table header", ["--config", try config("cut3.toml", String(full.prefix(82)))], "invalid TOML at line 5"),
                ("config with a NUL byte", ["--config", try config("nul.toml", "\u{0}[mastery]\nalpha = \"x\"\n")], "contains a NUL byte"),
                ("config of binary garbage", ["--config", try config("garbage.toml", "\u{1}\u{2}\u{7f}[[[")], "invalid TOML"),
                ("report_dir is a file", ["--config", try config("rd1.toml", "report_dir = \"\(plainFile)\"\n")],
                 "cannot create the report directory \(plainFile)"),
                ("report_dir under a file", ["--config", try config("rd2.toml", "report_dir = \"\(plainFile)/reports\"\n")],
                 "cannot create the report directory \(plainFile)/reports"),
                ("SQL in --job", ["--job", "mastery-update\(sql)"], "unknown job \"mastery-update\(sql)\""),
                ("SQL in --date", ["--date", "2026-11-20\(sql)"], "--date 2026-11-20\(sql) is not a valid date"),
                ("SQL in --from", ["--from", "2026-11-20\(sql)", "--to", "2026-11-21"], "is not a valid date"),
                ("SQL in --at", ["--job", "mastery-decay", "--at", "2026-11-24T00:00:00Z\(sql)"], "is not an ISO 8601 instant"),
                ("SQL in --config", ["--config", folder + "/x\(sql)"], "config file \(folder)/x\(sql) does not exist"),
                ("SQL in --trigger", ["--trigger", "schedule\(sql)"], "--trigger must be"),
                ("--date 0000-01-01", ["--date", "0000-01-01"], "is not a valid date"),
            ]
            for item in cases {
                var arguments = item.arguments
                if !arguments.contains("--job") { arguments = ["--job", "mastery-update"] + arguments }
                if !arguments.contains("--date") && !arguments.contains("--from") && !arguments.contains("--at") {
                    arguments += ["--date", "2026-11-20"]
                }
                let result = try cli.run(arguments + ["--database", db.conninfo])
                #expect(result.status == 2, "\(item.name): exit \(result.status): \(result.stderr)")
                #expect(result.stderr.contains(item.message), "\(item.name): \(result.stderr)")
                #expect(!result.stderr.contains("Fatal error"), "\(item.name): crashed")
            }
            // Nothing ran, nothing was recorded, nothing was dropped.
            let c = try await db.connect()
            #expect(try await Fixture(c).count("batch.job_runs") == 0)
            let tables = try await c.query("""
                SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'
                  AND tablename IN ('learners', 'questions', 'sessions', 'attempts')
                """).first!.decode("n", as: Int.self)
            #expect(tables == 4)
            Drill.record("6 bad input (CLI)", "\(cases.count) hostile configs / report dirs / SQL metacharacters: exit 2 naming the problem, nothing recorded")
        }
    }

    /// The app tables in full, plus sessions without the three columns
    /// session-close may write.
    static func appTables(on c: Connection, db: TestDatabase) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for table in TestDatabase.appTables { result[table] = try await db.dump(table, on: c) }
        result["sessions-without-close"] = try await sessionsWithoutClose(on: c)
        return result
    }

    static func sessionsWithoutClose(on c: Connection) async throws -> [String] {
        try await c.query("""
            SELECT row FROM (SELECT (to_jsonb(s) - ARRAY['ended_at', 'duration_sec', 'end_reason'])::text AS row FROM sessions s) x
            ORDER BY row COLLATE "C"
            """).rows.map { try $0.decode("row", as: String.self) }
    }

    /// Bad rows by reason, summed over the member runs' reports so far (one
    /// job, or all).
    static func badRows(on c: Connection, job: String?) async throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in try await c.query("""
            SELECT b.key, sum(b.value::int)::int AS n
            FROM batch.job_runs r CROSS JOIN LATERAL jsonb_each_text(r.report->'bad_rows') b
            WHERE r.parent_run_id IS NOT NULL AND ($1::text IS NULL OR r.job = $1::text)
            GROUP BY b.key
            """, [job]).rows {
            result[try row.decode("key", as: String.self)] = try row.decode("n", as: Int.self)
        }
        return result
    }
}
