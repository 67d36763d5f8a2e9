import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// cleanup on small hand-made cases (computations.md, "cleanup"). With
/// D = 2026-11-20 in UTC the cut is 2026-11-21T00:00Z and "N days before the
/// cut" is start_of(D - N + 1):
///   7 days   -> 2026-11-14T00:00Z (empty sessions)
///   30 days  -> 2026-10-22T00:00Z (skipped runs, step rows, report files)
///   400 days -> 2025-10-17T00:00Z (succeeded runs)
///   plans: plan_date < D - 90 = 2026-08-22
///
/// Serialized: every suite of the package shares one test cluster
/// (max_connections = 200), which the parallel suites come close to.
@Suite("cleanup", .serialized)
struct CleanupTests {
    static let job = "cleanup"
    static let day = LocalDate.d("2026-11-20")

    // MARK: helpers

    /// Inserts a run row (and `steps` step rows) and returns its id.
    @discardableResult
    func run(_ c: Connection, _ status: String, job: String = "mastery-update", started: String, parent: Int64? = nil,
             steps: Int = 0) async throws -> Int64 {
        let id = try await c.query("""
            INSERT INTO batch.job_runs (parent_run_id, job, trigger, status, started_at)
            VALUES ($1, $2, 'manual', $3, $4::timestamptz) RETURNING id
            """, [parent, job, status, started]).first!.decode("id", as: Int64.self)
        for n in 0..<steps {
            try await c.query("""
                INSERT INTO batch.job_run_steps (run_id, step_no, name, status, started_at)
                VALUES ($1, $2, 'step', 'succeeded', $3::timestamptz)
                """, [id, n + 1, started])
        }
        return id
    }

    func runExists(_ c: Connection, _ id: Int64) async throws -> Bool {
        try await c.query("SELECT count(*) AS n FROM batch.job_runs WHERE id = $1", [id]).first!.decode("n", as: Int.self) == 1
    }

    func stepCount(_ c: Connection, _ id: Int64) async throws -> Int {
        try await c.query("SELECT count(*) AS n FROM batch.job_run_steps WHERE run_id = $1", [id]).first!.decode("n", as: Int.self)
    }

    func sessionExists(_ c: Connection, _ n: Int) async throws -> Bool {
        try await c.query("SELECT count(*) AS n FROM sessions WHERE id = $1", [Fixture.id("s", n)]).first!
            .decode("n", as: Int.self) == 1
    }

    func analytics(_ c: Connection, session n: Int) async throws {
        try await c.query("""
            INSERT INTO session_analytics (session_id, questions_attempted, questions_correct, total_time_ms, subjects_practiced,
                                           topics_covered, difficulty_distribution, concept_switches, active_seconds, computed_at)
            VALUES ($1, 0, 0, 0, '{}', 0, '{"easy": 0, "medium": 0, "hard": 0}', 0, 0, '2026-11-01T00:00:00Z')
            """, [Fixture.id("s", n)])
    }

    func plan(_ c: Connection, learner: Int = 1, _ date: String, sub: String = "math.add") async throws {
        try await c.query("""
            INSERT INTO plan_units (learner_id, plan_date, subcategory, questions, rank, importance)
            VALUES ($1, $2::date, $3, 5, 1, 0.5)
            """, [Fixture.id("l", learner), date, sub])
    }

    func planDates(_ c: Connection) async throws -> [String] {
        try await c.query("SELECT plan_date::text AS d FROM plan_units ORDER BY plan_date, learner_id").rows
            .map { try $0.decode("d", as: String.self) }
    }

    /// Test-only instrumentation: a statement trigger on each table records
    /// every DELETE statement (its transaction and row count) in delete_log.
    func logDeletes(on tables: [String], _ c: Connection) async throws {
        try await c.run("""
            CREATE TABLE delete_log (seq serial, tab text, txid bigint, n int);
            CREATE FUNCTION log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO delete_log (tab, txid, n) SELECT TG_TABLE_NAME, txid_current(), count(*) FROM gone; RETURN NULL; END $$;
            """)
        for table in tables {
            try await c.run("""
                CREATE TRIGGER log_delete AFTER DELETE ON \(table) REFERENCING OLD TABLE AS gone
                    FOR EACH STATEMENT EXECUTE FUNCTION log_delete();
                """)
        }
    }

    /// The DELETE statements on `table` in order: (transaction id, rows deleted).
    func deleteLog(_ table: String, _ c: Connection) async throws -> [(txid: Int64, n: Int)] {
        try await c.query("SELECT txid, n FROM delete_log WHERE tab = $1 ORDER BY seq", [table]).rows
            .map { (try $0.decode("txid", as: Int64.self), try $0.decode("n", as: Int.self)) }
    }

    /// rows_written per step of the run's report, by step name.
    func counts(_ outcome: RunOutcome) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: (outcome.report?.steps ?? []).map { ($0.name, $0.rowsWritten) })
    }

    /// Rows (files) deleted per table over the run: the report's counters.
    static func perTable(_ nonZero: [String: Int]) -> [String: Int] {
        let tables = ["sessions", "session_analytics", "plan_units", "job_runs", "job_run_steps", "report_files"]
        return Dictionary(uniqueKeysWithValues: tables.map { ("\($0)_deleted", nonZero[$0] ?? 0) })
    }

    static let steps = ["delete-empty-sessions", "delete-orphaned-analytics", "delete-old-plans", "delete-skipped-runs", "delete-old-run-steps",
                        "delete-old-succeeded-runs", "delete-old-report-files"]

    static func allZero(except nonZero: [String: Int]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: steps.map { ($0, nonZero[$0] ?? 0) })
    }

    // MARK: rules

    @Test("empty sessions: ended before start_of(D - 6) go with their analytics; any attempt keeps a session")
    func emptySessions() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "math.add")
            // Just outside retention (deleted) and just inside (kept).
            try await f.session(1, learner: 1, startedAt: "2026-11-13T23:00:00Z", endedAt: "2026-11-13T23:59:59Z")
            try await analytics(c, session: 1)
            try await f.session(2, learner: 1, startedAt: "2026-11-13T23:00:00Z", endedAt: "2026-11-14T00:00:00Z")
            try await analytics(c, session: 2)
            // Old, but with an attempt after the cut / a bad attempt / an ordinary attempt.
            try await f.session(3, learner: 1, startedAt: "2026-11-01T09:00:00Z", endedAt: "2026-11-01T09:30:00Z")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-22T09:00:00Z", correct: true, session: 3)
            try await f.session(4, learner: 1, startedAt: "2026-11-01T09:00:00Z", endedAt: "2026-11-01T09:30:00Z")
            try await f.attempt(learner: 1, question: 99, at: "2026-11-01T09:10:00Z", correct: true, session: 4)
            try await f.session(5, learner: 1, startedAt: "2026-11-01T09:00:00Z", endedAt: "2026-11-01T09:30:00Z")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-01T09:10:00Z", correct: true, session: 5)
            // Still open; and a bad one (ends before it starts): kept, the bad one counted.
            try await f.session(6, learner: 1, startedAt: "2026-11-01T09:00:00Z", endedAt: nil)
            try await f.session(7, learner: 1, startedAt: "2026-11-02T09:00:00Z", endedAt: "2026-11-01T09:00:00Z")
            try await c.query("""
                INSERT INTO mastery_history VALUES ($1, 'math.add', '2020-01-01', 0.6, 1, 1, 1.0)
                """, [Fixture.id("l", 1)])
            let attempts = try await db.dump("attempts", on: c)
            let history = try await db.dump("mastery_history", on: c)

            let outcome = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(outcome.status == .succeeded)
            #expect(try await sessionExists(c, 1) == false)
            for n in 2...7 { #expect(try await sessionExists(c, n), "session \(n)") }
            #expect(try await c.query("SELECT session_id FROM session_analytics").rows
                .map { try $0.decode("session_id", as: UUID.self) } == [Fixture.id("s", 2)])
            // One session and its analytics row.
            #expect(counts(outcome) == Self.allZero(except: ["delete-empty-sessions": 2]))
            #expect(outcome.report?.counters == Self.perTable(["sessions": 1, "session_analytics": 1]))
            #expect(outcome.report?.badRows == ["ended_before_started": 1])
            #expect(try await db.dump("attempts", on: c) == attempts)
            #expect(try await db.dump("mastery_history", on: c) == history)
        }
    }

    @Test("analytics of a session the app deleted go, at any age; the others stay")
    func orphanedAnalytics() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "math.add")
            for n in 1...3 {
                try await f.session(n, learner: 1, startedAt: "2026-11-20T09:00:00Z", endedAt: "2026-11-20T09:30:00Z")
                try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:10:00Z", correct: true, session: n)
                try await analytics(c, session: n)
            }
            // The app deletes session 2 (yesterday's: far inside every retention) and its attempts.
            try await c.query("DELETE FROM attempts WHERE session_id = $1", [Fixture.id("s", 2)])
            try await c.query("DELETE FROM sessions WHERE id = $1", [Fixture.id("s", 2)])
            let outcome = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(outcome.status == .succeeded)
            #expect(try await c.query("SELECT session_id FROM session_analytics ORDER BY session_id").rows
                .map { try $0.decode("session_id", as: UUID.self) } == [Fixture.id("s", 1), Fixture.id("s", 3)])
            #expect(counts(outcome) == Self.allZero(except: ["delete-orphaned-analytics": 1]))
            #expect(outcome.report?.counters == Self.perTable(["session_analytics": 1]))
            // A rerun finds nothing more.
            let again = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(counts(again) == Self.allZero(except: [:]))
        }
    }

    @Test("retention counts local days: across the DST change N days are not N * 24 hours")
    func localDays() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            // Europe/Berlin, D = 2026-10-30: the cut is 10-31 00:00 CET = 10-30T23:00Z and
            // start_of(D - 6) = 10-24 00:00 CEST = 10-23T22:00Z (169 hours before the cut).
            try await f.session(1, learner: 1, startedAt: "2026-10-23T21:00:00Z", endedAt: "2026-10-23T21:59:59Z")
            try await f.session(2, learner: 1, startedAt: "2026-10-23T21:00:00Z", endedAt: "2026-10-23T22:00:00Z")
            // 168 hours before the cut would be 10-23T23:00Z: this one is inside by local days.
            try await f.session(3, learner: 1, startedAt: "2026-10-23T22:00:00Z", endedAt: "2026-10-23T22:30:00Z")
            var config = BatchConfig()
            config.timezone = "Europe/Berlin"
            let outcome = try await TestRunner(database: db, config: config).run(Self.job, .d("2026-10-30"))
            #expect(try await sessionExists(c, 1) == false)
            #expect(try await sessionExists(c, 2))
            #expect(try await sessionExists(c, 3))
            #expect(counts(outcome)["delete-empty-sessions"] == 1)
        }
    }

    @Test("plans: plan_date < D - 90 goes, D - 90 stays")
    func plans() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await plan(c, "2026-08-21")
            try await plan(c, "2026-08-21", sub: "reading.vowels")
            try await plan(c, "2026-08-22")
            try await plan(c, "2026-11-21")
            let outcome = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(try await planDates(c) == ["2026-08-22", "2026-11-21"])
            #expect(counts(outcome) == Self.allZero(except: ["delete-old-plans": 2]))
        }
    }

    @Test("run rows: skipped after 30 days, step rows of succeeded runs after 30, succeeded runs after 400; failed kept")
    func runRows() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            // Skipped runs at the 30-day boundary.
            let skippedOut = try await run(c, "skipped", started: "2026-10-21T23:59:59Z")
            let skippedIn = try await run(c, "skipped", started: "2026-10-22T00:00:00Z")
            // A failed pipeline: kept whole, also its skipped member; its succeeded member loses its steps only.
            let failedPipeline = try await run(c, "failed", job: "nightly", started: "2020-01-01T02:00:00Z", steps: 2)
            let succeededMember = try await run(c, "succeeded", started: "2020-01-01T02:00:01Z", parent: failedPipeline, steps: 2)
            let skippedMember = try await run(c, "skipped", job: "importance-index", started: "2020-01-01T02:00:02Z", parent: failedPipeline)
            let failedMember = try await run(c, "failed", job: "learning-impact", started: "2020-01-01T02:00:03Z",
                                             parent: failedPipeline, steps: 1)
            // A skipped pipeline (a member held elsewhere) with a succeeded member, 300 days old:
            // not all skipped, not 400 days old: kept.
            let skippedPipeline = try await run(c, "skipped", job: "nightly", started: "2026-01-24T02:00:00Z", steps: 2)
            let itsMember = try await run(c, "succeeded", started: "2026-01-24T02:00:01Z", parent: skippedPipeline, steps: 1)
            _ = try await run(c, "skipped", job: "session-close", started: "2026-01-24T02:00:02Z", parent: skippedPipeline)
            // Succeeded runs at the 400-day and 30-day boundaries.
            let succeeded400Out = try await run(c, "succeeded", started: "2025-10-16T23:59:59Z", steps: 3)
            let succeeded400In = try await run(c, "succeeded", started: "2025-10-17T00:00:00Z", steps: 1)
            let succeeded30Out = try await run(c, "succeeded", started: "2026-10-21T23:59:59Z", steps: 2)
            let succeeded30In = try await run(c, "succeeded", started: "2026-10-22T00:00:00Z", steps: 2)
            // An old succeeded pipeline: it goes whole (steps by the 30-day rule, runs by the 400-day rule).
            let oldPipeline = try await run(c, "succeeded", job: "nightly", started: "2020-01-01T02:00:00Z", steps: 2)
            let oldMembers = [try await run(c, "succeeded", started: "2020-01-01T02:00:01Z", parent: oldPipeline, steps: 1),
                              try await run(c, "succeeded", job: "usage-stats", started: "2020-01-01T02:00:02Z", parent: oldPipeline, steps: 1)]
            // Old runs in other states: kept with their steps.
            let failed = try await run(c, "failed", started: "2020-01-01T00:00:00Z", steps: 1)
            let interrupted = try await run(c, "interrupted", started: "2020-01-01T00:00:00Z", steps: 1)
            let running = try await run(c, "running", job: "session-close", started: "2020-01-01T00:00:00Z", steps: 1)

            let outcome = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(outcome.status == .succeeded)

            #expect(try await runExists(c, skippedOut) == false)
            #expect(try await runExists(c, skippedIn))
            for id in [failedPipeline, succeededMember, skippedMember, failedMember, skippedPipeline, itsMember,
                       succeeded400In, succeeded30Out, succeeded30In, failed, interrupted, running] {
                #expect(try await runExists(c, id), "run \(id)")
            }
            for id in [succeeded400Out, oldPipeline] + oldMembers { #expect(try await runExists(c, id) == false, "run \(id)") }
            // Step rows: of succeeded runs older than 30 days gone, the others kept.
            for id in [succeededMember, itsMember, succeeded400In, succeeded30Out] { #expect(try await stepCount(c, id) == 0) }
            #expect(try await stepCount(c, failedPipeline) == 2)
            #expect(try await stepCount(c, failedMember) == 1)
            #expect(try await stepCount(c, skippedPipeline) == 2)
            #expect(try await stepCount(c, succeeded30In) == 2)
            for id in [failed, interrupted, running] { #expect(try await stepCount(c, id) == 1) }
            // No step row without its run.
            let orphans = try await c.query("""
                SELECT count(*) AS n FROM batch.job_run_steps s WHERE NOT EXISTS (SELECT 1 FROM batch.job_runs r WHERE r.id = s.run_id)
                """).first!.decode("n", as: Int.self)
            #expect(orphans == 0)

            // Counts per rule, in the report and in the step rows: steps 2 + 1 + 3 + 1 + 2 + (2 + 1 + 1);
            // succeeded runs: one alone, one pipeline of three.
            let expected = Self.allZero(except: ["delete-skipped-runs": 1, "delete-old-run-steps": 13,
                                                 "delete-old-succeeded-runs": 4])
            #expect(counts(outcome) == expected)
            #expect(outcome.report?.steps.map(\.name) == Self.steps)
            #expect(outcome.report?.totals.rowsWritten == 18)
            #expect(outcome.report?.counters == Self.perTable(["job_runs": 5, "job_run_steps": 13]))
            #expect(outcome.report?.steps.first { $0.name == "delete-old-succeeded-runs" }?.counters
                    == ["job_runs_deleted": 4, "job_run_steps_deleted": 0])
            let recorded = try await c.query("""
                SELECT name, rows_affected FROM batch.job_run_steps WHERE run_id = $1 ORDER BY step_no
                """, [outcome.runID!]).rows.map { (try $0.decode("name", as: String.self), try $0.decode("rows_affected", as: Int.self)) }
            #expect(recorded.map(\.0) == Self.steps)
            #expect(Dictionary(uniqueKeysWithValues: recorded) == expected)
            // The run itself is recorded.
            #expect(try await runExists(c, outcome.runID!))
        }
    }

    @Test("a run tree goes whole with its steps when step rows are kept longer than runs")
    func runTreeWithSteps() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            // 476 days old: past the 400 days of runs, within the 500 of step rows.
            let pipeline = try await run(c, "succeeded", job: "nightly", started: "2025-08-01T02:00:00Z", steps: 2)
            let member = try await run(c, "succeeded", started: "2025-08-01T02:00:01Z", parent: pipeline, steps: 3)
            let skipped = try await run(c, "skipped", job: "nightly", started: "2026-10-01T02:00:00Z", steps: 1)
            let skippedMember = try await run(c, "skipped", job: "session-close", started: "2026-10-01T02:00:01Z", parent: skipped)
            var config = BatchConfig()
            config.retention.stepDetailDays = 500
            let outcome = try await TestRunner(database: db, config: config).run(Self.job, Self.day)
            for id in [pipeline, member, skipped, skippedMember] { #expect(try await runExists(c, id) == false) }
            #expect(try await c.query("SELECT count(*) AS n FROM batch.job_run_steps WHERE run_id <> $1", [outcome.runID!])
                .first!.decode("n", as: Int.self) == 0)
            #expect(counts(outcome) == Self.allZero(except: ["delete-skipped-runs": 3, "delete-old-succeeded-runs": 7]))
            #expect(outcome.report?.counters == Self.perTable(["job_runs": 4, "job_run_steps": 6]))
        }
    }

    @Test("report files: modified before start_of(D - 29) go; newer ones and other files stay")
    func reportFiles() async throws {
        try await TestPostgres.withDatabase { db in
            let runner = try TestRunner(database: db)
            let dir = runner.reportDirectory
            let fm = FileManager.default
            func file(_ name: String, modified: String) throws {
                let path = (dir as NSString).appendingPathComponent(name)
                #expect(fm.createFile(atPath: path, contents: Data("{}\n".utf8)))
                try fm.setAttributes([.modificationDate: ISOInstant.parse(modified)!], ofItemAtPath: path)
            }
            try file("20261001T020000.000Z-cleanup-run1.json", modified: "2026-10-21T23:59:59Z")
            try file("20261001T020000.000Z-nightly-run2.json", modified: "2026-10-22T00:00:00Z")
            try file(".20261001T020000.000Z-cleanup-run3.json.tmp", modified: "2020-01-01T00:00:00Z")
            try file("notes.txt", modified: "2020-01-01T00:00:00Z")
            try file("report-run.json", modified: "2020-01-01T00:00:00Z")
            try fm.createDirectory(atPath: dir + "/old-run4.json", withIntermediateDirectories: true)
            try fm.setAttributes([.modificationDate: ISOInstant.parse("2020-01-01T00:00:00Z")!], ofItemAtPath: dir + "/old-run4.json")

            let outcome = try await runner.run(Self.job, Self.day)
            let left = try fm.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix("-run\(outcome.runID!).json") }.sorted()
            #expect(left == ["20261001T020000.000Z-nightly-run2.json", "notes.txt", "old-run4.json", "report-run.json"])
            #expect(counts(outcome) == Self.allZero(except: ["delete-old-report-files": 2]))
            try? fm.removeItem(atPath: dir)
        }
    }

    // MARK: batches, dry run, reruns

    @Test("batches of retention.batch_size rows, each its own transaction: 5 rows in 3 batches")
    func batches() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await logDeletes(on: ["plan_units"], c)
            for learner in 1...5 { try await plan(c, learner: learner, "2026-01-01") }
            try await plan(c, "2026-11-21")
            var config = BatchConfig()
            config.retention.batchSize = 2
            let outcome = try await TestRunner(database: db, config: config).run(Self.job, Self.day)
            #expect(try await planDates(c) == ["2026-11-21"])
            #expect(counts(outcome)["delete-old-plans"] == 5)
            let log = try await deleteLog("plan_units", c)
            #expect(log.map(\.n) == [2, 2, 1])
            #expect(Set(log.map(\.txid)).count == 3)
        }
    }

    @Test("a full batch is followed by another (here an empty one); run trees go whole even when larger than a batch")
    func batchesOfTrees() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await logDeletes(on: ["plan_units", "batch.job_runs"], c)
            // Four skipped solo runs and one skipped pipeline with two skipped members (3 rows).
            var ids: [Int64] = []
            for n in 0..<4 { ids.append(try await run(c, "skipped", started: "2026-0\(n + 1)-01T00:00:00Z")) }
            let pipeline = try await run(c, "skipped", job: "nightly", started: "2026-02-15T00:00:00Z")
            ids.append(pipeline)
            ids.append(try await run(c, "skipped", job: "session-close", started: "2026-02-15T00:00:01Z", parent: pipeline))
            ids.append(try await run(c, "skipped", job: "usage-stats", started: "2026-02-15T00:00:02Z", parent: pipeline))
            // Four plans: two full batches, then one that finds nothing.
            for learner in 1...4 { try await plan(c, learner: learner, "2026-01-01") }
            var config = BatchConfig()
            config.retention.batchSize = 2
            let outcome = try await TestRunner(database: db, config: config).run(Self.job, Self.day)
            for id in ids { #expect(try await runExists(c, id) == false) }
            #expect(try await planDates(c).isEmpty)
            #expect(counts(outcome) == Self.allZero(except: ["delete-skipped-runs": 7, "delete-old-plans": 4]))
            #expect(try await deleteLog("plan_units", c).map(\.n) == [2, 2, 0])
            // Solo runs two by two, then the pipeline alone (3 rows; the cascade from
            // its row finds its members already gone: statements deleting 0 rows are left out).
            let runBatches = try await deleteLog("job_runs", c).filter { $0.n > 0 }
            #expect(runBatches.map(\.n) == [2, 2, 3])
            #expect(Set(runBatches.map(\.txid)).count == 3)
        }
    }

    @Test("a dry run deletes nothing (rows or files) and reports what a real run then deletes")
    func dryRun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.session(1, learner: 1, startedAt: "2026-11-01T09:00:00Z", endedAt: "2026-11-01T09:30:00Z")
            try await analytics(c, session: 1)
            try await plan(c, "2026-01-01")
            try await plan(c, learner: 2, "2026-01-01")
            try await plan(c, learner: 3, "2026-01-01")
            try await run(c, "skipped", started: "2026-01-01T00:00:00Z")
            try await run(c, "succeeded", started: "2020-01-01T00:00:00Z", steps: 2)
            var config = BatchConfig()
            config.retention.batchSize = 2
            let runner = try TestRunner(database: db, config: config)
            let report = (runner.reportDirectory as NSString).appendingPathComponent("20200101T000000.000Z-cleanup-run1.json")
            #expect(FileManager.default.createFile(atPath: report, contents: Data("{}\n".utf8)))
            try FileManager.default.setAttributes([.modificationDate: ISOInstant.parse("2020-01-01T00:00:00Z")!],
                                                  ofItemAtPath: report)
            let snapshot = try await db.snapshot(on: c)
            let runs = try await db.dump("batch.job_runs", on: c)
            let steps = try await db.dump("batch.job_run_steps", on: c)

            let dry = try await runner.run(Self.job, Self.day, dryRun: true)
            #expect(dry.status == .succeeded)
            #expect(dry.report?.args.dryRun == true)
            #expect(try await db.snapshot(on: c) == snapshot)
            let runsAfter = try await c.query("SELECT t::text AS row FROM batch.job_runs t WHERE id <> $1 ORDER BY t::text COLLATE \"C\"",
                                              [dry.runID!]).rows.map { try $0.decode("row", as: String.self) }
            #expect(runsAfter == runs)
            let stepsAfter = try await c.query("""
                SELECT t::text AS row FROM batch.job_run_steps t WHERE run_id <> $1 ORDER BY t::text COLLATE "C"
                """, [dry.runID!]).rows.map { try $0.decode("row", as: String.self) }
            #expect(stepsAfter == steps)
            #expect(FileManager.default.fileExists(atPath: report))
            let expected = Self.allZero(except: ["delete-empty-sessions": 2, "delete-old-plans": 3, "delete-skipped-runs": 1,
                                                 "delete-old-run-steps": 2, "delete-old-succeeded-runs": 1,
                                                 "delete-old-report-files": 1])
            #expect(counts(dry) == expected)
            let tables = Self.perTable(["sessions": 1, "session_analytics": 1, "plan_units": 3, "job_runs": 2,
                                        "job_run_steps": 2, "report_files": 1])
            #expect(dry.report?.counters == tables)

            let real = try await runner.run(Self.job, Self.day)
            #expect(counts(real) == expected)
            #expect(real.report?.counters == tables)
            #expect(FileManager.default.fileExists(atPath: report) == false)
            #expect(try await f.count("sessions") == 0)
            #expect(try await f.count("session_analytics") == 0)
            #expect(try await f.count("plan_units") == 0)
            try? FileManager.default.removeItem(atPath: runner.reportDirectory)
        }
    }

    @Test("a rerun finds nothing left to delete and writes 0 rows")
    func rerun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.session(1, learner: 1, startedAt: "2026-11-01T09:00:00Z", endedAt: "2026-11-01T09:30:00Z")
            try await plan(c, "2026-01-01")
            try await run(c, "succeeded", started: "2020-01-01T00:00:00Z", steps: 1)
            let runner = try TestRunner(database: db)
            let first = try await runner.run(Self.job, Self.day)
            #expect(first.report?.totals.rowsWritten == 4)
            let snapshot = try await db.snapshot(on: c)
            let again = try await runner.run(Self.job, Self.day)
            #expect(again.status == .succeeded)
            #expect(again.report?.totals.rowsWritten == 0)
            #expect(try await db.snapshot(on: c) == snapshot)
            // The runs cleanup itself just recorded are far too young to go.
            #expect(try await runExists(c, first.runID!))
        }
    }
}
