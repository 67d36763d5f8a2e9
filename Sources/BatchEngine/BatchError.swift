import PostgresClient

/// The exit codes of interface.md.
public enum ExitStatus: Int32, Sendable {
    /// Success, also "nothing to do".
    case success = 0
    /// A job failed.
    case jobFailed = 1
    /// Usage or config error.
    case usage = 2
    /// Could not run now: database unreachable, or the job is held elsewhere.
    case tryLater = 75
}

/// An expected failure with the exit code it maps to and a message that
/// tells a person what was wrong and what to do. Printed without a stack.
public struct BatchError: Error, Sendable, CustomStringConvertible {
    public var status: ExitStatus
    public var message: String

    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    public static func usage(_ message: String) -> BatchError { BatchError(.usage, message) }

    /// Maps any error to an exit status and a one-line message.
    public static func classify(_ error: any Error) -> BatchError {
        switch error {
        case let e as BatchError: return e
        case let e as ConfigError: return BatchError(.usage, e.message)
        case let e as PostgresError where e.isConnectionLoss:
            return BatchError(.tryLater, e.description)
        case let e as PostgresError: return BatchError(.jobFailed, e.description)
        default: return BatchError(.jobFailed, String(describing: error))
        }
    }
}
