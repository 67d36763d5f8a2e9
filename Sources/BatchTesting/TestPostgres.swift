import BatchEngine
import Foundation
import Logging
import PostgresClient

/// Real PostgreSQL for tests: one throwaway cluster per test process and a
/// fresh database per test, copied from a migrated template (cheap: a file
/// copy on /dev/shm).
///
/// The cluster comes from `STUDYBUDDY_TEST_PGHOST` (set by `make test`,
/// which also stops it), or else is started here through
/// `scripts/pg-cluster` and stopped when the process exits.
public actor TestPostgres {
    public static let shared = TestPostgres()

    private var socketDirectory: String?
    /// Built once; concurrent first callers wait on the same task (the
    /// actor is reentrant across awaits).
    private var template: Task<String, any Error>?
    private var counter = 0

    /// The project's root folder, found from this file's path.
    public nonisolated static var projectRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// `host=... port=... user=postgres dbname=NAME`.
    public func conninfo(database: String) throws -> String {
        "host=\(try host()) user=postgres dbname=\(database)"
    }

    public func host() throws -> String {
        if let socketDirectory { return socketDirectory }
        let environment = ProcessInfo.processInfo.environment
        if let host = environment["STUDYBUDDY_TEST_PGHOST"], !host.isEmpty {
            socketDirectory = host
            return host
        }
        let name = "swifttest-\(getpid())"
        let output = try Self.shell([Self.projectRoot + "/scripts/pg-cluster", "start", name])
        ownedClusterName = name
        atexit {
            if let name = ownedClusterName {
                _ = try? TestPostgres.shell([TestPostgres.projectRoot + "/scripts/pg-cluster", "stop", name])
            }
        }
        let host = output.trimmingCharacters(in: .whitespacesAndNewlines)
        socketDirectory = host
        return host
    }

    /// A new, empty-but-migrated database (app reference tables included).
    public func freshDatabase() async throws -> TestDatabase {
        let template = try await templateDatabase()
        counter += 1
        let name = "t_\(getpid())_\(counter)"
        let admin = try await Connection.connect(ConnectionOptions(conninfo: try conninfo(database: "postgres")))
        try await admin.run("CREATE DATABASE \(name) TEMPLATE \(template)")
        return TestDatabase(name: name, conninfo: try conninfo(database: name), host: try host())
    }

    private func templateDatabase() async throws -> String {
        if let template { return try await template.value }
        let conninfo = try conninfo(database: "postgres")
        let databaseInfo = try self.conninfo(database: "tmpl_\(getpid())")
        let task = Task { try await Self.buildTemplate(admin: conninfo, template: databaseInfo, name: "tmpl_\(getpid())") }
        template = task
        return try await task.value
    }

    private static func buildTemplate(admin conninfo: String, template databaseInfo: String, name: String) async throws -> String {
        let admin = try await Connection.connect(ConnectionOptions(conninfo: conninfo))
        try await admin.run("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try await admin.run("CREATE DATABASE \(name)")
        do {
            let connection = try await Connection.connect(ConnectionOptions(conninfo: databaseInfo))
            var logger = Logger(label: "test-template")
            logger.logLevel = .warning
            _ = try await Migrator(logger: logger).migrate(on: connection, withAppSchema: true)
        }
        return name
    }

    static func shell(_ arguments: [String]) throws -> String {
        let (status, output) = try Spawn.run(arguments)
        guard status == 0 else { throw TestSetupError("\(arguments.joined(separator: " ")) exited \(status)") }
        return output
    }

    /// Runs `body` with a fresh database, and drops it afterwards even when
    /// `body` throws.
    public static func withDatabase<T: Sendable>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        let database = try await shared.freshDatabase()
        do {
            let value = try await body(database)
            await database.drop()
            return value
        } catch {
            await database.drop()
            throw error
        }
    }
}

nonisolated(unsafe) private var ownedClusterName: String?

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One test's database.
public struct TestDatabase: Sendable {
    public let name: String
    public let conninfo: String
    public let host: String

    /// A database of the test cluster made some other way (e.g. a copy made
    /// with `CREATE DATABASE ... TEMPLATE`), so that `connect`, `dump` and
    /// `drop` work on it too.
    public init(name: String, conninfo: String, host: String) {
        self.name = name
        self.conninfo = conninfo
        self.host = host
    }

    public func connect(applicationName: String = "studybuddy-batch-test") async throws -> Connection {
        try await Connection.connect(ConnectionOptions(conninfo: conninfo, applicationName: applicationName))
    }

    public func drop() async {
        guard let admin = try? await Connection.connect(ConnectionOptions(conninfo: "host=\(host) user=postgres dbname=postgres")) else { return }
        _ = try? await admin.run("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Every row of `table` as text, in a stable order: for "nothing
    /// changed" and "same result" comparisons.
    public func dump(_ table: String, on connection: Connection) async throws -> [String] {
        try await connection.query("SELECT t::text AS row FROM \(table) t ORDER BY t::text COLLATE \"C\"")
            .rows.map { try $0.decode("row", as: String.self) }
    }

    /// The tables the jobs write, plus the app's tables.
    public static let derivedTables = ["mastery", "mastery_history", "question_stats", "subcategory_stats",
                                       "importance_index", "plan_units", "session_analytics", "daily_usage"]
    public static let appTables = ["learners", "questions", "sessions", "attempts"]

    /// A snapshot of every derived and app table.
    public func snapshot(on connection: Connection) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for table in Self.derivedTables + Self.appTables { result[table] = try await dump(table, on: connection) }
        return result
    }
}
