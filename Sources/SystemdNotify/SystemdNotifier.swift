import CSystemd
import Foundation

/// The sd_notify protocol for `Type=notify` services, through libsystemd.
///
/// Outside systemd (`NOTIFY_SOCKET` unset) every call is a cheap no-op, so
/// the same code runs from a terminal, a timer unit or the daemon.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// True when systemd (or a test) listens on `NOTIFY_SOCKET`.
    public var isEnabled: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    /// Sends `state`, e.g. `READY=1` or `STATUS=idle`; newlines in a STATUS
    /// are folded so that the status stays one line.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard isEnabled else { return false }
        return sd_notify(0, state) > 0
    }

    public func ready(status: String? = nil) {
        notify(["READY=1", status.map { "STATUS=" + Self.oneLine($0) }].compactMap { $0 }.joined(separator: "\n"))
    }

    public func status(_ text: String) { notify("STATUS=" + Self.oneLine(text)) }
    public func stopping() { notify("STOPPING=1") }
    public func reloading() { notify("RELOADING=1") }
    public func watchdog() { notify("WATCHDOG=1") }

    /// Asks systemd for more time to start or stop.
    public func extendTimeout(seconds: Double) {
        notify("EXTEND_TIMEOUT_USEC=\(UInt64(seconds * 1_000_000))")
    }

    /// The watchdog interval systemd expects pings within, if enabled.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
