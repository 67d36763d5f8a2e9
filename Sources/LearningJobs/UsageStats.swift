import BatchEngine
import PostgresClient

/// usage-stats (nightly, for D): `daily_usage` per subject and `'*'`,
/// replacing the day's rows as a whole.
///
/// SQL: `sql/jobs/usage-stats.sql`. Formulas: computations.md, "usage-stats".
/// A session counts (under its own `sessions.subject`, and under `'*'`) when
/// it started on D and has an attempt on D; a subject's row exists only when
/// its questions were answered on D, while the `'*'` row is written for every
/// processed day (zeros and NULL ratios on a day without attempts).
public enum UsageStats {
    public static let name = "usage-stats"

    public static let definition = JobDefinition.sqlFile(
        "jobs/usage-stats.sql", name: name, summary: "daily usage per subject and overall",
        kind: .nightly, dependsOn: [SessionClose.name])
}
