import BatchEngine
import PostgresClient

/// mastery-decay (every 6 h, as of slot instant T): `current_score` of every
/// mastery row, decayed from its anchor over the real time elapsed since
/// `end_of(last_practiced_on)`. A pure function of the anchor and T: running
/// twice, or skipping a slot, gives the same values; rows that would not
/// change are not rewritten.
///
/// SQL: `sql/jobs/mastery-decay.sql`. Formula: computations.md, "mastery-decay".
public enum MasteryDecay {
    public static let name = "mastery-decay"
    static let sql = JobSQL("jobs/mastery-decay.sql")

    public static let definition = JobDefinition(
        name: name,
        summary: "decayed current_score of every mastery row as of the slot instant T",
        kind: .slot,
        schedule: "slot",
        steps: sql.stepNames,
        run: run)

    @Sendable static func run(_ context: JobContext) async throws {
        let c = context.config
        try await context.runSteps(sql, parameters: [
            "half_life": c.decay.halfLifeDays,
            "floor_ratio": c.decay.floorRatio,
        ])
    }
}
