import BatchEngine
import Foundation

/// What the daemon's tasks share: the current config (replaced on SIGHUP),
/// the job that runs now (cancelled when a stop outlasts the grace period),
/// and whether a stop was asked for.
actor DaemonState {
    private(set) var config: BatchConfig
    private(set) var stopping = false
    private(set) var ready = false
    private(set) var status = "starting"
    private var current: Task<Void, Never>?
    private var held: Set<String> = []

    func heldBefore(_ slot: String) -> Bool { held.contains(slot) }
    func markHeld(_ slot: String) { held.insert(slot) }
    func clearHeld(_ slot: String) { held.remove(slot) }

    init(config: BatchConfig) { self.config = config }

    func replaceConfig(_ config: BatchConfig) { self.config = config }
    func markReady() { ready = true }
    func setStatus(_ text: String) { status = text }

    /// Runs `work` as the current job, so that a stop can cancel it.
    func start(_ work: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        let task = Task { await work() }
        current = task
        return task
    }

    func finished() { current = nil }

    /// Stop taking new work; cancel the running job if it has not finished
    /// within `grace` (PQcancel, rollback, recorded `interrupted`).
    func requestStop(grace: Duration) {
        guard !stopping else { return }
        stopping = true
        guard let running = current else { return }
        Task {
            try? await Task.sleep(for: grace)
            running.cancel()
        }
    }
}
