import BatchEngine
import Foundation
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
        transactional: false,
        run: run)

    /// Learners per batch: a batch updates their mastery rows (tens per
    /// learner) in one short transaction, so the app never waits long on a
    /// row lock.
    static let learnersPerBatch = 2_000

    @Sendable static func run(_ context: JobContext) async throws {
        let c = context.config
        guard let step = sql.steps.first, let statement = step.statements.last else { return }
        try await context.step(step.name) { _ in
            var counts = StepCounts()
            var after: UUID?
            repeat {
                let parameters: [String: any PostgresEncodable] = [
                    "half_life": c.decay.halfLifeDays, "floor_ratio": c.decay.floorRatio,
                    "batch_learners": learnersPerBatch, "after_learner": after,
                ]
                let row = try await context.batch { connection in
                    try await connection.query(named: statement,
                                               context.baseParameters.merging(parameters) { _, new in new }).first!
                }
                counts.rowsRead += try row.decode("rows_read", as: Int.self)
                counts.rowsWritten += try row.decode("rows_written", as: Int.self)
                after = try row.decode("last_learner", as: UUID?.self)
                await context.progress(rows: counts.rowsRead)
            } while after != nil
            return counts
        }
    }
}
