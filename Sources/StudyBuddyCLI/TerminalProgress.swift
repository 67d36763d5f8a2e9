import Foundation

/// Progress lines on a terminal: shown only once a run has been going for
/// a couple of seconds, so quick runs print just their summary.
final class TerminalProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var runStarted = Date()

    /// Only on an interactive terminal, and not under systemd (there the
    /// daemon reports progress through STATUS=).
    static var isWanted: Bool {
        isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["JOURNAL_STREAM"] == nil
    }

    func report(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        if !text.contains(" step ") { runStarted = Date() }
        guard Date().timeIntervalSince(runStarted) >= 2 else { return }
        FileHandle.standardError.write(Data("… \(text)\n".utf8))
    }
}
