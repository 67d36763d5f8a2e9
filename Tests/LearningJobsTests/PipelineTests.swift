import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// The nightly pipeline over demo data: backfills and reruns end where
/// processing every day once, in order, ends (computations.md, "Reruns").
@Suite("nightly pipeline")
struct PipelineTests {
    static let days: [LocalDate] = (16...20).map { LocalDate.d("2026-11-\($0)") }
    /// "Today" for the runs: before every plan date, so that the rule "a plan
    /// for today or earlier is never replaced" (tested on its own in
    /// ImportanceIndexTests) does not keep the plans of the first pass.
    static let now = ISOInstant.parse("2026-11-10T06:00:00Z")!

    static func config() -> BatchConfig {
        var config = BatchConfig()
        config.timezone = "Europe/Berlin"
        return config
    }

    func load(_ db: TestDatabase) async throws -> Connection {
        let c = try await db.connect()
        _ = try await DemoData.load(on: c, learners: 40, days: 12, seed: 11, endDate: .d("2026-11-21"), timezone: "Europe/Berlin")
        return c
    }

    func orchestrator(_ db: TestDatabase) throws -> Orchestrator {
        Orchestrator(runner: try TestRunner(database: db, config: Self.config(), now: Self.now).runner)
    }

    /// Every derived table without bookkeeping timestamps (which record
    /// when a value was first computed, legitimately different between
    /// processing orders), plus the app tables session-close writes.
    func contents(_ c: Connection) async throws -> [String: [String]] {
        let queries = [
            "mastery": "SELECT learner_id, subcategory, mastery_score, last_practiced_on, current_score FROM mastery",
            "mastery_history": "SELECT * FROM mastery_history",
            "question_stats": "SELECT * FROM question_stats",
            "subcategory_stats": "SELECT * FROM subcategory_stats",
            "importance_index": "SELECT * FROM importance_index",
            "plan_units": "SELECT * FROM plan_units",
            "session_analytics": "SELECT (to_jsonb(t) - 'computed_at')::text FROM session_analytics t",
            "daily_usage": "SELECT * FROM daily_usage",
            "sessions": "SELECT id, ended_at, duration_sec, end_reason FROM sessions",
            // mastery-update reads a pair's previous value from its anchor,
            // importance-index its latest history row up to D: the mastery
            // row must be its newest history row (none without).
            "anchor_mismatches": """
                SELECT m.learner_id, m.subcategory, h.learner_id AS h_learner
                FROM mastery m
                FULL JOIN (SELECT DISTINCT ON (learner_id, subcategory) learner_id, subcategory, recorded_date, mastery_score
                           FROM mastery_history ORDER BY learner_id, subcategory, recorded_date DESC) h
                  ON h.learner_id = m.learner_id AND h.subcategory = m.subcategory
                WHERE (m.mastery_score, m.last_practiced_on) IS DISTINCT FROM (h.mastery_score, h.recorded_date)
                """,
        ]
        var result: [String: [String]] = [:]
        for (table, sql) in queries {
            result[table] = try await c.query("SELECT q::text AS row FROM (\(sql)) q ORDER BY q::text COLLATE \"C\"").rows
                .map { try $0.decode("row", as: String.self) }
        }
        return result
    }

    @Test("one --from/--to call, day-by-day runs, and a backfill before processed dates all end the same")
    func orderDoesNotMatter() async throws {
        let inOrder = try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            for day in Self.days {
                #expect(try await orchestrator(db).runDates(job: "nightly", dates: [day], trigger: .manual, dryRun: false,
                                                            cascade: .automatic, args: RunArgs()) == .success)
            }
            return try await contents(c)
        }
        #expect(inOrder["mastery_history"]?.isEmpty == false)
        #expect(inOrder["anchor_mismatches"] == [])
        #expect(inOrder["plan_units"]?.isEmpty == false)
        #expect(inOrder["session_analytics"]?.isEmpty == false)
        #expect(inOrder["daily_usage"]?.isEmpty == false)

        let oneCall = try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            #expect(try await orchestrator(db).runDates(job: "nightly", dates: Self.days, trigger: .backfill, dryRun: false,
                                                        cascade: .automatic, args: RunArgs()) == .success)
            return try await contents(c)
        }
        for table in inOrder.keys.sorted() {
            #expect(oneCall[table] == inOrder[table], "\(table) differs between one call and day by day")
        }

        let backfilledLater = try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            let o = try orchestrator(db)
            // The last three days first, then the first two: the cascade
            // reruns the last three after them.
            #expect(try await o.runDates(job: "nightly", dates: Array(Self.days[2...]), trigger: .backfill, dryRun: false,
                                         cascade: .automatic, args: RunArgs()) == .success)
            #expect(try await o.runDates(job: "nightly", dates: Array(Self.days[..<2]), trigger: .backfill, dryRun: false,
                                         cascade: .automatic, args: RunArgs()) == .success)
            return try await contents(c)
        }
        for table in inOrder.keys.sorted() {
            let expected = Set(inOrder[table] ?? []), got = Set(backfilledLater[table] ?? [])
            let missing = expected.subtracting(got).sorted(), extra = got.subtracting(expected).sorted()
            let diff = missing.isEmpty && extra.isEmpty ? "" :
                "\(table): \(missing.count) missing, e.g. \(missing.prefix(2)); \(extra.count) extra, e.g. \(extra.prefix(2))"
            #expect(diff.isEmpty, "\(diff)")
        }
    }

    @Test("a rerun of the pipeline for the same date writes nothing")
    func rerunWritesNothing() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await load(db)
            let o = try orchestrator(db)
            _ = try await o.runPipeline(date: .d("2026-11-19"), trigger: .manual, dryRun: false, args: RunArgs())
            _ = try await o.runPipeline(date: .d("2026-11-20"), trigger: .manual, dryRun: false, args: RunArgs())
            let before = try await db.snapshot(on: c)
            let again = try await o.runPipeline(date: .d("2026-11-20"), trigger: .manual, dryRun: false, args: RunArgs())
            #expect(again.status == .succeeded)
            #expect(try await db.snapshot(on: c) == before)
            let members = try await c.query("SELECT job, rows_written FROM batch.job_runs WHERE parent_run_id = $1 ORDER BY id",
                                            [again.runID!]).rows
            #expect(try members.map { try $0.decode("job", as: String.self) } == LearningJobs.registry.pipeline)
            for member in members {
                let job = try member.decode("job", as: String.self)
                #expect(try member.decode("rows_written", as: Int.self) == 0, "\(job)")
            }
        }
    }
}
