import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// Drill 5: live traffic. A pgbench script plays the app (opens a session,
/// writes an attempt, ends the session, reads mastery and today's plan)
/// first alone, then while the nightly pipeline and mastery-decay run.
/// Prints the app's latency p50/p99 with and without the batch and the
/// longest lock wait seen; asserts only that no app transaction failed.
///
/// Size: `STUDYBUDDY_DRILL_TRAFFIC_LEARNERS` (default 300 in `make test`;
/// `make drills` uses a size where the pipeline takes tens of seconds).
@Suite("drill 5: live traffic", .serialized)
struct LiveTrafficDrillTests {
    static let script = """
        \\set n random(1, :nlearners)
        \\set q random(1, :nquestions)
        SELECT id AS learner FROM app_sim_learners WHERE n = :n \\gset
        SELECT id AS question, subject, topic FROM app_sim_questions WHERE n = :q \\gset
        BEGIN;
        INSERT INTO sessions (learner_id, subject, topic, started_at) VALUES (:learner, :subject, :topic, now()) RETURNING id AS session \\gset
        INSERT INTO attempts (learner_id, question_id, session_id, attempt_no, context, correct, time_sec, created_at) VALUES (:learner, :question, :session, 1, 'session', random() < 0.7, 12, now());
        UPDATE sessions SET ended_at = now(), duration_sec = 1, end_reason = 'completed' WHERE id = :session;
        COMMIT;
        SELECT mastery_score, current_score FROM mastery WHERE learner_id = :learner;
        SELECT subcategory, questions FROM plan_units WHERE learner_id = :learner AND plan_date = current_date;
        """

    struct Phase {
        var transactions = 0
        var failed = 0
        var p50Ms = 0.0
        var p99Ms = 0.0
        var maxMs = 0.0
    }

    /// Runs pgbench for `seconds` and reads its per-transaction log.
    static func pgbench(host: String, database: String, seconds: Int, learners: Int, questions: Int,
                        folder: String, tag: String) throws -> (Int32, Phase, String) {
        let scriptPath = folder + "/app.sql"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let prefix = folder + "/\(tag)"
        let (status, output) = try Spawn.run([
            "/bin/sh", "-c",
            "cd \(folder) && pgbench -n -h \(host) -U postgres -M extended -c 4 -j 2 -T \(seconds) "
                + "-D nlearners=\(learners) -D nquestions=\(questions) -f \(scriptPath) -l --log-prefix=\(prefix) \(database) 2>&1",
        ])
        var latencies: [Double] = []
        var phase = Phase()
        for file in try FileManager.default.contentsOfDirectory(atPath: folder) where file.hasPrefix(tag + ".") {
            let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count >= 3 else { continue }
                if fields[2] == "failed" || fields[2] == "skipped" { phase.failed += 1; continue }
                if let micros = Double(fields[2]) { latencies.append(micros / 1000) }
            }
        }
        latencies.sort()
        phase.transactions = latencies.count
        if !latencies.isEmpty {
            phase.p50Ms = latencies[latencies.count / 2]
            phase.p99Ms = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
            phase.maxMs = latencies.last!
        }
        return (status, phase, output)
    }

    @Test("the app's transactions all succeed while the nightly pipeline and decay run; latency printed")
    func liveTraffic() async throws {
        let learners = Drill.environmentInt("STUDYBUDDY_DRILL_TRAFFIC_LEARNERS") ?? 300
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            _ = try await DemoData.load(on: c, learners: learners, days: 14, seed: 21, endDate: .d("2026-11-22"), timezone: "UTC")
            // The app's last nights: history to decay and plans to read.
            let cli = CLIProcess()
            #expect(try cli.run(["--job", "nightly", "--date", "2026-11-21", "--database", db.conninfo]).status == 0)
            try await c.run("""
                CREATE TABLE app_sim_learners AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM learners;
                CREATE TABLE app_sim_questions AS SELECT row_number() OVER (ORDER BY id) AS n, id, subject, topic FROM questions;
                """)
            let questions = try await c.query("SELECT count(*) AS n FROM app_sim_questions").first!.decode("n", as: Int.self)
            let folder = cli.workingDirectory + "/pgbench"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

            let (baseStatus, baseline, baseOutput) = try Self.pgbench(host: db.host, database: db.name, seconds: 4, learners: learners,
                                                                      questions: questions, folder: folder, tag: "alone")
            #expect(baseStatus == 0, "\(baseOutput)")

            // Now with the batch: pgbench for a while; the pipeline and decay meanwhile.
            let started = Date()
            let host = db.host, name = db.name
            let traffic = Task.detached {
                try Self.pgbench(host: host, database: name, seconds: 4 + learners / 500, learners: learners,
                                 questions: questions, folder: folder, tag: "batch")
            }
            let monitor = try await db.connect()
            let watching = Task {
                var longest = 0.0
                while !Task.isCancelled {
                    let wait = try await monitor.query("""
                        SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)::float8 AS s
                        FROM pg_stat_activity
                        WHERE application_name = 'pgbench' AND wait_event_type = 'Lock'
                        """).first!.decode("s", as: Double.self)
                    longest = max(longest, wait)
                    try await Task.sleep(for: .milliseconds(50))
                }
                return longest
            }
            try await Task.sleep(for: .milliseconds(500))
            let nightly = try cli.run(["--job", "nightly", "--date", "2026-11-22", "--database", db.conninfo])
            let decay = try cli.run(["--job", "mastery-decay", "--at", "2026-11-24T06:00:00Z", "--database", db.conninfo])
            let batchSeconds = Date().timeIntervalSince(started) - 0.5
            let (status, during, output) = try await traffic.value
            watching.cancel()
            let longestLockWait = (try? await watching.value) ?? 0
            #expect(nightly.status == 0, "\(nightly.stderr)")
            #expect(decay.status == 0, "\(decay.stderr)")
            #expect(status == 0, "\(output)")
            #expect(baseline.failed == 0 && during.failed == 0)
            #expect(during.transactions > 0)
            let line = String(format: "%d learners; batch %.1f s; app alone p50 %.1f ms p99 %.1f ms (%d tx); "
                              + "with batch p50 %.1f ms p99 %.1f ms max %.1f ms (%d tx); longest app lock wait %.2f s; failed 0",
                              learners, batchSeconds, baseline.p50Ms, baseline.p99Ms, baseline.transactions,
                              during.p50Ms, during.p99Ms, during.maxMs, during.transactions, longestLockWait)
            Drill.record("5 live traffic", line)
        }
    }
}
