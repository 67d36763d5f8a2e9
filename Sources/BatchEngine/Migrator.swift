import BatchSQL
import Logging
import PostgresClient

/// One numbered file of `sql/app` or `sql/migrations`.
public struct Migration: Sendable {
    public enum Set: String, Sendable, CaseIterable {
        /// The app's reference tables (`migrate --with-app-schema`).
        case app
        /// Our own tables, views and indexes.
        case batch

        var folder: String { self == .app ? "app" : "migrations" }
    }

    public let set: Set
    public let version: Int
    public let name: String
    public let sql: String
    /// False when the file starts with `-- studybuddy:no-transaction`
    /// (e.g. `CREATE INDEX CONCURRENTLY`): its statements run one by one.
    public let transactional: Bool

    /// The migrations this binary carries, in order.
    public static func all(in set: Set) -> [Migration] {
        SQLFiles.paths(in: set.folder).compactMap { path in
            let file = String(path.dropFirst(set.folder.count + 1))
            guard let number = Int(file.prefix { $0.isNumber }) else { return nil }
            let text = SQLFiles.text(path)
            return Migration(set: set, version: number, name: file, sql: text,
                             transactional: !text.hasPrefix("-- studybuddy:no-transaction"))
        }.sorted { $0.version < $1.version }
    }

    /// The newest version of our own set: the schema this binary expects.
    public static var expectedBatchVersion: Int { all(in: .batch).last?.version ?? 0 }
}

/// Applies pending migrations in order, each in its own transaction, and
/// records them with a checksum. Concurrent runs are serialized by an
/// advisory lock; a file changed after it was applied is refused.
public struct Migrator: Sendable {
    public let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public struct Outcome: Sendable {
        public var applied: [String] = []
        public var alreadyApplied = 0
    }

    public static let lockKey = AdvisoryLockKey(name: "migrate")

    public func migrate(on connection: Connection, withAppSchema: Bool) async throws -> Outcome {
        try await waitForLock(on: connection)
        do {
            let outcome = try await migrateLocked(on: connection, withAppSchema: withAppSchema)
            _ = try? await connection.advisoryUnlock(Self.lockKey)
            return outcome
        } catch {
            _ = try? await connection.advisoryUnlock(Self.lockKey)
            throw error
        }
    }

    /// Polls for the migrate lock instead of blocking in `pg_advisory_lock`:
    /// a waiting statement holds a snapshot, and `CREATE INDEX CONCURRENTLY`
    /// in the holder's migration would wait for that snapshot: a deadlock.
    private func waitForLock(on connection: Connection) async throws {
        var waited = false
        while try await !connection.tryAdvisoryLock(Self.lockKey) {
            if !waited {
                logger.info("another migrate is running; waiting for it to finish")
                waited = true
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func migrateLocked(on connection: Connection, withAppSchema: Bool) async throws -> Outcome {
        try await connection.run(SQLFiles.text("bootstrap.sql"))
        var outcome = Outcome()
        let sets: [Migration.Set] = withAppSchema ? [.app, .batch] : [.batch]
        var recorded = try await Self.recorded(on: connection)
        try Self.refuseNewerSchema(recorded)
        for set in sets {
            if set == .batch { try await AppSchemaCheck.verify(on: connection) }
            for migration in Migration.all(in: set) {
                let checksum = try await Self.checksum(migration.sql, on: connection)
                if let existing = recorded[set]?[migration.version] {
                    guard existing.checksum == checksum else {
                        throw BatchError.usage(
                            "sql/\(set.folder)/\(migration.name) was changed after it was applied "
                            + "(recorded sha256 \(existing.checksum.prefix(12))…, file \(checksum.prefix(12))…). "
                            + "Applied migrations must not change: restore the file and put the change in a new numbered migration.")
                    }
                    outcome.alreadyApplied += 1
                    continue
                }
                try await apply(migration, checksum: checksum, on: connection)
                outcome.applied.append("\(set.folder)/\(migration.name)")
                recorded[set, default: [:]][migration.version] = Recorded(name: migration.name, checksum: checksum)
            }
        }
        return outcome
    }

    private func apply(_ migration: Migration, checksum: String, on connection: Connection) async throws {
        logger.info("applying sql/\(migration.set.folder)/\(migration.name)")
        let record = """
            INSERT INTO batch.schema_migrations (migration_set, version, name, checksum)
            VALUES ($1, $2, $3, $4)
            """
        let values: [any PostgresEncodable] = [migration.set.rawValue, migration.version, migration.name, checksum]
        do {
            if migration.transactional {
                try await connection.transaction { tx in
                    try await tx.run(migration.sql)
                    try await tx.query(record, values)
                }
            } else {
                for statement in SQLText.statements(migration.sql) {
                    try await connection.run(statement)
                }
                try await connection.query(record, values)
            }
        } catch let error as PostgresError {
            // A non-transactional file keeps the statements before the one
            // that failed; each is written to be rerun (IF [NOT] EXISTS).
            let outcome = migration.transactional
                ? "failed and was rolled back"
                : "failed (not recorded; its statements before the failing one stay applied and are safe to rerun: fix the cause and run migrate again)"
            throw BatchError(.jobFailed, "migration sql/\(migration.set.folder)/\(migration.name) \(outcome): \(error)")
        }
    }

    struct Recorded: Sendable {
        var name: String
        var checksum: String
    }

    static func recorded(on connection: Connection) async throws -> [Migration.Set: [Int: Recorded]] {
        var result: [Migration.Set: [Int: Recorded]] = [:]
        let rows = try await connection.query(
            "SELECT migration_set, version, name, checksum FROM batch.schema_migrations").rows
        for row in rows {
            guard let set = Migration.Set(rawValue: try row.decode("migration_set", as: String.self)) else { continue }
            result[set, default: [:]][try row.decode("version", as: Int.self)] =
                Recorded(name: try row.decode("name"), checksum: try row.decode("checksum"))
        }
        return result
    }

    static func refuseNewerSchema(_ recorded: [Migration.Set: [Int: Recorded]]) throws {
        let newest = recorded[.batch]?.keys.max() ?? 0
        if newest > Migration.expectedBatchVersion {
            throw BatchError.usage(
                "the database schema is at migration \(newest), newer than this binary's \(Migration.expectedBatchVersion); "
                + "install the studybuddy-batch version that applied it")
        }
    }

    /// sha256 of the file's UTF-8 bytes, hex: equal to `sha256sum FILE`.
    static func checksum(_ text: String, on connection: Connection) async throws -> String {
        try await connection.query("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS sum", [text])
            .first!.decode("sum")
    }

    /// Refuses to run jobs against a schema that is behind or ahead of the
    /// binary, naming what to do.
    public static func verifyCurrent(on connection: Connection) async throws {
        let exists = try await connection.query("SELECT to_regclass('batch.schema_migrations') IS NOT NULL AS present")
            .first!.decode("present", as: Bool.self)
        guard exists else {
            throw BatchError.usage("the database has no studybuddy-batch schema yet; run `studybuddy-batch migrate` first")
        }
        let recorded = try await recorded(on: connection)
        try refuseNewerSchema(recorded)
        let missing = Migration.all(in: .batch).filter { recorded[.batch]?[$0.version] == nil }
        if !missing.isEmpty {
            throw BatchError.usage(
                "\(missing.count) migration(s) are pending (first: sql/migrations/\(missing[0].name)); run `studybuddy-batch migrate`")
        }
    }
}
