/// The rows and counts of one statement, copied out of libpq's result so
/// that it can travel between tasks.
public struct QueryResult: Sendable {
    public let columns: [String]
    public let columnTypes: [UInt32]
    public let rows: [Row]
    /// The command tag, e.g. `INSERT 0 3`.
    public let commandTag: String
    /// Rows inserted, updated or deleted (the command tag's count); for a
    /// SELECT the number of rows returned.
    public let affectedRows: Int

    public var first: Row? { rows.first }
}

/// One result row. Columns are read by name, with a typed decode that names
/// the column when the value is NULL or of another type.
public struct Row: Sendable {
    let columns: [String]
    let columnTypes: [UInt32]
    let values: [String?]

    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        let index = try position(of: column)
        guard let text = values[index] else {
            throw PostgresError(kind: .decoding, message: "column \"\(column)\" is NULL, expected \(T.self)")
        }
        return try convert(text, column: column, index: index)
    }

    public func decode<T: PostgresDecodable>(_ column: String, as type: T?.Type) throws -> T? {
        let index = try position(of: column)
        guard let text = values[index] else { return nil }
        return try convert(text, column: column, index: index) as T
    }

    /// The raw text of a column, nil for NULL.
    public func text(_ column: String) throws -> String? {
        values[try position(of: column)]
    }

    /// Every column as text (nil for NULL), in order: for dumps and tests.
    public var allText: [String?] { values }

    private func position(of column: String) throws -> Int {
        guard let index = columns.firstIndex(of: column) else {
            throw PostgresError(
                kind: .decoding,
                message: "no column \"\(column)\" in result (columns: \(columns.joined(separator: ", ")))")
        }
        return index
    }

    private func convert<T: PostgresDecodable>(_ text: String, column: String, index: Int) throws -> T {
        let oid = columnTypes[index]
        if let accepted = T.acceptedTypes, !accepted.contains(oid) {
            throw PostgresError(
                kind: .decoding,
                message: "column \"\(column)\" has type oid \(oid), which cannot be read as \(T.self)")
        }
        guard let value = T(postgresText: text) else {
            throw PostgresError(
                kind: .decoding, message: "column \"\(column)\" value \"\(text.prefix(80))\" is not a valid \(T.self)")
        }
        return value
    }
}
