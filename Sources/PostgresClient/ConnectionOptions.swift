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
            if let value = option.pointee.val, key != "password" {
                let text = String(cString: value)
                let quoted = text.isEmpty || text.contains(where: { $0 == " " || $0 == "'" || $0 == "\\" })
                    ? "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
                    : text
                parts.append("\(key)=\(quoted)")
            }
            option = option.advanced(by: 1)
        }
        return parts.joined(separator: " ")
    }

    /// Why libpq cannot parse the conninfo (scrubbed), or nil when it can
    /// (or it is empty: libpq's own rules). A string libpq rejects is a
    /// configuration error, not an unreachable server.
    public var parseError: String? {
        if conninfo.isEmpty { return nil }
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
    /// token: \"...\""): then a quoted token is kept only when it occurs in
    /// the conninfo outside every place a password could be (a URI's user
    /// info after its first colon, anything after a `password` keyword);
    /// any other is replaced.
    func scrub(_ text: String) -> String {
        var result = text
        for secret in secrets where secret.count >= 1 {
            result = result.replacingOccurrences(of: secret, with: "********")
        }
        guard let zones = unparsableSecretZones else { return result }
        let pieces = result.split(separator: "\"", omittingEmptySubsequences: false)
        guard pieces.count >= 3 else { return result }
        var rebuilt = ""
        for (index, piece) in pieces.enumerated() {
            if index > 0 { rebuilt += "\"" }
            let quoted = index % 2 == 1 && index < pieces.count - 1
            rebuilt += quoted && !piece.isEmpty && !isOutside(String(piece), zones) ? "********" : String(piece)
        }
        return rebuilt
    }

    /// True when `token` occurs in the conninfo, and no occurrence overlaps a zone.
    private func isOutside(_ token: String, _ zones: [Range<String.Index>]) -> Bool {
        var found = false
        var from = conninfo.startIndex
        while let range = conninfo.range(of: token, range: from..<conninfo.endIndex) {
            found = true
            if zones.contains(where: { $0.overlaps(range) }) { return false }
            from = conninfo.index(after: range.lowerBound)
        }
        return found
    }

    /// For a conninfo libpq cannot parse: where in it a password could be
    /// (a URI's user info after its first colon, up to the last `@`; all
    /// after a `password` keyword, in a URI's query too). nil when the
    /// string parses: then `secrets` knows the password.
    private var unparsableSecretZones: [Range<String.Index>]? {
        if conninfo.isEmpty { return nil }
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
        if let keyword = conninfo.range(of: "password") {
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
                if String(cString: keyword) == "password", let value = option.pointee.val {
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
