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
///
/// "New in a subject" needs every earlier attempt of the learner; a kept
/// witness per (learner, subject) (`batch.us_first_seen`, migration 0011:
/// the instant of a good attempt) is checked by one probe of an index
/// instead (`attempts_learner_good_idx`, migration 0017), and only the pairs
/// whose witness does not hold read the history, through the same index. So
/// a night's cost follows the day's attempts, neither probe reads the
/// attempts heap where its visibility map is set, and the counts stay those
/// of a from-scratch computation. Witness writes are the counter
/// `first_seen_written`, not `rows_written` (a cache, not output).
public enum UsageStats {
    public static let name = "usage-stats"

    public static let definition = JobDefinition.sqlFile(
        "jobs/usage-stats.sql", name: name, summary: "daily usage per subject and overall",
        kind: .nightly, dependsOn: [SessionClose.name],
        // One snapshot for the whole run: the witness checks, the history
        // probes and the day's counts see the same attempts and questions.
        isolation: "REPEATABLE READ")
}
