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
        let source: String
        if let flag, !flag.isEmpty { conninfo = flag; source = "--database" }
        else if let url = environment["DATABASE_URL"], !url.isEmpty { conninfo = url; source = "DATABASE_URL" }
        else { conninfo = config.database; source = "the config's `database`" }
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
        // A string libpq rejects (an unknown keyword, a bad URI) is a
        // configuration error: exit 2, so that a timer unit's
        // SuccessExitStatus=75 does not hide it and the daemon's
        // RestartPreventExitStatus=2 stops it, instead of waiting for a
        // database it can never reach.
        if let reason = options.parseError {
            throw BatchError.usage(
                "\(source) is not a valid PostgreSQL connection string: \(reason); "
                    + "write it as key=value pairs (host=... dbname=...) or a postgresql:// URI")
        }
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
