import BatchEngine
import PostgresClient

/// learning-impact (nightly, for D): `question_stats` (smoothed first-attempt
/// accuracy and difficulty over the 90 days ending with D) and
/// `subcategory_stats` (pooled accuracy, and the learning-curve slope over
/// each learner's first attempts in the subcategory, or NULL with a reason).
///
/// SQL: `sql/jobs/learning-impact.sql`. Formula: computations.md, "learning-impact".
public enum LearningImpact {
    public static let name = "learning-impact"

    public static let definition = JobDefinition.sqlFile(
        "jobs/learning-impact.sql", name: name,
        summary: "question difficulty and subcategory learning impact from first attempts",
        kind: .nightly
    ) { c in
        ["window_days": c.difficulty.windowDays, "prior_weight": c.difficulty.priorWeight,
         "global_prior": c.difficulty.globalPrior, "provisional_below": c.difficulty.provisionalBelow,
         "max_opportunity": c.impact.maxOpportunity, "min_per_opportunity": c.impact.minPerOpportunity,
         "min_opportunities": c.impact.minOpportunities]
    }
}
