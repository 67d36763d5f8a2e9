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

    /// Removes every occurrence of a known password from `text`.
    func scrub(_ text: String) -> String {
        var result = text
        for secret in secrets where secret.count >= 1 {
            result = result.replacingOccurrences(of: secret, with: "********")
        }
        return result
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
