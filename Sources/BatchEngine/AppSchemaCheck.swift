import PostgresClient

/// The app's columns that the jobs read (interface.md, "App tables the jobs
/// read"). Against an existing app database, `migrate` and every job start
/// check them first, so a mismatch is named up front instead of failing
/// halfway through a night.
public enum AppSchemaCheck {
    public static let requiredColumns: [String: [String]] = [
        "learners": ["id", "daily_goal", "created_at"],
        "questions": ["id", "subject", "topic", "subcategory"],
        // topic, units, created_at, updated_at and user_answer only for the
        // bad-row test ("a NULL where the table has none", migration 0013)
        "sessions": ["id", "learner_id", "subject", "topic", "started_at", "ended_at", "duration_sec", "end_reason",
                     "units", "created_at", "updated_at"],
        "attempts": ["id", "learner_id", "question_id", "session_id", "attempt_no", "context", "user_answer",
                     "correct", "time_sec", "hint_used", "created_at"],
    ]

    public static func verify(on connection: Connection) async throws {
        let rows = try await connection.query("""
            SELECT table_name::text AS t, column_name::text AS c
            FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = ANY($1::text[])
            """, [Array(requiredColumns.keys)]).rows
        var present: Set<String> = []
        for row in rows { present.insert("\(try row.decode("t", as: String.self)).\(try row.decode("c", as: String.self))") }
        var missing: [String] = []
        for (table, columns) in requiredColumns.sorted(by: { $0.key < $1.key }) {
            for column in columns where !present.contains("\(table).\(column)") { missing.append("public.\(table).\(column)") }
        }
        if !missing.isEmpty {
            throw BatchError.usage(
                "the app tables lack columns the jobs read: \(missing.joined(separator: ", ")). "
                + "Point --database at the app's database, or for a new or demo database run `studybuddy-batch migrate --with-app-schema`")
        }
    }
}
