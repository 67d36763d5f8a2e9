import BatchTesting
import Foundation
import PostgresClient

/// Shared pieces of the fault drills (issue 6): a seeded random generator,
/// table contents without bookkeeping timestamps, and the outcome lines that
/// `make drills` prints as a table.
enum Drill {
    /// The logical date the drills run the nightly pipeline for; the CLI's
    /// pinned clock (`CLIProcess`, 2026-11-24T06:00Z) has it over.
    static let day = "2026-11-22"

    /// Columns set to the run's as-of instant or left alone by an unchanged
    /// rerun: the only ones a "same content" comparison may ignore.
    static let bookkeeping = ["computed_at", "updated_at", "decayed_at"]

    /// Every row of `table` as JSON text without the bookkeeping columns,
    /// sorted bytewise: equal dumps mean equal contents.
    static func dump(_ table: String, on connection: Connection) async throws -> [String] {
        let drop = bookkeeping.map { "'\($0)'" }.joined(separator: ", ")
        return try await connection.query("""
            SELECT row FROM (SELECT (to_jsonb(t) - ARRAY[\(drop)]::text[])::text AS row FROM \(table) t) x
            ORDER BY row COLLATE "C"
            """).rows.map { try $0.decode("row", as: String.self) }
    }

    /// Every derived and app table (`TestDatabase.derivedTables + appTables`).
    static func contents(on connection: Connection) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for table in TestDatabase.derivedTables + TestDatabase.appTables {
            result[table] = try await dump(table, on: connection)
        }
        return result
    }

    /// The names of the tables whose contents differ, for readable failures.
    static func differences(_ a: [String: [String]], _ b: [String: [String]]) -> [String] {
        Set(a.keys).union(b.keys).sorted().filter { a[$0] != b[$0] }
            .map { "\($0) (\(a[$0]?.count ?? 0) vs \(b[$0]?.count ?? 0) rows)" }
    }

    /// An integer from the environment (e.g. `STUDYBUDDY_DRILL_KILLS`).
    static func environmentInt(_ name: String) -> Int? {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) }
    }

    /// Appends one outcome line (`drill<TAB>detail`) to the file named by
    /// `STUDYBUDDY_DRILL_RESULTS`, which `scripts/drills` sets; also prints
    /// it. Whether the drill passed is decided by the test's own result,
    /// which the script reads from `swift test`.
    static func record(_ drill: String, _ detail: String) {
        print("drill \(drill): \(detail)")
        guard let path = ProcessInfo.processInfo.environment["STUDYBUDDY_DRILL_RESULTS"], !path.isEmpty else { return }
        let line = Data("\(drill)\t\(detail.replacingOccurrences(of: "\n", with: " "))\n".utf8)
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(line)
            try? handle.close()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: line)
        }
    }

    /// Waits until no backend of the binary (`application_name`
    /// `studybuddy-batch/...`) is left in `database`; returns the seconds it
    /// took, or nil when some were still there after `timeout`.
    static func waitForBatchBackendsToGo(database: String, on connection: Connection,
                                         timeout: TimeInterval = 15) async throws -> TimeInterval? {
        let began = Date()
        while true {
            let left = try await connection.query("""
                SELECT count(*) AS n FROM pg_stat_activity
                WHERE datname = $1 AND application_name LIKE 'studybuddy-batch/%'
                """, [database]).first!.decode("n", as: Int.self)
            if left == 0 { return Date().timeIntervalSince(began) }
            if Date().timeIntervalSince(began) > timeout { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// SplitMix64: a tiny seeded generator, so that a failing drill can be
/// replayed with `STUDYBUDDY_DRILL_SEED=<the printed seed>`.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
