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
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(conninfo, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return "<unparsable conninfo>"
        }
        defer { PQconninfoFree(parsed) }
        var parts: [String] = []
        var option = parsed
        while let keyword = option.pointee.keyword {
            let key = String(cString: keyword)
            if let value = option.pointee.val, !Self.secretKeywords.contains(key) {
                parts.append("\(key)=\(Self.quoted(String(cString: value)))")
            }
            option = option.advanced(by: 1)
        }
        return parts.joined(separator: " ")
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

    /// Why libpq cannot parse the conninfo (scrubbed), or nil when it can
    /// (or it is empty: libpq's own rules). A string libpq rejects is a
    /// configuration error, not an unreachable server.
    public var parseError: String? {
        if conninfo.isEmpty || !isConnectionString { return nil }
        var errorMessage: UnsafeMutablePointer<CChar>?
        if let parsed = PQconninfoParse(conninfo, &errorMessage) {
            PQconninfoFree(parsed)
            return nil
        }
        guard let errorMessage else { return "libpq cannot parse it" }
        defer { PQfreemem(errorMessage) }
        return scrub(String(cString: errorMessage).trimmingWhitespace())
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
        guard let zones = unparsableSecretZones, !zones.isEmpty, let quote = result.firstIndex(of: "\"") else { return result }
        return String(result[..<quote]).trimmingWhitespace() + " (the rest of libpq's message is left out: it may quote the password)"
    }

    /// For a conninfo libpq cannot parse: where in it a password could be
    /// (a URI's user info after its first colon, up to the last `@`; all
    /// after a `password` keyword, in a URI's query too). nil when the
    /// string parses: then `secrets` knows the password.
    private var unparsableSecretZones: [Range<String.Index>]? {
        if conninfo.isEmpty || !isConnectionString { return nil }
        var errorMessage: UnsafeMutablePointer<CChar>?
        if let parsed = PQconninfoParse(conninfo, &errorMessage) {
            PQconninfoFree(parsed)
            return nil
        }
        if let errorMessage { PQfreemem(errorMessage) }
        var zones: [Range<String.Index>] = []
        if let scheme = conninfo.range(of: "://"),
           let at = conninfo[scheme.upperBound...].lastIndex(of: "@"),
           let colon = conninfo[scheme.upperBound..<at].firstIndex(of: ":") {
            zones.append(conninfo.index(after: colon)..<at)
        }
        if let keyword = conninfo.range(of: "password") {   // sslpassword too
            zones.append(keyword.upperBound..<conninfo.endIndex)
        }
        return zones
    }

    private var secrets: [String] {
        var list: [String] = []
        if let password, !password.isEmpty { list.append(password) }
        var errorMessage: UnsafeMutablePointer<CChar>?
        if !conninfo.isEmpty, let parsed = PQconninfoParse(conninfo, &errorMessage) {
            defer { PQconninfoFree(parsed) }
            var option = parsed
            while let keyword = option.pointee.keyword {
                if Self.secretKeywords.contains(String(cString: keyword)), let value = option.pointee.val {
                    let text = String(cString: value)
                    if !text.isEmpty { list.append(text) }
                }
                option = option.advanced(by: 1)
            }
        } else if let errorMessage {
            PQfreemem(errorMessage)
        }
        return list
    }
}
