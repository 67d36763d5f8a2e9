import BatchEngine
import BatchTesting
import Foundation
import PostgresClient
import Testing

/// batch.job_status, batch.job_gaps, the Prometheus textfile and per-table
/// counts, on crafted run histories.
@Suite("status views and metrics")
struct StatusViewsTests {
    /// Inserts a finished run; `daysAgo` counts from now().
    func run(_ c: Connection, job: String, status: String, hoursAgo: Double, logicalDate: String? = nil,
             windowEnd: String? = nil, dry: Bool = false, error: String? = nil, rows: Int = 5) async throws {
        try await c.query("""
            INSERT INTO batch.job_runs (job, trigger, status, started_at, finished_at, duration_ms, rows_written,
                                        logical_date, window_end, args, error_code, error_message)
            VALUES ($1, 'schedule', $2, now() - make_interval(secs => $3::float8 * 3600),
                    now() - make_interval(secs => $3::float8 * 3600) + interval '2 seconds', 2000, $7,
                    $4::date, $5::timestamptz, jsonb_build_object('dry_run', $6::boolean),
                    CASE WHEN $8::text IS NULL THEN NULL ELSE '22012' END, $8::text)
            """, [job, status, hoursAgo, logicalDate, windowEnd, dry, rows, error])
    }

    func schedule(_ c: Connection) async throws {
        try await c.query("""
            INSERT INTO batch.job_schedule (job, schedule, timezone, kind, times, every_minutes, next_due) VALUES
              ('nightly', 'nightly at 02:00', 'UTC', 'nightly', '{02:00}', NULL, now() + interval '1 day'),
              ('mastery-update', 'nightly', 'UTC', 'nightly', '{02:00}', NULL, now() + interval '1 day'),
              ('mastery-decay', 'daily at 00:00, 06:00, 12:00, 18:00', 'UTC', 'slot', '{00:00,06:00,12:00,18:00}', NULL, NULL)
            ON CONFLICT (job) DO UPDATE SET kind = EXCLUDED.kind, times = EXCLUDED.times, timezone = 'UTC'
            """)
    }

    @Test("job_status: last run, last success, last failure, consecutive failures; dry runs ignored")
    func jobStatus() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await schedule(c)
            try await run(c, job: "mastery-update", status: "failed", hoursAgo: 50, error: "old failure")
            try await run(c, job: "mastery-update", status: "succeeded", hoursAgo: 40)
            try await run(c, job: "mastery-update", status: "failed", hoursAgo: 30, error: "first")
            try await run(c, job: "mastery-update", status: "skipped", hoursAgo: 25)
            try await run(c, job: "mastery-update", status: "failed", hoursAgo: 20, error: "second")
            try await run(c, job: "mastery-update", status: "succeeded", hoursAgo: 10, dry: true)
            let row = try #require(try await c.query("SELECT * FROM batch.job_status WHERE job = 'mastery-update'").first)
            #expect(try row.decode("last_status", as: String.self) == "failed")
            #expect(try row.decode("consecutive_failures", as: Int.self) == 2)
            #expect(try row.decode("last_failure_message", as: String.self) == "second")
            #expect(try row.decode("last_failure_code", as: String.self) == "22012")
            #expect(try row.decode("last_success_run_id", as: Int64.self) == 2)
            let never = try #require(try await c.query("SELECT * FROM batch.job_status WHERE job = 'mastery-decay'").first)
            #expect(try never.decode("last_run_id", as: Int64?.self) == nil)
            #expect(try never.decode("consecutive_failures", as: Int.self) == 0)
        }
    }

    @Test("job_gaps: nightly dates of the last 30 days and decay slots of the last 7 days without a real success")
    func gaps() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await schedule(c)
            let today = try await c.query("SELECT (now() AT TIME ZONE 'UTC')::date AS d, now() >= (now() AT TIME ZONE 'UTC')::date + time '02:00' AT TIME ZONE 'UTC' AS due").first!
            let d = try today.decode("d", as: LocalDate.self)
            let yesterdayDue = try today.decode("due", as: Bool.self)
            try await run(c, job: "nightly", status: "succeeded", hoursAgo: 1, logicalDate: d.adding(days: -2).description)
            try await run(c, job: "nightly", status: "succeeded", hoursAgo: 1, logicalDate: d.adding(days: -5).description)
            try await run(c, job: "nightly", status: "failed", hoursAgo: 1, logicalDate: d.adding(days: -6).description)
            try await run(c, job: "nightly", status: "succeeded", hoursAgo: 1, logicalDate: d.adding(days: -7).description, dry: true)
            let dates = try await c.query("SELECT logical_date FROM batch.job_gaps WHERE job = 'nightly' ORDER BY 1").rows
                .map { try $0.decode("logical_date", as: LocalDate.self) }
            // 30 dates (D-30 ... D-1; D-1 only once its 02:00 slot passed) less the 2 real successes.
            let expectedCount: Int = yesterdayDue ? 28 : 27
            #expect(dates.count == expectedCount)
            #expect(!dates.contains(d.adding(days: -2)) && !dates.contains(d.adding(days: -5)))
            #expect(dates.contains(d.adding(days: -6)) && dates.contains(d.adding(days: -7)))
            #expect(dates.first == d.adding(days: -30))
            #expect(dates.contains(d.adding(days: -1)) == yesterdayDue)

            // Decay: 4 slots a day over the last 7 days; two succeeded exactly.
            let slots = try await c.query("""
                SELECT slot FROM batch.job_gaps WHERE job = 'mastery-decay' ORDER BY slot
                """).rows.map { try $0.decode("slot", as: Date.self) }
            #expect(slots.count >= 27 && slots.count <= 28)
            try await run(c, job: "mastery-decay", status: "succeeded", hoursAgo: 1, windowEnd: ISOInstant.format(slots[0]))
            try await run(c, job: "mastery-decay", status: "succeeded", hoursAgo: 1, windowEnd: ISOInstant.format(slots[3]))
            try await run(c, job: "mastery-decay", status: "succeeded", hoursAgo: 1, windowEnd: ISOInstant.format(slots[5]), dry: true)
            let after = try await c.query("SELECT count(*) AS n FROM batch.job_gaps WHERE job = 'mastery-decay'").first!
            #expect(try after.decode("n", as: Int.self) == slots.count - 2)
        }
    }

    @Test("the Prometheus textfile follows the exposition format and holds the values of the history")
    func metricsFile() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await schedule(c)
            try await run(c, job: "mastery-update", status: "succeeded", hoursAgo: 40, rows: 7)
            try await run(c, job: "mastery-update", status: "failed", hoursAgo: 20, error: "boom", rows: 0)
            try await run(c, job: "nightly", status: "succeeded", hoursAgo: 3, rows: 42)
            try await run(c, job: "nightly", status: "succeeded", hoursAgo: 1, dry: true)
            let path = NSTemporaryDirectory() + "metrics-\(db.name).prom"
            try await MetricsTextfile(path: path).write(from: c)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let samples = try PrometheusText.parse(text)
            #expect(samples["studybuddy_batch_last_run_status{job=\"mastery-update\"}"] == 0)
            #expect(samples["studybuddy_batch_last_run_status{job=\"nightly\"}"] == 1)
            #expect(samples["studybuddy_batch_last_run_rows{job=\"nightly\"}"] == 42)
            #expect(samples["studybuddy_batch_last_run_duration_seconds{job=\"nightly\"}"] == 2)
            #expect(samples["studybuddy_batch_runs_total{job=\"mastery-update\",status=\"failed\"}"] == 1)
            #expect(samples["studybuddy_batch_runs_total{job=\"nightly\",status=\"succeeded\"}"] == 1)
            let success = try #require(samples["studybuddy_batch_last_success_timestamp_seconds{job=\"nightly\"}"])
            #expect(abs(success - (Date().timeIntervalSince1970 - 3 * 3600 + 2)) < 120)
            #expect(samples["studybuddy_batch_last_success_timestamp_seconds{job=\"mastery-decay\"}"] == nil)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.contains(".tmp") && $0.contains("metrics-\(db.name)") }
            #expect(leftovers.isEmpty)
        }
    }

    @Test("per-table counts: a dry run reports exactly what the real run then writes, and changes nothing")
    func tableCounts() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "s")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            let before = try await db.snapshot(on: c)
            let runner = try TestRunner(database: db)
            let dry = try await runner.run("mastery-update", .d("2026-11-20"), dryRun: true)
            #expect(try await db.snapshot(on: c) == before)
            let real = try await runner.run("mastery-update", .d("2026-11-20"))
            let expected: [String: RunReport.TableCounts] = [
                "public.mastery_history": .init(inserted: 1, updated: 0, deleted: 0),
                "public.mastery": .init(inserted: 1, updated: 0, deleted: 0),
            ]
            #expect(dry.report?.tables == expected)
            #expect(real.report?.tables == expected)
            let again = try await runner.run("mastery-update", .d("2026-11-20"))
            #expect(again.report?.tables?.isEmpty ?? true)
        }
    }
}

/// A strict reader of the Prometheus text exposition format (0.0.4): every
/// family declared by `# TYPE` before its samples, valid names and label
/// syntax, counters ending in `_total`, no duplicate series, float values.
enum PrometheusText {
    struct Invalid: Error, CustomStringConvertible { let description: String }

    static func parse(_ text: String) throws -> [String: Double] {
        var types: [String: String] = [:]
        var helps: Set<String> = []
        var samples: [String: Double] = [:]
        let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
        let labelPair = #"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*""#
        let sampleRegex = try Regex("^(\(name))(\\{(?:\(labelPair))(?:,\(labelPair))*\\})? (\\S+)$")
        guard text.hasSuffix("\n") else { throw Invalid(description: "the file must end with a newline") }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1)
                guard parts.count == 2, parts[0].wholeMatch(of: try Regex(name)) != nil else { throw Invalid(description: "bad HELP: \(line)") }
                guard helps.insert(String(parts[0])).inserted else { throw Invalid(description: "second HELP for \(parts[0])") }
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[1])) else {
                    throw Invalid(description: "bad TYPE: \(line)")
                }
                guard types[String(parts[0])] == nil else { throw Invalid(description: "second TYPE for \(parts[0])") }
                types[String(parts[0])] = String(parts[1])
            } else if line.hasPrefix("#") || line.isEmpty {
                continue
            } else {
                guard let match = line.wholeMatch(of: sampleRegex) else { throw Invalid(description: "bad sample: \(line)") }
                let family = String(match.output[1].substring ?? "")
                guard let type = types[family] else { throw Invalid(description: "sample before its TYPE: \(line)") }
                if type == "counter" && !family.hasSuffix("_total") { throw Invalid(description: "counter without _total: \(family)") }
                let valueText = String(match.output[match.output.count - 1].substring ?? "")
                guard let value = Double(valueText) else { throw Invalid(description: "bad value: \(line)") }
                let series = String(line[..<line.lastIndex(of: " ")!])
                guard samples.updateValue(value, forKey: series) == nil else { throw Invalid(description: "duplicate series \(series)") }
            }
        }
        return samples
    }
}
