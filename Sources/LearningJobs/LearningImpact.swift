import BatchEngine
import PostgresClient

/// learning-impact (nightly, for D): `question_stats` (smoothed first-attempt
/// accuracy and difficulty over the 90 days ending with D) and
/// `subcategory_stats` (pooled accuracy, and the learning-curve slope over
/// each learner's first attempts in the subcategory, or NULL with a reason).
///
/// The 90-day window and the all-history learning curves are sums over
/// incremental aggregates (`batch.li_*`, migration 0009), so a night's cost
/// follows the day's attempts: each run rebuilds its day and fills any
/// earlier day never built. Aggregate writes are reported as the counter
/// `aggregate_rows`, not as `rows_written` (they are a cache, not output).
///
/// SQL: `sql/jobs/learning-impact.sql`. Formula: computations.md, "learning-impact".
public enum LearningImpact {
    public static let name = "learning-impact"

    public static let definition = JobDefinition.sqlFile(
        "jobs/learning-impact.sql", name: name,
        summary: "question difficulty and subcategory learning impact from first attempts",
        kind: .nightly,
        // One snapshot for the whole run: the aggregates, the questions and
        // the stats are read as of one instant (it writes only its own tables).
        isolation: "REPEATABLE READ"
    ) { c in
        ["window_days": c.difficulty.windowDays, "prior_weight": c.difficulty.priorWeight,
         "global_prior": c.difficulty.globalPrior, "provisional_below": c.difficulty.provisionalBelow,
         "max_opportunity": c.impact.maxOpportunity, "min_per_opportunity": c.impact.minPerOpportunity,
         "min_opportunities": c.impact.minOpportunities]
    }
}
