import CLibPQ
import Dispatch
import Foundation

/// One PostgreSQL connection over libpq.
///
/// libpq calls block, so they never run on Swift's cooperative pool: every
/// use of the `PGconn` happens on this connection's private serial dispatch
/// queue, and async callers wait on a continuation. That keeps the pool free
/// for signal handling and watchdog pings while a long statement runs, and it
/// is why the class can be `Sendable`: the handle is only touched on `queue`
/// (or in `deinit`, when no operation can still hold `self`). Cancelling the
/// waiting task sends `PQcancel` through libpq's thread-safe cancel object.
///
/// A connection runs one statement at a time; statements from concurrent
/// tasks are serialized in arrival order.
public final class Connection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let cancelHandle: OpaquePointer?
    private let queue: DispatchQueue
    private let options: ConnectionOptions
    /// `host:port/database`, for messages (never the password).
    public let endpoint: String
    /// The server process id of this session (`pg_backend_pid()`).
    public let backendPID: Int32

    private init(handle: OpaquePointer, queue: DispatchQueue, options: ConnectionOptions, endpoint: String) {
        self.handle = handle
        self.queue = queue
        self.options = options
        self.endpoint = endpoint
        self.cancelHandle = PQgetCancel(handle)
        self.backendPID = PQbackendPID(handle)
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        PQfinish(handle)
    }

    /// Opens a connection, with the session settings the batch relies on:
    /// UTC and ISO output (the decoders parse it), and
    /// `client_connection_check_interval` so that the backend of a killed
    /// client stops soon and frees its locks.
    public static func connect(_ options: ConnectionOptions) async throws -> Connection {
        let queue = DispatchQueue(label: "studybuddy.postgres.connection")
        let connection: Connection = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try open(options, queue: queue) })
            }
        }
        try await connection.run(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; "
                + "SET extra_float_digits = 1; SET client_connection_check_interval = '2s'")
        return connection
    }

    private static func open(_ options: ConnectionOptions, queue: DispatchQueue) throws -> Connection {
        // TCP keepalives that notice a dead server or network path within
        // about two minutes, instead of the kernel's two hours; while a
        // long statement runs the server's kernel answers the probes. They
        // come before dbname, so a conninfo that sets them wins (libpq
        // applies the keywords in order). Unix sockets ignore them.
        var keywords = ["keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                        "dbname", "application_name", "connect_timeout", "client_encoding"]
        var values = ["1", "60", "10", "6", "120000",
                      options.conninfo, options.applicationName, String(options.connectTimeoutSeconds), "UTF8"]
        if let password = options.password {
            keywords.append("password")
            values.append(password)
        }
        let handle: OpaquePointer? = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let handle else {
            throw PostgresError(kind: .connectionFailed, message: "could not allocate a libpq connection")
        }
        let endpoint = describe(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = options.scrub(String(cString: PQerrorMessage(handle)).trimmingWhitespace())
            PQfinish(handle)
            throw PostgresError(
                kind: .connectionFailed,
                message: "cannot connect to PostgreSQL at \(endpoint): \(reason)",
                hint: "check --database, DATABASE_URL, the config's `database` or the PG* variables, and that the server is running")
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        return Connection(handle: handle, queue: queue, options: options, endpoint: endpoint)
    }

    private static func describe(_ handle: OpaquePointer) -> String {
        let host = PQhost(handle).map { String(cString: $0) } ?? ""
        let port = PQport(handle).map { String(cString: $0) } ?? ""
        let db = PQdb(handle).map { String(cString: $0) } ?? ""
        return "\(host.isEmpty ? "localhost" : host):\(port.isEmpty ? "5432" : port)/\(db)"
    }

    // MARK: Statements

    /// Runs one statement with positional parameters (`$1`, `$2`, ...).
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> QueryResult {
        let texts = parameters.map(\.postgresText)
        return try await perform(watched: !Self.endsTransaction(sql)) { handle in
            try Connection.execParams(handle, sql, texts, self.options)
        }
    }

    /// Runs one statement with named parameters (`:name`), each bound from
    /// `parameters`. A name without a value is an error, not a NULL.
    @discardableResult
    public func query(named sql: String, _ parameters: [String: any PostgresEncodable]) async throws -> QueryResult {
        let (text, names) = SQLText.positional(sql)
        var values: [any PostgresEncodable] = []
        for name in names {
            guard let value = parameters[name] else {
                throw PostgresError(kind: .usage, message: "statement needs parameter :\(name), which was not given",
                                    statement: Connection.firstLine(sql))
            }
            values.append(value)
        }
        return try await query(text, values)
    }

    /// Runs a script of several statements without parameters (migrations,
    /// session settings). The simple protocol runs them as one implicit
    /// transaction unless the script says otherwise.
    public func run(_ script: String) async throws {
        _ = try await perform(watched: !Self.endsTransaction(script)) { handle in
            let result = PQexec(handle, script)
            return try Connection.collect(result, handle, script, self.options)
        }
    }

    /// Asks the server to cancel the statement that is running now, if any.
    /// Safe from any thread.
    public func cancel() {
        guard let cancelHandle else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancelHandle, &buffer, Int32(buffer.count))
    }

    /// False once the server or network has dropped the connection.
    public var isAlive: Bool {
        get async {
            await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: PQstatus(self.handle) == CONNECTION_OK) }
            }
        }
    }

    /// The longest a statement of this connection may wait: its
    /// `statement_timeout`, declared by whoever set it (nil: no limit).
    /// Statements with a limit are watched (`StatementWatch`).
    public var statementLimit: Duration? {
        get { limitLock.withLock { limit } }
        set { limitLock.withLock { limit = newValue } }
    }
    private let limitLock = NSLock()
    nonisolated(unsafe) private var limit: Duration?

    /// COMMIT and ROLLBACK run without statement_timeout (PostgreSQL turns
    /// it off for the commit itself: a synchronous standby may hold it), so
    /// they are not watched.
    static func endsTransaction(_ sql: String) -> Bool {
        ["COMMIT", "ROLLBACK", "END", "ABORT"].contains(sql.trimmingWhitespace().uppercased())
    }

    private func perform(watched: Bool = true,
                         _ work: @escaping @Sendable (OpaquePointer) throws -> QueryResult) async throws -> QueryResult {
        try Task.checkCancellation()
        let operation = StatementState()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    guard operation.begin() else {
                        continuation.resume(throwing: CancellationError())
                        return
                    }
                    // Watched from when it reaches the server, not while queued behind another.
                    let token = StatementWatch.shared.begin(limit: watched ? self.statementLimit : nil)
                    let result = Result { try work(self.handle) }
                    StatementWatch.shared.end(token)
                    operation.finish()
                    continuation.resume(with: result)
                }
            }
        } onCancel: {
            // A cancel request that reaches the server before the statement
            // does is ignored, so keep asking until the statement returns.
            operation.cancel()
            DispatchQueue.global().async {
                while operation.whileRunning({ self.cancel() }) {
                    usleep(200_000)
                }
            }
        }
    }

    private static func execParams(_ handle: OpaquePointer, _ sql: String, _ parameters: [String?],
                                   _ options: ConnectionOptions) throws -> QueryResult {
        let pointers: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
        defer { pointers.forEach { free($0) } }
        let result: OpaquePointer? = pointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { buffer in
            PQexecParams(handle, sql, Int32(parameters.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        return try collect(result, handle, sql, options)
    }

    private static func collect(_ result: OpaquePointer?, _ handle: OpaquePointer, _ sql: String,
                                _ options: ConnectionOptions) throws -> QueryResult {
        guard let result else {
            throw lostOrFailed(handle, sql, options)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return copy(result)
        default:
            func field(_ code: Character) -> String? {
                PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
            }
            let message = field("M") ?? String(cString: PQresultErrorMessage(result)).trimmingWhitespace()
            // No SQLSTATE: libpq made the error up itself, which means the
            // connection broke ("server closed the connection unexpectedly").
            let lost = PQstatus(handle) != CONNECTION_OK || field("C") == nil
            let state = field("C") ?? "08006"
            throw PostgresError(
                kind: lost ? .connectionLost : .server,
                sqlState: state,
                message: options.scrub(message.isEmpty ? String(cString: PQerrorMessage(handle)).trimmingWhitespace() : message),
                detail: field("D").map(options.scrub),
                hint: field("H"),
                statement: firstLine(sql))
        }
    }

    private static func lostOrFailed(_ handle: OpaquePointer, _ sql: String, _ options: ConnectionOptions) -> PostgresError {
        let message = options.scrub(String(cString: PQerrorMessage(handle)).trimmingWhitespace())
        let lost = PQstatus(handle) != CONNECTION_OK
        return PostgresError(kind: lost ? .connectionLost : .server,
                             sqlState: lost ? "08006" : nil,
                             message: message.isEmpty ? "no result from the server" : message,
                             statement: firstLine(sql))
    }

    private static func copy(_ result: OpaquePointer) -> QueryResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        var types: [UInt32] = []
        for c in 0..<columnCount {
            columns.append(String(cString: PQfname(result, Int32(c))))
            types.append(UInt32(PQftype(result, Int32(c))))
        }
        var rows: [Row] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            rows.append(Row(columns: columns, columnTypes: types, values: values))
        }
        let tag = String(cString: PQcmdStatus(result))
        let tuples = String(cString: PQcmdTuples(result))
        let affected = Int(tuples) ?? rowCount
        return QueryResult(columns: columns, columnTypes: types, rows: rows, commandTag: tag, affectedRows: affected)
    }

    static func firstLine(_ sql: String) -> String {
        let line = sql.split(whereSeparator: \.isNewline).first(where: {
            let t = $0.trimmingCharacters(in: .whitespaces)
            return !t.isEmpty && !t.hasPrefix("--")
        }).map(String.init) ?? sql
        return String(line.trimmingWhitespace().prefix(120))
    }
}

/// The life of one statement, shared by the queue that runs it and the
/// cancellation handler: not started, running, or finished.
private final class StatementState: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var running = false
    private var finished = false

    /// False when the task was cancelled before the statement started.
    func begin() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if cancelled { finished = true; return false }
        running = true
        return true
    }

    func finish() {
        lock.lock()
        running = false
        finished = true
        lock.unlock()
    }

    func cancel() {
        lock.lock()
        cancelled = true
        lock.unlock()
    }

    /// Runs `body` (a cancel request) only while the statement runs, never
    /// after it finished; false once it has.
    func whileRunning(_ body: () -> Void) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if finished { return false }
        if running { body() }
        return true
    }
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { duplicated.forEach { free($0) } }
    return duplicated.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
}
