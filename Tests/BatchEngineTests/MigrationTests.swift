import BatchEngine
import BatchTesting
import Foundation
import Logging
import PostgresClient
import Testing

@Suite("migrations")
struct MigrationTests {
    let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }()

    /// A database with nothing in it (not from the migrated template).
    func emptyDatabase(_ db: TestDatabase) async throws -> Connection {
        let c = try await db.connect()
        try await c.run("DROP SCHEMA batch CASCADE; DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        return c
    }

    @Test("applies every file in order, records name and sha256, and a second run applies nothing")
    func orderAndIdempotence() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await emptyDatabase(db)
            let first = try await Migrator(logger: logger).migrate(on: c, withAppSchema: true)
            let expected = Migration.all(in: .app).map { "app/\($0.name)" } + Migration.all(in: .batch).map { "migrations/\($0.name)" }
            #expect(first.applied == expected)
            #expect(Migration.all(in: .batch).map(\.version) == Migration.all(in: .batch).map(\.version).sorted())
            let rows = try await c.query("SELECT migration_set, version, checksum FROM batch.schema_migrations ORDER BY applied_at, version").rows
            #expect(rows.count == expected.count)
            for row in rows { #expect(try row.decode("checksum", as: String.self).count == 64) }
            let second = try await Migrator(logger: logger).migrate(on: c, withAppSchema: true)
            #expect(second.applied.isEmpty)
            #expect(second.alreadyApplied == expected.count)
            try await Migrator.verifyCurrent(on: c)
        }
    }

    @Test("importance_index, rewritten whole every night, leaves room in each page for HOT updates")
    func fillfactor() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let rows = try await c.query("""
                SELECT relname, coalesce(array_to_string(reloptions, ','), '') AS options FROM pg_class
                WHERE relname IN ('importance_index', 'mastery') AND relnamespace = 'public'::regnamespace ORDER BY relname
                """).rows
            #expect(try rows.map { "\(try $0.decode("relname", as: String.self)): \(try $0.decode("options", as: String.self))" }
                    == ["importance_index: fillfactor=50", "mastery: "])
        }
    }

    @Test("session_analytics' autovacuum thresholds are fixed (1000 rows, no scale factor): they follow a night's writes, not the table's size")
    func sessionAnalyticsAutovacuum() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let options = try await c.query("""
                SELECT coalesce(array_to_string(reloptions, ','), '') AS options FROM pg_class
                WHERE relname = 'session_analytics' AND relnamespace = 'public'::regnamespace
                """).rows.first?.decode("options", as: String.self)
            #expect(options.map { Set($0.split(separator: ",").map(String.init)) } == [
                "autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=1000",
                "autovacuum_vacuum_insert_scale_factor=0", "autovacuum_vacuum_insert_threshold=1000"])
        }
    }

    @Test("0017 refuses an index of its name that is not its own, leaves the old index and column until then, and a rerun completes it, granted to the batch role")
    func usageStatsIndexRerun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await c.run("""
                DO $$ BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'studybuddy_batch') THEN
                        CREATE ROLE studybuddy_batch NOLOGIN;
                    END IF;
                END $$;
                """)
            // As after 0016, with a DBA's index under 0017's name (or a failed build's).
            try await c.run("""
                DELETE FROM batch.schema_migrations WHERE migration_set = 'batch' AND version = 17;
                DROP INDEX public.attempts_learner_good_idx;
                CREATE INDEX attempts_learner_good_idx ON public.attempts (learner_id, created_at);
                CREATE INDEX attempts_learner_created_idx ON public.attempts (learner_id, created_at);
                ALTER TABLE batch.us_first_seen ADD COLUMN attempt_id uuid;
                """)
            func exists(_ sql: String) async throws -> Bool {
                try await c.query("SELECT (\(sql)) AS x").first!.decode("x", as: Bool.self)
            }
            do {
                _ = try await Migrator(logger: logger).migrate(on: c, withAppSchema: false)
                Issue.record("an index that is not 0017's must be refused")
            } catch let error as BatchError {
                #expect(error.message.contains("0017_usage_stats_first_seen_index.sql failed (not recorded"), "\(error.message)")
                #expect(error.message.contains("attempts_learner_good_idx is invalid or not the one migration 0017 builds"), "\(error.message)")
            }
            #expect(try await exists("to_regclass('public.attempts_learner_created_idx') IS NOT NULL"))
            #expect(try await exists("EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'batch.us_first_seen'::regclass AND attname = 'attempt_id' AND NOT attisdropped)"))
            // The hint's way out: drop it, migrate again.
            try await c.run("DROP INDEX public.attempts_learner_good_idx")
            let again = try await Migrator(logger: logger).migrate(on: c, withAppSchema: false)
            #expect(again.applied == ["migrations/0017_usage_stats_first_seen_index.sql"])
            #expect(try await exists("to_regclass('public.attempts_learner_created_idx') IS NULL"))
            #expect(try await exists("NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'batch.us_first_seen'::regclass AND attname = 'attempt_id' AND NOT attisdropped)"))
            #expect(try await exists("(SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.attempts_learner_good_idx'::regclass)"))
            #expect(try await exists("has_table_privilege('studybuddy_batch', 'batch.us_good_attempt_keys', 'SELECT')"))
            try await Migrator.verifyCurrent(on: c)
        }
    }

    @Test("an applied file that changed afterwards is refused with a clear error")
    func checksumRefusal() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await c.query("UPDATE batch.schema_migrations SET checksum = repeat('0', 64) WHERE migration_set = 'batch' AND version = 2")
            do {
                _ = try await Migrator(logger: logger).migrate(on: c, withAppSchema: false)
                Issue.record("a changed migration must be refused")
            } catch let error as BatchError {
                #expect(error.status == .usage)
                #expect(error.message.contains("0002_derived_tables.sql was changed after it was applied"))
            }
        }
    }

    @Test("concurrent migrate calls are serialized: each migration is applied exactly once")
    func concurrent() async throws {
        try await TestPostgres.withDatabase { db in
            _ = try await emptyDatabase(db)
            let logger = self.logger
            try await withThrowingTaskGroup(of: Migrator.Outcome.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        let c = try await db.connect()
                        return try await Migrator(logger: logger).migrate(on: c, withAppSchema: true)
                    }
                }
                var applied: [String] = []
                for try await outcome in group { applied += outcome.applied }
                #expect(applied.count == Set(applied).count)
                #expect(applied.count == Migration.all(in: .app).count + Migration.all(in: .batch).count)
            }
        }
    }

    @Test("jobs refuse a schema that is behind or ahead of the binary")
    func versionChecks() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await c.query("INSERT INTO batch.schema_migrations (migration_set, version, name, checksum) VALUES ('batch', 9999, '9999_future.sql', 'x')")
            await #expect(throws: BatchError.self) { try await Migrator.verifyCurrent(on: c) }
            try await c.query("DELETE FROM batch.schema_migrations WHERE version IN (9999, 4)")
            do {
                try await Migrator.verifyCurrent(on: c)
                Issue.record("a pending migration must be reported")
            } catch let error as BatchError {
                #expect(error.message.contains("pending") && error.message.contains("studybuddy-batch migrate"))
            }
        }
    }

    @Test("against an app database that lacks a column the jobs read, migrate names it")
    func appColumns() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await emptyDatabase(db)
            try await c.run("""
                CREATE TABLE learners (id uuid PRIMARY KEY, daily_goal int, created_at timestamptz);
                CREATE TABLE questions (id uuid PRIMARY KEY, subject text, topic text, subcategory text);
                CREATE TABLE sessions (id uuid PRIMARY KEY, learner_id uuid, subject text, topic text, started_at timestamptz,
                                       ended_at timestamptz, duration_sec int, end_reason text, units jsonb,
                                       created_at timestamptz, updated_at timestamptz);
                CREATE TABLE attempts (id uuid PRIMARY KEY, learner_id uuid, question_id uuid, session_id uuid,
                                       attempt_no int, context text, user_answer text, correct bool, time_sec int,
                                       created_at timestamptz);
                """)
            do {
                _ = try await Migrator(logger: logger).migrate(on: c, withAppSchema: false)
                Issue.record("a missing app column must be named")
            } catch let error as BatchError {
                #expect(error.message.contains("public.attempts.hint_used"))
            }
            try await c.run("ALTER TABLE attempts ADD COLUMN hint_used bool")
            let outcome = try await Migrator(logger: logger).migrate(on: c, withAppSchema: false)
            #expect(outcome.applied.count == Migration.all(in: .batch).count)
        }
    }
}

@Suite("config")
struct ConfigTests {
    @Test("an empty file gives every default of the spec")
    func defaults() throws {
        let c = try ConfigLoader.parse("")
        #expect(c == BatchConfig())
        #expect(c.mastery.alpha == 0.6 && c.mastery.contexts == ["session"] && c.decay.halfLifeDays == 14)
        #expect(c.retention.batchSize == 10_000 && c.catchup.maxDays == 7 && c.schedule.nightly == "02:00")
    }

    @Test("deploy/config.example.toml lists every key with its default")
    func exampleConfig() throws {
        let text = try String(contentsOfFile: TestPostgres.projectRoot + "/deploy/config.example.toml", encoding: .utf8)
        #expect(try ConfigLoader.parse(text) == BatchConfig())
    }

    @Test("values are read, and [timeouts.JOB] starts from [timeouts]")
    func values() throws {
        let c = try ConfigLoader.parse("""
            timezone = "Europe/Berlin"
            [timeouts.cleanup]
            lock_seconds = 3
            [timeouts]
            statement_seconds = 100
            [mastery]
            alpha = 0.5
            contexts = ["session", "daily"]
            """)
        #expect(c.timezone == "Europe/Berlin")
        #expect(c.mastery.alpha == 0.5 && c.mastery.contexts == ["session", "daily"])
        #expect(c.timeouts(for: "cleanup").lockSeconds == 3)
        #expect(c.timeouts(for: "cleanup").statementSeconds == 100)
        #expect(c.timeouts(for: "mastery-update").lockSeconds == 10)
    }

    @Test("unknown keys, wrong types, bad values and broken TOML name the key", arguments: [
        ("colour = 1", "colour"),
        ("[mastery]\nalpah = 0.5", "mastery.alpah"),
        ("[nosuch]\na = 1", "nosuch"),
        ("[mastery]\nalpha = \"high\"", "mastery.alpha"),
        ("[mastery]\nalpha = 1.5", "mastery.alpha"),
        ("timezone = \"Mars/Olympus\"", "timezone"),
        ("[schedule]\nnightly = \"25:00\"", "schedule.nightly"),
        ("[mastery]\ncontexts = [\"homework\"]", "mastery.contexts"),
        ("[importance]\nw_gap = -0.5", "importance.w_gap"),
        ("[importance]\nw_impact = 1e9", "importance.w_impact"),
        ("[sessions]\ntarget_accuracy = 1.5", "sessions.target_accuracy"),
        ("[sessions]\nband_min_attempts = 0", "sessions.band_min_attempts"),
        ("[sessions]\nvelocity_min_attempts = -1", "sessions.velocity_min_attempts"),
        ("[retention]\nbatch_size = 50000", "retention.batch_size"),
        ("[timeouts.cleanup]\nwait = 1", "timeouts.cleanup.wait"),
        ("[mastery\nalpha = 0.5", "line 1"),
    ])
    func errors(text: String, key: String) {
        do {
            _ = try ConfigLoader.parse(text)
            Issue.record("\(text) must be rejected")
        } catch let error as ConfigError {
            #expect(error.message.contains(key), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
