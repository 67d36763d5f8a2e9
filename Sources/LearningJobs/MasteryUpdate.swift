import BatchEngine
import PostgresClient

/// mastery-update (nightly, for logical date D): the EWMA mastery of every
/// (learner, subcategory) practised on D, with decay over idle days.
///
/// SQL: `sql/jobs/mastery-update.sql`. Formula: computations.md,
/// "mastery-update". One transaction per logical date; a rerun of an older
/// date recomputes the later history dates of the pairs it touches.
public enum MasteryUpdate {
    public static let name = "mastery-update"

    public static let definition = JobDefinition.sqlFile(
        "jobs/mastery-update.sql", name: name,
        summary: "EWMA mastery per learner and subcategory for the logical date (history and anchor)",
        kind: .nightly
    ) { c in
        ["alpha": c.mastery.alpha, "hint_credit": c.mastery.hintCredit, "initial": c.mastery.initial,
         "contexts": c.mastery.contexts, "half_life": c.decay.halfLifeDays, "floor_ratio": c.decay.floorRatio]
    }
}
