import BatchEngine
import PostgresClient

/// importance-index (nightly, for D, after mastery-update and
/// learning-impact): the importance of every active (learner, subcategory)
/// and the plan for D+1, the learner's daily goal split over the top
/// subcategories by the largest remainder method.
///
/// SQL: `sql/jobs/importance-index.sql`. Formula: computations.md,
/// "importance-index"; a plan for today or earlier is never replaced
/// (interface.md), judged by `:today`.
public enum ImportanceIndex {
    public static let name = "importance-index"

    public static let definition = JobDefinition.sqlFile(
        "jobs/importance-index.sql", name: name,
        summary: "importance per learner and subcategory, and tomorrow's practice plan",
        kind: .nightly, dependsOn: [MasteryUpdate.name, LearningImpact.name]
    ) { c in
        ["target": c.importance.target, "w_gap": c.importance.wGap, "w_due": c.importance.wDue,
         "w_impact": c.importance.wImpact, "active_days": c.importance.activeDays, "top": c.importance.top,
         "default_daily_goal": c.importance.defaultDailyGoal, "half_life": c.decay.halfLifeDays,
         "floor_ratio": c.decay.floorRatio]
    }
}
