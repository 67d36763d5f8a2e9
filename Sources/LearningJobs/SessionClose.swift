import BatchEngine
import PostgresClient

/// session-close (every 15 min, and first in the nightly pipeline as of
/// `end_of(D)`): open sessions idle for longer than the timeout are closed at
/// their last activity, never at "now".
///
/// SQL: `sql/jobs/session-close.sql`. Rule: computations.md, "session-close".
public enum SessionClose {
    public static let name = "session-close"

    public static let definition = JobDefinition.sqlFile(
        "jobs/session-close.sql", name: name,
        summary: "close idle open sessions at their last activity",
        kind: .slot
    ) { c in
        ["idle_minutes": c.sessions.idleTimeoutMinutes]
    }
}
