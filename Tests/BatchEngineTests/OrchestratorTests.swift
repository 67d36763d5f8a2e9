import BatchEngine
import BatchTesting
import Foundation
import Logging
import PostgresClient
import Testing

/// The pipeline (dependencies, skipped members) and the rerun cascade, with
/// probe jobs that log what ran into a table of the test database.
@Suite("pipeline and cascade")
struct OrchestratorTests {
    /// A probe: logs (job, day) and fails when `probe_fail` names it.
    static func probe(_ name: String, dependsOn: [String] = []) -> JobDefinition {
        JobDefinition(name: name, summary: "probe", kind: .nightly, schedule: "test", dependsOn: dependsOn, steps: ["log"]) { context in
            try await context.step("log") { c in
                try await c.query("INSERT INTO probe_log (job, day) VALUES ($1, $2)", [name, context.logicalDate])
                if try await c.query("SELECT 1 FROM probe_fail WHERE job = $1", [name]).first != nil {
                    try await c.query("SELECT 1 / 0")
                }
                return StepCounts(rowsWritten: 1)
            }
        }
    }

    static let registry = JobRegistry(
        [probe("a"), probe("b", dependsOn: ["a"]), probe("c"), probe("d", dependsOn: ["b", "c"])],
        pipeline: ["a", "b", "c", "d"])

    func prepare(_ db: TestDatabase) async throws -> Connection {
        let c = try await db.connect()
        try await c.run("""
            CREATE TABLE probe_log (seq bigint GENERATED ALWAYS AS IDENTITY, job text, day date);
            CREATE TABLE probe_fail (job text);
            """)
        return c
    }

    func orchestrator(_ db: TestDatabase, config: BatchConfig = BatchConfig()) throws -> Orchestrator {
        Orchestrator(runner: try TestRunner(database: db, config: config, registry: Self.registry).runner)
    }

    func log(_ c: Connection) async throws -> [String] {
        try await c.query("SELECT job || ' ' || day::text AS e FROM probe_log ORDER BY seq").rows.map { try $0.decode("e") }
    }

    @Test("the pipeline runs members in order under a parent row; a failed member's dependents are skipped, naming it")
    func pipelineFailure() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await prepare(db)
            try await c.query("INSERT INTO probe_fail VALUES ('a')")
            let outcome = try await orchestrator(db).runPipeline(date: .d("2026-11-20"), trigger: .manual, dryRun: false, args: RunArgs())
            #expect(outcome.status == .failed && outcome.exitStatus == .jobFailed)
            #expect(try await log(c) == ["c 2026-11-20"])   // a rolled back, b and d skipped
            let rows = try await c.query("""
                SELECT job, status, coalesce(error_code, '') AS code, coalesce(error_message, '') AS message,
                       parent_run_id IS NOT NULL AS child
                FROM batch.job_runs ORDER BY id
                """).rows
            let summary = try rows.map { "\(try $0.decode("job", as: String.self)):\(try $0.decode("status", as: String.self))" }
            #expect(summary == ["nightly:failed", "a:failed", "b:skipped", "c:succeeded", "d:skipped"])
            #expect(try rows[2].decode("message", as: String.self).contains("upstream a failed"))
            #expect(try rows[4].decode("message", as: String.self).contains("upstream b"))
            #expect(try rows[1...].allSatisfy { try $0.decode("child", as: Bool.self) })
            let steps = try await c.query("SELECT name, status FROM batch.job_run_steps WHERE run_id = $1 ORDER BY step_no", [outcome.runID!]).rows
            #expect(try steps.map { try $0.decode("name", as: String.self) } == ["a", "b", "c", "d"])
        }
    }

    @Test("an older date reruns the job and its downstream for every later processed date, oldest first")
    func cascade() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await prepare(db)
            let o = try orchestrator(db)
            let days: [LocalDate] = [.d("2026-11-10"), .d("2026-11-11"), .d("2026-11-12")]
            #expect(try await o.runDates(job: "a", dates: days, trigger: .backfill, dryRun: false, cascade: .automatic, args: RunArgs()) == .success)
            try await c.query("DELETE FROM probe_log")
            #expect(try await o.cascadeDates(job: "a", after: .d("2026-11-10")) == [.d("2026-11-11"), .d("2026-11-12")])
            #expect(try await o.runDates(job: "a", dates: [.d("2026-11-10")], trigger: .manual, dryRun: false, cascade: .automatic, args: RunArgs()) == .success)
            #expect(try await log(c) == ["a 2026-11-10",
                                         "a 2026-11-11", "b 2026-11-11", "d 2026-11-11",
                                         "a 2026-11-12", "b 2026-11-12", "d 2026-11-12"])
            let triggers = try await c.query("SELECT trigger FROM batch.job_runs ORDER BY id DESC LIMIT 6").rows
                .map { try $0.decode("trigger", as: String.self) }
            #expect(triggers == Array(repeating: "backfill", count: 6))
        }
    }

    @Test("a cascade longer than catchup.max_cascade_days needs --cascade; --no-cascade skips it and says so")
    func cascadeLimits() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await prepare(db)
            var config = BatchConfig()
            config.catchup.maxCascadeDays = 1
            let o = try orchestrator(db, config: config)
            let days: [LocalDate] = [.d("2026-11-10"), .d("2026-11-11"), .d("2026-11-12")]
            _ = try await o.runDates(job: "c", dates: days, trigger: .backfill, dryRun: false, cascade: .automatic, args: RunArgs())
            try await c.query("DELETE FROM probe_log")
            do {
                _ = try await o.runDates(job: "c", dates: [.d("2026-11-10")], trigger: .manual, dryRun: false, cascade: .automatic, args: RunArgs())
                Issue.record("a long cascade must need --cascade")
            } catch let error as BatchError {
                #expect(error.status == .usage && error.message.contains("--cascade"))
            }
            #expect(try await log(c).isEmpty)
            _ = try await o.runDates(job: "c", dates: [.d("2026-11-10")], trigger: .manual, dryRun: false, cascade: .skip, args: RunArgs())
            #expect(try await log(c) == ["c 2026-11-10"])
            let note = try await c.query("SELECT args->>'cascade' AS n FROM batch.job_runs ORDER BY id DESC LIMIT 1").first!
            #expect(try note.decode("n", as: String.self).contains("skipped"))
            try await c.query("DELETE FROM probe_log")
            _ = try await o.runDates(job: "c", dates: [.d("2026-11-10")], trigger: .manual, dryRun: false, cascade: .force, args: RunArgs())
            #expect(try await log(c) == ["c 2026-11-10", "c 2026-11-11", "d 2026-11-11", "c 2026-11-12", "d 2026-11-12"])
        }
    }

    @Test("a range stops after the first date with a failure")
    func rangeStops() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await prepare(db)
            try await c.query("INSERT INTO probe_fail VALUES ('b')")
            let status = try await orchestrator(db).runDates(job: "nightly", dates: [.d("2026-11-10"), .d("2026-11-11")],
                                                             trigger: .backfill, dryRun: false, cascade: .automatic, args: RunArgs())
            #expect(status == .jobFailed)
            #expect(try await log(c) == ["a 2026-11-10", "c 2026-11-10"])
        }
    }

    @Test("a member held elsewhere is waited for up to its lock_seconds; held longer, it and its dependents are skipped")
    func memberWaitsForItsLock() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await prepare(db)
            var config = BatchConfig()
            config.timeouts.lockSeconds = 30
            config.jobTimeouts["c"] = BatchConfig.Timeouts(lockSeconds: 0.3)
            let o = try orchestrator(db, config: config)
            let holder = try await db.connect()

            // Held for a moment (a session-close slot run, say): the member waits and runs.
            #expect(try await holder.tryAdvisoryLock(AdvisoryLockKey(name: "a")))
            let waiting = Task { try await o.runPipeline(date: .d("2026-11-20"), trigger: .schedule, dryRun: false, args: RunArgs()) }
            try await Task.sleep(for: .milliseconds(800))
            #expect(try await log(c).isEmpty, "a waits while its lock is held")
            #expect(try await holder.advisoryUnlock(AdvisoryLockKey(name: "a")))
            let first = try await waiting.value
            #expect(first.status == .succeeded)
            #expect(try await log(c) == ["a 2026-11-20", "b 2026-11-20", "c 2026-11-20", "d 2026-11-20"])
            #expect(try await c.query("SELECT 1 FROM batch.job_runs WHERE status <> 'succeeded'").rows.isEmpty)

            // Held past c's lock_seconds: c is recorded held, d (after c) skipped, naming it.
            try await c.query("DELETE FROM probe_log")
            #expect(try await holder.tryAdvisoryLock(AdvisoryLockKey(name: "c")))
            let began = Date()
            let second = try await o.runPipeline(date: .d("2026-11-21"), trigger: .schedule, dryRun: false, args: RunArgs())
            #expect(Date().timeIntervalSince(began) >= 0.3)
            #expect(second.status == .skipped && second.exitStatus == .tryLater)
            #expect(try await log(c) == ["a 2026-11-21", "b 2026-11-21"])
            let rows = try await c.query("""
                SELECT job || ':' || status || ':' || coalesce(error_code, '') AS r FROM batch.job_runs
                WHERE logical_date = '2026-11-21' ORDER BY id
                """).rows.map { try $0.decode("r", as: String.self) }
            #expect(rows == ["nightly:skipped:", "a:succeeded:", "b:succeeded:", "c:skipped:LOCKED", "d:skipped:UPSTREAM"])
            // Every run has its report, the skipped ones too (interface.md, "Run reports").
            let reports = try await c.query("""
                SELECT job, report->>'status' AS status, report->'error'->>'message' AS message FROM batch.job_runs
                WHERE logical_date = '2026-11-21' AND job IN ('c', 'd') ORDER BY id
                """).rows.map { "\(try $0.decode("job", as: String.self)):\(try $0.decode("status", as: String?.self) ?? "-"):"
                    + "\(try $0.decode("message", as: String?.self)?.prefix(8) ?? "-")" }
            #expect(reports == ["c:skipped:LOCKED: ", "d:skipped:UPSTREAM"], "\(reports)")

            // The daemon's retry of the slot (onlyIfNotDone) runs only what is not done yet.
            #expect(try await holder.advisoryUnlock(AdvisoryLockKey(name: "c")))
            try await c.query("DELETE FROM probe_log")
            let retry = try await o.runPipeline(date: .d("2026-11-21"), trigger: .schedule, dryRun: false, args: RunArgs(),
                                                onlyIfNotDone: true)
            #expect(retry.status == .succeeded)
            #expect(try await log(c) == ["c 2026-11-21", "d 2026-11-21"])
            let succeeded = try await c.query("""
                SELECT job FROM batch.job_runs WHERE logical_date = '2026-11-21' AND status = 'succeeded' ORDER BY id
                """).rows.map { try $0.decode("job", as: String.self) }
            #expect(succeeded == ["a", "b", "nightly", "c", "d"], "\(succeeded)")

            // A manual run of a member earlier that night is no reason to skip it in the slot.
            try await c.query("DELETE FROM probe_log")
            _ = try await o.runner.run(RunRequest(job: "a", logicalDate: .d("2026-11-22")))
            let slot = try await o.runPipeline(date: .d("2026-11-22"), trigger: .schedule, dryRun: false, args: RunArgs(),
                                               onlyIfNotDone: true)
            #expect(slot.status == .succeeded)
            #expect(try await log(c) == ["a 2026-11-22", "a 2026-11-22", "b 2026-11-22", "c 2026-11-22", "d 2026-11-22"])
        }
    }
}
