/// PostgreSQL advisory locks in the two-key form, with a constant first key
/// so that the batch's locks never collide with an application's.
public struct AdvisoryLockKey: Sendable, Hashable, CustomStringConvertible {
    /// "SBB1": the namespace of every lock studybuddy-batch takes.
    public static let namespace: Int32 = 0x5342_4231

    public let namespace: Int32
    public let key: Int32

    public init(namespace: Int32 = AdvisoryLockKey.namespace, key: Int32) {
        self.namespace = namespace
        self.key = key
    }

    /// The key for a name (a job, "migrate"), by 32-bit FNV-1a over its
    /// UTF-8 bytes: stable across processes, hosts and versions.
    public init(name: String) {
        var hash: UInt32 = 2_166_136_261
        for byte in name.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        self.init(key: Int32(bitPattern: hash))
    }

    public var description: String { "(\(namespace), \(key))" }
}

extension Connection {
    /// Takes a session-level lock without waiting; true when it was free.
    /// Held until `advisoryUnlock` or the session ends.
    public func tryAdvisoryLock(_ key: AdvisoryLockKey) async throws -> Bool {
        try await query("SELECT pg_try_advisory_lock($1::int, $2::int) AS locked", [key.namespace, key.key])
            .first!.decode("locked", as: Bool.self)
    }

    /// Waits for a session-level lock.
    public func advisoryLock(_ key: AdvisoryLockKey) async throws {
        try await query("SELECT pg_advisory_lock($1::int, $2::int)", [key.namespace, key.key])
    }

    @discardableResult
    public func advisoryUnlock(_ key: AdvisoryLockKey) async throws -> Bool {
        try await query("SELECT pg_advisory_unlock($1::int, $2::int) AS unlocked", [key.namespace, key.key])
            .first!.decode("unlocked", as: Bool.self)
    }

    /// Takes a transaction-level lock without waiting (released at COMMIT or
    /// ROLLBACK); true when it was free. Call inside `transaction`.
    public func tryAdvisoryTransactionLock(_ key: AdvisoryLockKey) async throws -> Bool {
        try await query("SELECT pg_try_advisory_xact_lock($1::int, $2::int) AS locked", [key.namespace, key.key])
            .first!.decode("locked", as: Bool.self)
    }

    /// Waits for a transaction-level lock. Call inside `transaction`.
    public func advisoryTransactionLock(_ key: AdvisoryLockKey) async throws {
        try await query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [key.namespace, key.key])
    }

    /// The server pid holding a session-level lock, if any.
    public func advisoryLockHolder(_ key: AdvisoryLockKey) async throws -> Int32? {
        try await query("""
            SELECT pid FROM pg_locks
            WHERE locktype = 'advisory' AND classid = ($1::int)::oid AND objid = ($2::int)::oid
              AND objsubid = 2 AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            LIMIT 1
            """, [key.namespace, key.key]).first?.decode("pid", as: Int32.self)
    }
}
