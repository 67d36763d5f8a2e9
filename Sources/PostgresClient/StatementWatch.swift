import Foundation

/// The statements of this process now waiting on PostgreSQL whose
/// connection declared a limit (its `statement_timeout`), with when each
/// began.
///
/// The server ends a statement at its timeout; a statement still waiting
/// well after it means the server cannot answer: a network path that died
/// without a reset, or a stopped backend. libpq would wait forever. The
/// daemon's watchdog reads `overdue(margin:)` and stops sending WATCHDOG=1,
/// so systemd restarts the daemon instead of leaving it stuck with its
/// pings going (interface.md: the pings "stop when the daemon's own loop
/// stalls"). Process-wide, like the watchdog it serves; a lock guards it.
/// Times are on the suspending clock: a suspended host does not make a
/// statement look late. COMMIT and ROLLBACK are not watched (no timeout
/// applies to the commit itself).
public final class StatementWatch: @unchecked Sendable {
    public static let shared = StatementWatch()

    private struct Entry {
        var since: SuspendingClock.Instant
        var limit: Duration
    }

    private let lock = NSLock()
    private var nextToken = 0
    private var running: [Int: Entry] = [:]

    private init() {}

    /// Starts watching a statement that may take up to `limit`; nil (no
    /// limit) watches nothing.
    func begin(limit: Duration?, at now: SuspendingClock.Instant = .now) -> Int? {
        guard let limit else { return nil }
        lock.lock()
        defer { lock.unlock() }
        nextToken += 1
        running[nextToken] = Entry(since: now, limit: limit)
        return nextToken
    }

    func end(_ token: Int?) {
        guard let token else { return }
        lock.lock()
        running[token] = nil
        lock.unlock()
    }

    /// How long the statement furthest past its limit plus `margin` has
    /// been waiting, or nil when none is.
    public func overdue(margin: Duration, at now: SuspendingClock.Instant = .now) -> Duration? {
        lock.lock()
        defer { lock.unlock() }
        let late = running.values.filter { now - $0.since > $0.limit + margin }
        return late.map { now - $0.since }.max()
    }
}
