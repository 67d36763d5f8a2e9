/// An error from PostgreSQL or libpq, with everything the server said.
///
/// SQLSTATE, detail and hint are kept so that callers can decide (a
/// `40P01` deadlock is retryable, a `23505` is not) and so that run reports
/// can show operators exactly what the server reported.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The connection could not be established.
        case connectionFailed
        /// The connection broke while in use (server restart, network).
        case connectionLost
        /// The server rejected a statement.
        case server
        /// A value in a result row did not have the requested type.
        case decoding
        /// The statement text or its parameters were malformed on our side.
        case usage
    }

    public var kind: Kind
    /// Five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The statement's first line, to say which statement failed (never values).
    public var statement: String?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil,
        hint: String? = nil, statement: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.statement = statement
    }

    /// The connection broke or the server is going away (SQLSTATE class 08,
    /// 57P01-57P03): not the statement's fault; worth trying again later.
    public var isConnectionLoss: Bool {
        if kind == .connectionLost || kind == .connectionFailed { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    /// True when the server cancelled the statement (`PQcancel`, statement
    /// timeout or a shutdown).
    public var isCancellation: Bool { sqlState == "57014" }

    public var description: String {
        var text = message
        if let sqlState { text = "\(text) (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += "; detail: \(detail)" }
        if let hint, !hint.isEmpty { text += "; hint: \(hint)" }
        return text
    }
}
