import CLibPQ

/// How to reach the database: a conninfo string or URI (empty means libpq's
/// own rules: `PG*` variables, the service file, `.pgpass`), plus the
/// settings every connection of the daemon carries.
public struct ConnectionOptions: Sendable {
    public var conninfo: String
    /// Shown in `pg_stat_activity`; the daemon uses `studybuddy-batch/JOB`.
    public var applicationName: String
    /// A password from outside the conninfo (systemd credentials). Never logged.
    public var password: String?
    public var connectTimeoutSeconds: Int

    public init(conninfo: String = "", applicationName: String = "studybuddy-batch",
                password: String? = nil, connectTimeoutSeconds: Int = 10) {
        self.conninfo = conninfo
        self.applicationName = applicationName
        self.password = password
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// The conninfo with any password removed, for run rows and messages.
    /// A string libpq cannot parse is not echoed at all (it might hold a
    /// secret in a form we do not recognise).
    public var redacted: String {
        if conninfo.isEmpty { return "" }
        if !isConnectionString { return "dbname=" + Self.quoted(conninfo) }
        guard let pairs = parsed.pairs else { return "<unparsable conninfo>" }
        return pairs.filter { !Self.secretKeywords.contains($0.key) }
            .map { "\($0.key)=\(Self.quoted($0.value))" }.joined(separator: " ")
    }

    /// A conninfo value, single-quoted when it must be.
    static func quoted(_ text: String) -> String {
        text.isEmpty || text.contains(where: { $0 == " " || $0 == "'" || $0 == "\\" })
            ? "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
            : text
    }

    /// The keywords whose values are secrets: the password, and the
    /// passphrase of the client's SSL key.
    static let secretKeywords: Set<String> = ["password", "sslpassword"]

    /// libpq expands a dbname only when it looks like a connection string
    /// (a URI, or it holds an `=`); anything else is a plain database name.
    var isConnectionString: Bool {
        conninfo.hasPrefix("postgresql://") || conninfo.hasPrefix("postgres://") || conninfo.contains("=")
    }

    /// The conninfo as libpq reads it: its set keywords and values, or
    /// libpq's reason why it cannot (unscrubbed: pass it through `scrub`).
    private var parsed: (pairs: [(key: String, value: String)]?, error: String?) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            defer { if let errorMessage { PQfreemem(errorMessage) } }
            return (nil, errorMessage.map { String(cString: $0).trimmingWhitespace() } ?? "libpq cannot parse it")
        }
        defer { PQconninfoFree(options) }
        var pairs: [(key: String, value: String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { pairs.append((String(cString: keyword), String(cString: value))) }
            option = option.advanced(by: 1)
        }
        return (pairs, nil)
    }

    /// Why libpq cannot parse the conninfo (scrubbed), or nil when it can
    /// (or it is empty: libpq's own rules). A string libpq rejects is a
    /// configuration error, not an unreachable server.
    public var parseError: String? {
        if conninfo.isEmpty || !isConnectionString { return nil }
        return parsed.error.map(scrub)
    }

    /// Removes every occurrence of a known password from `text`. When the
    /// conninfo cannot be parsed, its password is not known, and libpq's
    /// message quotes the token it choked on ("invalid percent-encoded
    /// token: \"...\""), which may be the password or part of it (a
    /// password may hold quotes too). Then, if the string has a place a
    /// password could be, the message is cut before its first quote.
    func scrub(_ text: String) -> String {
        var result = text
        for secret in secrets where secret.count >= 1 {
            result = result.replacingOccurrences(of: secret, with: "********")
        }
        guard unparsableMayHoldPassword, let quote = result.firstIndex(of: "\"") else { return result }
        return String(result[..<quote]).trimmingWhitespace() + " (the rest of libpq's message is left out: it may quote the password)"
    }

    /// For a conninfo libpq cannot parse: whether it has a place a password
    /// could be (a URI's user info with a colon before the last `@`; a
    /// `password` keyword, `sslpassword` too, in a URI's query as well).
    /// False when the string parses: then `secrets` knows the password.
    private var unparsableMayHoldPassword: Bool {
        if conninfo.isEmpty || !isConnectionString || parsed.pairs != nil { return false }
        if let scheme = conninfo.range(of: "://"), let at = conninfo[scheme.upperBound...].lastIndex(of: "@"),
           conninfo[scheme.upperBound..<at].contains(":") {
            return true
        }
        return conninfo.contains("password")
    }

    private var secrets: [String] {
        var list: [String] = []
        if let password, !password.isEmpty { list.append(password) }
        if !conninfo.isEmpty, let pairs = parsed.pairs {
            list += pairs.filter { Self.secretKeywords.contains($0.key) && !$0.value.isEmpty }.map(\.value)
        }
        return list
    }
}
