import Foundation
import PostgresClient

/// Names the sessions that most likely blocked a job whose lock wait ran
/// out (drill 4 of issue 6), for the run report and the run row's error.
///
/// When `lock_timeout` (SQLSTATE 55P03) or `statement_timeout` (57014)
/// ends a statement, the statement is rolled back and its backend no longer
/// waits, so `pg_blocking_pids(failed pid)` is usually empty by the time the
/// runner looks. The blocker, though, normally still holds its lock. So the
/// description lists, besides whatever `pg_blocking_pids` still reports,
/// every other session in the same database that holds a granted lock
/// stronger than ACCESS SHARE on a table of the `public` or `batch` schema:
/// only such a lock can block the jobs' reads and writes (a row lock taken
/// by an UPDATE or `SELECT ... FOR UPDATE` comes with ROW EXCLUSIVE or ROW
/// SHARE on its table). These are candidates, not proof: a session that
/// writes other rows of the same table is listed too.
///
/// Other users' query text needs `pg_read_all_stats` (see sql/roles.sql);
/// without it PostgreSQL shows `<insufficient privilege>`.
public enum LockDiagnostics {
    /// `lock_not_available` and `query_canceled` (statement timeout).
    public static let sqlStates: Set<String> = ["55P03", "57014"]

    /// At most this many sessions are named; longer query texts are cut.
    static let maxSessions = 5
    static let maxQueryCharacters = 200

    /// A one-line description of the sessions holding locks, when `error`
    /// is a lock or statement timeout; nil for any other error, for no
    /// error, and when the run was cancelled (a daemon stop is not a lock
    /// problem). Runs on `connection` (the failed job's own, after its
    /// rollback); `excluding` lists other backends of this run (its
    /// recorder). Never throws: a diagnosis must not hide the failure.
    public static func describe(_ error: (any Error)?, on connection: Connection, excluding: [Int32] = []) async -> String? {
        guard let error = error as? PostgresError, let state = error.sqlState, sqlStates.contains(state),
              !Task.isCancelled else { return nil }
        do {
            let rows = try await connection.query("""
                WITH ours AS (
                    SELECT oid FROM pg_database WHERE datname = current_database()
                ), holders AS (
                    SELECT unnest(pg_blocking_pids(pg_backend_pid())) AS pid
                    UNION
                    SELECT l.pid
                    FROM pg_locks l
                    JOIN pg_class c ON c.oid = l.relation
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE l.granted AND l.locktype = 'relation' AND l.mode <> 'AccessShareLock'
                      AND l.database = (SELECT oid FROM ours) AND n.nspname IN ('public', 'batch')
                )
                SELECT a.pid,
                       coalesce(a.state, '?') AS state,
                       coalesce(a.usename::text, '?') AS usename,
                       coalesce(a.application_name, '') AS application_name,
                       coalesce(extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::float8, 0) AS seconds,
                       left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), $2::int) AS query,
                       (SELECT string_agg(c.relname || ' ' || l.mode, ', ' ORDER BY c.relname COLLATE "C", l.mode)
                        FROM pg_locks l
                        JOIN pg_class c ON c.oid = l.relation
                        JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE l.pid = a.pid AND l.granted AND l.locktype = 'relation' AND l.mode <> 'AccessShareLock'
                          AND n.nspname IN ('public', 'batch')) AS locks
                FROM pg_stat_activity a
                JOIN holders h ON h.pid = a.pid
                WHERE a.pid <> pg_backend_pid() AND a.pid <> ALL($1::int4[])
                ORDER BY a.xact_start NULLS LAST, a.pid
                LIMIT $3::int
                """, [excluding.map { String($0) }, maxQueryCharacters, maxSessions]).rows
            let what = state == "55P03" ? "the lock wait ran out" : "the statement timed out"
            guard !rows.isEmpty else {
                return "\(what) (SQLSTATE \(state)); no other session holds a lock on a public or batch table now (the blocker has gone)"
            }
            let sessions = try rows.map { row -> String in
                var text = "pid \(try row.decode("pid", as: Int32.self)) (user \(try row.decode("usename", as: String.self))"
                let application = try row.decode("application_name", as: String.self)
                if !application.isEmpty { text += ", application \(application)" }
                text += ", \(try row.decode("state", as: String.self))"
                text += String(format: " for %.0f s", try row.decode("seconds", as: Double.self))
                if let locks = try row.decode("locks", as: String?.self) { text += ", holds \(locks)" }
                return text + "): \(try row.decode("query", as: String.self))"
            }
            return "\(what) (SQLSTATE \(state)); sessions holding locks on public/batch tables: " + sessions.joined(separator: "; ")
        } catch {
            return "could not list the sessions holding locks: \(error)"
        }
    }
}
