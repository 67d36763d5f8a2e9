import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// importance-index on small hand-computed cases (computations.md,
/// "importance-index"; interface.md for kept plans). Inputs are written
/// straight into mastery_history and subcategory_stats, and each run first
/// puts the mastery anchors where mastery-update keeps them (the pair's
/// newest history row; the job reads the latest row up to D from there);
/// expected doubles are computed in Swift with the spec's operation order.
@Suite("importance-index")
struct ImportanceIndexTests {
    static let job = "importance-index"
    static let day = LocalDate.d("2026-11-20")
    /// Wall clock on D itself: the plan for D+1 is in the future, so replaceable.
    static let beforePlanDay = ISOInstant.parse("2026-11-20T12:00:00Z")!
    /// Wall clock on D+1: an existing plan for D+1 is kept.
    static let onPlanDay = ISOInstant.parse("2026-11-21T06:00:00Z")!

    // MARK: reference formulas

    struct Ref {
        var gap: Double, due: Double, liNorm: Double, importance: Double
        var w: Int { Int((importance * 1e12 + 0.5).rounded(.down)) }
    }

    static func ref(_ m0: Double, days: Int, liNorm: Double = 0) -> Ref {
        let p = pow(2, -min(Double(days) / 14, 1000))
        let f = 0.5 * m0
        let mEff = f + (m0 - f) * p
        let gap = max(0, min(1, (0.8 - mEff) / 0.8))
        let due = 1 - p
        return Ref(gap: gap, due: due, liNorm: liNorm, importance: 0.5 * gap + 0.3 * due + 0.2 * liNorm)
    }

    /// Largest remainder: quota over weights (in rank order), exact integers
    /// (128-bit: a quota of 2e9 times a w of 1e12 does not fit 64 bits).
    static func split(_ quota: Int, _ weights: [Int]) -> [Int] {
        let wide = weights.map { Int128($0) }
        let w = wide.reduce(0, +) == 0 ? wide.map { _ in Int128(1) } : wide
        let total = w.reduce(0, +)
        let big = Int128(quota)
        var q = w.map { big * $0 / total }
        let r = w.indices.map { big * w[$0] - q[$0] * total }
        let leftover = Int(big - q.reduce(0, +))
        let order = w.indices.sorted { r[$0] != r[$1] ? r[$0] > r[$1] : $0 < $1 }
        for i in order.prefix(leftover) { q[i] += 1 }
        return q.map { Int($0) }
    }

    // MARK: helpers

    func history(_ c: Connection, learner: Int = 1, _ sub: String, _ date: String, _ score: Double) async throws {
        try await c.query("""
            INSERT INTO mastery_history (learner_id, subcategory, recorded_date, mastery_score, attempts, correct, performance)
            VALUES ($1, $2, $3::date, $4, 1, 1, 1)
            """, [Fixture.id("l", learner), sub, date, score])
    }

    func impact(_ c: Connection, _ sub: String, _ li: Double?) async throws {
        try await c.query("""
            INSERT INTO subcategory_stats (subcategory, as_of, first_attempts, first_correct, pooled_accuracy, learning_impact)
            VALUES ($1, '2026-11-20', 0, 0, 0.5, $2)
            """, [sub, li])
    }

    struct IndexRow: Equatable {
        var sub: String, asOf: String, importance: Double, gap: Double, due: Double, liNorm: Double, rank: Int
    }

    /// The learner's importance_index rows by rank.
    func index(_ c: Connection, learner: Int = 1) async throws -> [IndexRow] {
        try await c.query("""
            SELECT subcategory, as_of::text AS as_of, importance, gap, due, li_norm, rank FROM importance_index
            WHERE learner_id = $1 ORDER BY rank
            """, [Fixture.id("l", learner)]).rows.map {
            IndexRow(sub: try $0.decode("subcategory"), asOf: try $0.decode("as_of"), importance: try $0.decode("importance"),
                     gap: try $0.decode("gap"), due: try $0.decode("due"), liNorm: try $0.decode("li_norm"),
                     rank: try $0.decode("rank"))
        }
    }

    func row(_ sub: String, _ r: Ref, rank: Int, asOf: String = "2026-11-20") -> IndexRow {
        IndexRow(sub: sub, asOf: asOf, importance: r.importance, gap: r.gap, due: r.due, liNorm: r.liNorm, rank: rank)
    }

    struct PlanRow: Equatable {
        var sub: String, questions: Int, rank: Int, importance: Double
    }

    /// The learner's plan for `date` by rank.
    func plan(_ c: Connection, learner: Int = 1, _ date: String = "2026-11-21") async throws -> [PlanRow] {
        try await c.query("""
            SELECT subcategory, questions, rank, importance FROM plan_units
            WHERE learner_id = $1 AND plan_date = $2::date ORDER BY rank
            """, [Fixture.id("l", learner), date]).rows.map {
            PlanRow(sub: try $0.decode("subcategory"), questions: try $0.decode("questions"), rank: try $0.decode("rank"),
                    importance: try $0.decode("importance"))
        }
    }

    /// The mastery rows as mastery-update leaves them beside its history:
    /// one per pair with history, its newest row's score and date (README,
    /// "mastery and mastery_history go together").
    func syncAnchors(_ db: TestDatabase) async throws {
        let c = try await db.connect()
        try await c.query("""
            DELETE FROM mastery m
            WHERE NOT EXISTS (SELECT 1 FROM mastery_history h
                              WHERE h.learner_id = m.learner_id AND h.subcategory = m.subcategory)
            """)
        try await c.query("""
            INSERT INTO mastery AS m (learner_id, subcategory, mastery_score, last_practiced_on, current_score,
                                      decayed_at, updated_at)
            SELECT DISTINCT ON (learner_id, subcategory) learner_id, subcategory, mastery_score, recorded_date,
                   mastery_score, recorded_date + 1, recorded_date + 1
            FROM mastery_history
            ORDER BY learner_id, subcategory, recorded_date DESC
            ON CONFLICT (learner_id, subcategory) DO UPDATE
            SET mastery_score = EXCLUDED.mastery_score, last_practiced_on = EXCLUDED.last_practiced_on
            """)
    }

    @discardableResult
    func run(_ db: TestDatabase, _ day: LocalDate = Self.day, now: Date = Self.beforePlanDay,
             config: BatchConfig = BatchConfig()) async throws -> RunOutcome {
        try await syncAnchors(db)
        let outcome = try await TestRunner(database: db, config: config, now: now).run(Self.job, day)
        #expect(outcome.status == .succeeded)
        return outcome
    }

    // MARK: importance

    @Test("eligible: the latest history row up to D with D - D' < 30 (29 in, 30 out, rows after D ignored); days, decay, due")
    func eligibility() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            try await history(c, "a", "2026-10-01", 0.9)
            try await history(c, "a", "2026-10-22", 0.6)  // latest: D - D' = 29
            try await history(c, "b", "2026-10-21", 0.6)  // D - D' = 30: out
            try await history(c, "c", "2026-10-01", 0.6)
            try await history(c, "c", "2026-11-21", 0.6)  // after D: ignored, so "c" is out
            try await history(c, "d", "2026-11-20", 0.3)  // days 0: due 0
            try await history(c, "e", "2026-11-06", 0.5)  // days 14: due 0.5
            let outcome = try await run(db)
            let a = Self.ref(0.6, days: 29), d = Self.ref(0.3, days: 0), e = Self.ref(0.5, days: 14)
            #expect(d.due == 0 && e.due == 0.5)
            #expect(e.gap == (0.8 - 0.375) / 0.8)
            #expect(a.w > e.w && e.w > d.w)
            #expect(try await index(c) == [row("a", a, rank: 1), row("e", e, rank: 2), row("d", d, rank: 3)])
            let units = Self.split(20, [a.w, e.w, d.w])
            #expect(units.reduce(0, +) == 20)
            #expect(try await plan(c) == [PlanRow(sub: "a", questions: units[0], rank: 1, importance: a.importance),
                                          PlanRow(sub: "e", questions: units[1], rank: 2, importance: e.importance),
                                          PlanRow(sub: "d", questions: units[2], rank: 3, importance: d.importance)])
            #expect(outcome.report?.totals.rowsRead == 3)
            #expect(outcome.report?.totals.rowsWritten == 6)
            #expect(outcome.report?.counters == ["plans_kept": 0])

            // active_days is a config value.
            var config = BatchConfig()
            config.importance.activeDays = 31
            try await run(db, config: config)
            #expect(try await index(c).map(\.sub).sorted() == ["a", "b", "d", "e"])
        }
    }

    @Test("a pair whose anchor is after D (an older D): its latest history row up to D counts, read from the history (29 days in, 30 out)")
    func anchorAfterDay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            try await history(c, "a", "2026-11-10", 0.4)
            try await history(c, "a", "2026-11-25", 0.9)  // the anchor, after D
            try await history(c, "b", "2026-11-20", 0.5)  // anchor on D
            try await history(c, "c", "2026-10-01", 0.7)
            try await history(c, "c", "2026-11-22", 0.7)  // after D; its row up to D is 50 days old: out
            try await history(c, "d", "2026-10-22", 0.2)  // D - D' = 29: in
            try await history(c, "d", "2026-11-23", 0.9)
            try await history(c, "e", "2026-10-21", 0.2)  // D - D' = 30: out
            try await history(c, "e", "2026-11-23", 0.9)
            try await run(db)
            let a = Self.ref(0.4, days: 10), b = Self.ref(0.5, days: 0), d = Self.ref(0.2, days: 29)
            #expect(d.w > a.w && a.w > b.w)
            #expect(try await index(c) == [row("d", d, rank: 1), row("a", a, rank: 2), row("b", b, rank: 3)])
            let units = Self.split(20, [d.w, a.w, b.w])
            #expect(try await plan(c) == [PlanRow(sub: "d", questions: units[0], rank: 1, importance: d.importance),
                                          PlanRow(sub: "a", questions: units[1], rank: 2, importance: a.importance),
                                          PlanRow(sub: "b", questions: units[2], rank: 3, importance: b.importance)])
        }
    }

    @Test("gap clamps at 0 (m_eff above target) and 1 (m_eff below 0); m_eff = 0 gives exactly 1")
    func gapClamps() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            try await history(c, "high", "2026-11-20", 1.0)   // (0.8 - 1) / 0.8 < 0
            try await history(c, "low", "2026-11-20", -0.2)   // (0.8 + 0.2) / 0.8 > 1 (not valid data, still clamped)
            try await history(c, "zero", "2026-11-20", 0.0)
            try await run(db)
            let rows = try await index(c)
            #expect(rows.first { $0.sub == "high" }?.gap == 0)
            #expect(rows.first { $0.sub == "low" }?.gap == 1)
            #expect(rows.first { $0.sub == "zero" }?.gap == 1)
            #expect(rows.first { $0.sub == "high" }?.importance == 0)
        }
    }

    @Test("a decay exponent beyond 1000 is clamped instead of underflowing")
    func underflowingDecay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            try await history(c, "a", "1971-01-01", 0.9)
            var config = BatchConfig()
            config.importance.activeDays = 30000
            try await run(db, .d("2026-01-01"), now: ISOInstant.parse("2026-01-01T12:00:00Z")!, config: config)
            let r = Self.ref(0.9, days: 20088)
            #expect(r.due == 1)
            #expect(try await index(c) == [row("a", r, rank: 1, asOf: "2026-01-01")])
        }
    }

    @Test("li_norm = LI_S / max LI over all S; 0 for NULL LI, no stats row, or a max of 0")
    func liNorm() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            for sub in ["s1", "s2", "s3", "s4"] { try await history(c, sub, "2026-11-20", 0.5) }
            try await impact(c, "s1", 0.02)
            try await impact(c, "s2", 0.01)
            try await impact(c, "s3", nil)
            try await impact(c, "s5", 0.04)   // no learner practises it, but it sets the max
            try await run(db)
            let rows = try await index(c)
            func li(_ sub: String) -> Double? { rows.first { $0.sub == sub }?.liNorm }
            #expect(li("s1") == 0.02 / 0.04 && li("s2") == 0.01 / 0.04 && li("s3") == 0 && li("s4") == 0)
            #expect(rows.first { $0.sub == "s1" } == row("s1", Self.ref(0.5, days: 0, liNorm: 0.02 / 0.04), rank: 1))

            try await c.query("UPDATE subcategory_stats SET learning_impact = 0 WHERE learning_impact IS NOT NULL")
            try await run(db)
            #expect(try await index(c).map(\.liNorm) == [0, 0, 0, 0])

            try await c.query("UPDATE subcategory_stats SET learning_impact = NULL")
            try await run(db)
            #expect(try await index(c).map(\.liNorm) == [0, 0, 0, 0])
        }
    }

    // MARK: ranking and plan

    @Test("equal w ties by S ascending (COLLATE \"C\"), also when the importances differ in their last bits; equal remainders go by rank")
    func ties() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            // "Zeta" < "alpha" < "beta" byte-wise. "alpha" is a few ulps
            // less important than "beta" and "Zeta", with the same w.
            let bumped = 0.5.nextUp.nextUp.nextUp.nextUp
            try await history(c, "beta", "2026-11-20", 0.5)
            try await history(c, "alpha", "2026-11-20", bumped)
            try await history(c, "Zeta", "2026-11-20", 0.5)
            try await run(db)
            let same = Self.ref(0.5, days: 0), lower = Self.ref(bumped, days: 0)
            #expect(lower.importance < same.importance && lower.w == same.w)
            #expect(try await index(c) == [row("Zeta", same, rank: 1), row("alpha", lower, rank: 2), row("beta", same, rank: 3)])
            // 20 over three equal weights: 6 each, remainders equal, the 2 leftover units by rank.
            #expect(try await plan(c).map(\.questions) == [7, 7, 6])
            #expect(Self.split(20, [same.w, same.w, same.w]) == [7, 7, 6])
        }
    }

    @Test("largest remainder over the top 5 only, exact also for a goal of 2e9; subcategories with 0 units are left out")
    func largestRemainder() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1, dailyGoal: 7)
            try await f.learner(2, dailyGoal: 2)
            try await f.learner(3, dailyGoal: 8)
            // Q * W above 4e18: numeric products; 2e6 * W = 3.7e18: bigint, near the limit.
            try await f.learner(4, dailyGoal: 2_000_000_000)
            try await f.learner(5, dailyGoal: 2_000_000)
            let scores: [(String, Double, String)] = [("a", 0.0, "2026-11-20"), ("b", 0.2, "2026-11-15"), ("c", 0.4, "2026-11-10"),
                                                      ("d", 0.6, "2026-11-20"), ("e", 0.7, "2026-11-01"), ("f", 0.75, "2026-11-19")]
            for (sub, m0, date) in scores {
                try await history(c, learner: 1, sub, date, m0)
                try await history(c, learner: 2, sub, date, m0)
                for learner in 3...5 { try await history(c, learner: learner, sub, date, m0) }
            }
            try await run(db)
            let refs = scores.map { (sub: $0.0, ref: Self.ref($0.1, days: LocalDate.d($0.2).days(until: Self.day))) }
                .sorted { $0.ref.w != $1.ref.w ? $0.ref.w > $1.ref.w : $0.sub < $1.sub }
            #expect(try await index(c).map(\.sub) == refs.map(\.sub))
            #expect(try await index(c, learner: 2).map(\.sub) == refs.map(\.sub))
            let top = Array(refs.prefix(5))
            for (learner, quota) in [(1, 7), (2, 2), (3, 8), (4, 2_000_000_000), (5, 2_000_000)] {
                let units = Self.split(quota, top.map(\.ref.w))
                let expected = top.indices.filter { units[$0] > 0 }.map {
                    PlanRow(sub: top[$0].sub, questions: units[$0], rank: $0 + 1, importance: top[$0].ref.importance)
                }
                #expect(try await plan(c, learner: learner) == expected)
                #expect(expected.map(\.questions).reduce(0, +) == quota)
            }
            #expect(try await plan(c, learner: 2).count <= 2)      // at least three of the top 5 get 0 units
            // By hand for Q = 8: w = a 500000000000, b 454492921469, c 415959598482,
            // e 378753555878, d 125000000000 (W = 1874206075829); q = 2, 1, 1, 1, 0
            // with remainders about 0.13, 0.94, 0.78, 0.62, 0.53 W: the 3 leftover
            // units go to b, c, e, not to a (rank 1); d gets none.
            #expect(top.map(\.sub) == ["a", "b", "c", "e", "d"])
            #expect(top.map(\.ref.w) == [500000000000, 454492921469, 415959598482, 378753555878, 125000000000])
            #expect(try await plan(c, learner: 3).map(\.sub) == ["a", "b", "c", "e"])
            #expect(try await plan(c, learner: 3).map(\.questions) == [2, 2, 2, 2])
            #expect(try await index(c).count == 6)
            #expect(!(try await plan(c)).map(\.sub).contains(refs[5].sub))   // rank 6 is never planned
        }
    }

    @Test("negative and huge w (li_norm of negative slopes) split exactly, as numeric did")
    func extremeWeights() async throws {
        // A negative LI over a tiny positive maximum: li_norm -1e7, w about -2e18 (mixed signs).
        // Every LI negative: li_norm 1e7 for each, w about 2e18, W beyond a bigint.
        for impacts in [[("a", 1e-7), ("b", -1.0)], [("a", -1e-7), ("b", -1.0), ("c", -1.0), ("d", -2.0), ("e", -1.5)]] {
            try await TestPostgres.withDatabase { db in
                let c = try await db.connect()
                try await Fixture(c).learner(1, dailyGoal: 20)
                let maxLI = impacts.map(\.1).max()!
                for (sub, li) in impacts {
                    try await history(c, sub, "2026-11-20", 0.5)
                    try await impact(c, sub, li)
                }
                try await run(db)
                let refs = impacts.map { (sub: $0.0, ref: Self.ref(0.5, days: 0, liNorm: $0.1 / maxLI)) }
                    .sorted { $0.ref.w != $1.ref.w ? $0.ref.w > $1.ref.w : $0.sub < $1.sub }
                #expect(try await index(c).map(\.sub) == refs.map(\.sub))
                let top = Array(refs.prefix(5))
                let units = Self.split(20, top.map(\.ref.w))
                let expected = top.indices.filter { units[$0] > 0 }.map {
                    PlanRow(sub: top[$0].sub, questions: units[$0], rank: $0 + 1, importance: top[$0].ref.importance)
                }
                #expect(!expected.isEmpty)
                #expect(try await plan(c) == expected)
            }
        }
    }

    @Test("W = 0: every w counts as 1")
    func zeroWeights() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            for sub in ["x", "y", "z"] { try await history(c, sub, "2026-11-20", 0.9) }   // gap 0, due 0, li_norm 0
            try await run(db)
            #expect(try await index(c).map(\.importance) == [0, 0, 0])
            #expect(try await plan(c) == [PlanRow(sub: "x", questions: 7, rank: 1, importance: 0),
                                          PlanRow(sub: "y", questions: 7, rank: 2, importance: 0),
                                          PlanRow(sub: "z", questions: 6, rank: 3, importance: 0)])
        }
    }

    @Test("daily_goal NULL: the default goal (20, a config value)")
    func defaultGoal() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1, dailyGoal: nil)
            try await history(c, "a", "2026-11-19", 0.5)
            try await run(db)
            #expect(try await plan(c).map(\.questions) == [20])
            var config = BatchConfig()
            config.importance.defaultDailyGoal = 12
            try await run(db, config: config)
            #expect(try await plan(c).map(\.questions) == [12])
        }
    }

    // MARK: writes

    @Test("a plan for today or earlier that exists is kept and counted; a missing one is written")
    func keptPlan() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            try await Fixture(c).learner(2)
            try await history(c, "a", "2026-11-20", 0.5)
            try await history(c, "b", "2026-11-19", 0.2)
            try await run(db)
            let kept = try await plan(c)
            #expect(kept.count == 2)

            // New input; the run happens on the plan's day.
            try await history(c, "c", "2026-11-20", 0.0)
            try await history(c, learner: 2, "a", "2026-11-20", 0.5)
            let outcome = try await run(db, now: Self.onPlanDay)
            #expect(try await plan(c) == kept)
            #expect(try await plan(c, learner: 2).map(\.questions) == [20])    // had no plan: written
            #expect(outcome.report?.counters == ["plans_kept": 1])
            #expect(try await index(c).count == 3)                               // the index still moves on
            // Later days count too: today after the plan day.
            let later = try await run(db, now: ISOInstant.parse("2026-12-01T00:00:00Z")!)
            #expect(later.report?.counters == ["plans_kept": 2])
            #expect(later.report?.totals.rowsWritten == 0)

            // Before the plan day it is replaced as a whole.
            try await run(db)
            #expect(try await plan(c).map(\.sub) == ["c", "b", "a"])
        }
    }

    @Test("a kept plan keeps the rows a new computation no longer has; before its day they go")
    func keptPlanRowsStay() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            try await history(c, "a", "2026-11-20", 0.5)
            try await history(c, "b", "2026-11-19", 0.2)
            try await run(db)
            let kept = try await plan(c)
            #expect(kept.map(\.sub).sorted() == ["a", "b"])

            // "a" is no longer eligible: a rerun on the plan's day keeps the plan as it is.
            try await c.query("DELETE FROM mastery_history WHERE subcategory = 'a'")
            let outcome = try await run(db, now: Self.onPlanDay)
            #expect(try await plan(c) == kept)
            #expect(outcome.report?.counters == ["plans_kept": 1])

            // Before the plan's day the plan is replaced: "a" goes.
            try await run(db)
            #expect(try await plan(c).map(\.sub) == ["b"])
        }
    }

    @Test("an older D rewrites only its own plan, not importance_index")
    func olderDate() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            try await history(c, "a", "2026-11-18", 0.5)
            try await history(c, "b", "2026-11-20", 0.1)
            try await run(db)
            let index20 = try await index(c)
            let plan21 = try await plan(c)
            let older = try await run(db, .d("2026-11-19"), now: ISOInstant.parse("2026-11-19T12:00:00Z")!)
            #expect(try await index(c) == index20)
            #expect(try await plan(c) == plan21)
            let a = Self.ref(0.5, days: 1)
            #expect(try await plan(c, "2026-11-20") == [PlanRow(sub: "a", questions: 20, rank: 1, importance: a.importance)])
            #expect(older.report?.totals.rowsWritten == 1)
        }
    }

    @Test("pairs no longer eligible leave importance_index; a learner without eligible pairs loses the plan for D+1")
    func noLongerEligible() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1)
            try await Fixture(c).learner(2)
            try await history(c, "a", "2026-11-20", 0.5)
            try await history(c, "b", "2026-10-25", 0.5)
            try await history(c, learner: 2, "a", "2026-11-20", 0.5)
            try await run(db)
            #expect(try await index(c).count == 2)
            #expect(try await plan(c, learner: 2).count == 1)

            // A week later "b" is 32 days old.
            try await run(db, .d("2026-11-26"), now: ISOInstant.parse("2026-11-26T12:00:00Z")!)
            #expect(try await index(c).map(\.sub) == ["a"])
            #expect(try await index(c).first?.asOf == "2026-11-26")
            #expect(try await plan(c, "2026-11-27").map(\.sub) == ["a"])

            // Learner 2's history vanishes: a rerun of D drops the index rows and the plan for D+1.
            try await c.query("DELETE FROM mastery_history WHERE learner_id = $1", [Fixture.id("l", 2)])
            let rerun = try await run(db, .d("2026-11-26"), now: ISOInstant.parse("2026-11-26T12:00:00Z")!)
            #expect(try await index(c, learner: 2).isEmpty)
            #expect(try await plan(c, learner: 2, "2026-11-27").isEmpty)
            #expect(rerun.report?.totals.rowsWritten == 2)
        }
    }

    @Test("a rerun with unchanged input changes nothing and writes 0 rows")
    func rerun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await Fixture(c).learner(1, dailyGoal: 9)
            try await Fixture(c).learner(2)
            for (i, sub) in ["a", "b", "c", "d", "e", "f", "g"].enumerated() {
                try await history(c, sub, "2026-11-\(10 + i)", Double(i) / 10)
                try await history(c, learner: 2, sub, "2026-11-\(20 - i)", Double(i) / 8)
            }
            try await impact(c, "c", 0.03)
            try await impact(c, "d", 0.01)
            let first = try await run(db)
            #expect(first.report?.totals.rowsWritten == 14 + 5 + 5)
            let before = try await db.snapshot(on: c)
            let again = try await run(db)
            #expect(again.report?.totals.rowsWritten == 0)
            #expect(try await db.snapshot(on: c) == before)
        }
    }
}
