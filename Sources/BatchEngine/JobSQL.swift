import BatchSQL
import PostgresClient

/// A job's SQL file, `sql/jobs/JOB.sql`, cut into steps.
///
/// A line `-- step: NAME` starts a step; a step holds one or more
/// statements separated by `;`. Statements bind named parameters
/// (`:day`, `:tz`, ...), never spliced values. What a statement returns
/// feeds the run's counts: columns `rows_read` and `rows_written` add up,
/// columns `bad_<reason>` count excluded input rows, any other integer
/// column adds up under its name in `counters` (e.g. `plans_kept`), and an
/// INSERT, UPDATE or DELETE without such columns counts its affected rows
/// as written.
///
/// A column `bind_<name>` of a one-row result is not counted: its value
/// becomes the parameter `:<name>` of every later statement of the run.
/// A value computed by the job (learning-impact's first day to build) then
/// reaches the planner as a value, not as a subquery it must guess at: a
/// range on an index is planned as the range it is.
public struct JobSQL: Sendable {
    public struct Step: Sendable {
        public let name: String
        public let statements: [String]
    }

    public let path: String
    public let steps: [Step]

    /// `sql/<path>` as embedded in the binary.
    public init(_ path: String) {
        self.init(path: path, text: SQLFiles.text(path))
    }

    /// `text` cut into steps; `path` names it in errors and docs.
    public init(path: String, text: String) {
        self.path = path
        var steps: [Step] = []
        var name: String?
        var body = ""
        func close() {
            if let name { steps.append(Step(name: name, statements: SQLText.statements(body))) }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("-- step:") {
                close()
                name = trimmed.dropFirst("-- step:".count).trimmingCharacters(in: .whitespaces)
                body = ""
            } else {
                body += line + "\n"
            }
        }
        close()
        self.steps = steps
    }

    public var stepNames: [String] { steps.map(\.name) }

    /// The prefix of result columns that bind a parameter for later statements.
    static let bindPrefix = "bind_"

    /// The `bind_<name>` columns of a result's first row, as parameters (text; the SQL casts them).
    static func bindings(_ result: QueryResult) throws -> [String: any PostgresEncodable] {
        guard let row = result.first else { return [:] }
        var bound: [String: any PostgresEncodable] = [:]
        for column in result.columns where column.hasPrefix(bindPrefix) {
            // updateValue, not a subscript: assigning nil through one would drop the key, not bind NULL.
            let value = try row.decode(column, as: String?.self)
            bound.updateValue(value as any PostgresEncodable, forKey: String(column.dropFirst(bindPrefix.count)))
        }
        return bound
    }
}

/// What one step did.
public struct StepCounts: Sendable, Codable, Equatable {
    public var rowsRead: Int = 0
    public var rowsWritten: Int = 0
    /// Input rows excluded, by reason.
    public var badRows: [String: Int] = [:]
    /// Other counts a job reports (integer result columns), by column name.
    public var counters: [String: Int] = [:]

    public init(rowsRead: Int = 0, rowsWritten: Int = 0, badRows: [String: Int] = [:], counters: [String: Int] = [:]) {
        self.rowsRead = rowsRead
        self.rowsWritten = rowsWritten
        self.badRows = badRows
        self.counters = counters
    }

    mutating func add(_ result: QueryResult) throws {
        var counted = false
        if let row = result.first {
            for column in result.columns where !column.hasPrefix(JobSQL.bindPrefix) {
                if column == "rows_read" {
                    rowsRead += try row.decode(column, as: Int?.self) ?? 0
                    counted = true
                } else if column == "rows_written" {
                    rowsWritten += try row.decode(column, as: Int?.self) ?? 0
                    counted = true
                } else if column.hasPrefix("bad_") {
                    let n = try row.decode(column, as: Int?.self) ?? 0
                    if n > 0 { badRows[String(column.dropFirst(4)), default: 0] += n }
                    counted = true
                } else if let index = result.columns.firstIndex(of: column),
                          [PostgresType.int2, PostgresType.int4, PostgresType.int8].contains(result.columnTypes[index]) {
                    counters[column, default: 0] += try row.decode(column, as: Int?.self) ?? 0
                    counted = true
                }
            }
        }
        let verb = result.commandTag.split(separator: " ").first ?? ""
        if !counted, ["INSERT", "UPDATE", "DELETE", "MERGE"].contains(verb) {
            rowsWritten += result.affectedRows
        }
    }
}
