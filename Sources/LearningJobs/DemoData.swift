import BatchEngine
import BatchSQL
import PostgresClient

/// Deterministic synthetic app data for the demo, tests and benchmarks:
/// `sql/demo/demo-data.sql`, run in one transaction.
public enum DemoData {
    public struct Counts: Sendable {
        public var learners: Int
        public var questions: Int
        public var sessions: Int
        public var attempts: Int
    }

    public static func load(on connection: Connection, learners: Int, days: Int, seed: Int, endDate: LocalDate,
                            timezone: String) async throws -> Counts {
        let statements = SQLText.statements(SQLFiles.text("demo/demo-data.sql"))
        let parameters: [String: any PostgresEncodable] = [
            "learners": learners, "days": days, "seed": seed, "end_date": endDate, "tz": timezone,
        ]
        return try await connection.transaction { tx in
            var last: QueryResult?
            for statement in statements {
                last = try await tx.query(named: statement, parameters)
            }
            guard let row = last?.first else {
                throw BatchError(.jobFailed, "sql/demo/demo-data.sql must end with a SELECT of the row counts")
            }
            return Counts(learners: try row.decode("learners"), questions: try row.decode("questions"),
                          sessions: try row.decode("sessions"), attempts: try row.decode("attempts"))
        }
    }
}
