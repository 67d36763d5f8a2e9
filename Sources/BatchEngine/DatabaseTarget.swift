import Foundation
import PostgresClient

/// Where the database is, by the precedence of interface.md: `--database`,
/// else `DATABASE_URL`, else the config's `database`, else libpq's own rules.
/// Under systemd, `$CREDENTIALS_DIRECTORY/db-password` supplies the password.
public struct DatabaseTarget: Sendable {
    public var options: ConnectionOptions

    public init(flag: String?, config: BatchConfig,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let conninfo: String
        if let flag, !flag.isEmpty { conninfo = flag }
        else if let url = environment["DATABASE_URL"], !url.isEmpty { conninfo = url }
        else { conninfo = config.database }
        var password: String?
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let path = (directory as NSString).appendingPathComponent("db-password")
            if FileManager.default.fileExists(atPath: path) {
                guard let data = FileManager.default.contents(atPath: path),
                      let text = String(data: data, encoding: .utf8) else {
                    throw BatchError.usage("cannot read the credential \(path); check LoadCredential= in the unit")
                }
                password = text.trimmingCharacters(in: .newlines)
            }
        }
        options = ConnectionOptions(conninfo: conninfo, password: password)
    }

    /// Options for one purpose, e.g. `studybuddy-batch/mastery-update`.
    public func options(for purpose: String) -> ConnectionOptions {
        var copy = options
        copy.applicationName = "studybuddy-batch/\(purpose)"
        return copy
    }

    /// Connects; an unreachable server is exit 75 with libpq's reason.
    public func connect(for purpose: String) async throws -> Connection {
        do {
            return try await Connection.connect(options(for: purpose))
        } catch let error as PostgresError {
            throw BatchError(.tryLater, error.message + (error.hint.map { " (\($0))" } ?? ""))
        }
    }

    /// The connection as recorded in run rows: no password, ever.
    public var redacted: String { options.redacted }
}
