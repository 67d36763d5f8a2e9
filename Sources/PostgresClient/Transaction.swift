extension Connection {
    /// Runs `body` inside `BEGIN ... COMMIT`. Any error thrown by `body`,
    /// and cancellation of the surrounding task, rolls the transaction back
    /// and is rethrown: nothing of a failed body stays applied.
    @discardableResult
    public func transaction<T: Sendable>(
        isolation: String? = nil,
        _ body: (Connection) async throws -> T
    ) async throws -> T {
        try await query(isolation.map { "BEGIN ISOLATION LEVEL \($0)" } ?? "BEGIN")
        do {
            let value = try await body(self)
            try Task.checkCancellation()
            try await query("COMMIT")
            return value
        } catch {
            await rollbackQuietly()
            throw error
        }
    }

    /// Rolls back whatever is open. It runs even when the calling task is
    /// cancelled, and a dead connection is not an error here: the server
    /// discards an unfinished transaction when its session ends.
    public func rollbackQuietly() async {
        await Task {
            _ = try? await self.query("ROLLBACK")
        }.value
    }
}
