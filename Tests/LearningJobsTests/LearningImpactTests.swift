import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// learning-impact on small hand-computed cases (computations.md,
/// "learning-impact"). Expected doubles are computed in Swift with the
/// spec's operation order and compared exactly.
@Suite("learning-impact")
struct LearningImpactTests {
    static let job = "learning-impact"
    static let day = LocalDate.d("2026-11-20")
    /// A fixed wall clock after D (the job itself does not use it).
    static let now = ISOInstant.parse("2026-11-21T06:00:00Z")!

    // MARK: reference formulas

    /// mu_S = (C_S + m * mu_g) / (N_S + m).
    static func pooled(_ c: Int, _ n: Int, _ muG: Double, m: Int = 10) -> Double {
        (Double(c) + Double(m) * muG) / (Double(n) + Double(m))
    }

    /// p_q = (c_q + m * mu_S) / (n_q + m); mu_S without first attempts.
    static func smoothed(_ c: Int, _ n: Int, _ muS: Double, m: Int = 10) -> Double {
        n == 0 ? muS : (Double(c) + Double(m) * muS) / (Double(n) + Double(m))
    }

    /// LI over the kept (k, n_k, c_k), each sum over k ascending, clamped at 0.
    static func slope(_ points: [(k: Int, n: Int, c: Int)]) -> Double {
        let a = points.map { (Double($0.c) + 1) / (Double($0.n) + 2) }
        var sw = 0.0, snk = 0.0, sna = 0.0
        for (i, p) in points.enumerated() {
            sw += Double(p.n)
            snk += Double(p.n) * Double(p.k)
            sna += Double(p.n) * a[i]
        }
        let xb = snk / sw, yb = sna / sw
        var num = 0.0, den = 0.0
        for (i, p) in points.enumerated() {
            num += Double(p.n) * (Double(p.k) - xb) * (a[i] - yb)
            den += Double(p.n) * ((Double(p.k) - xb) * (Double(p.k) - xb))
        }
        let li = num / den
        return li > 0 ? li : 0
    }

    /// Answers per learner (1 correct, 0 wrong, 2 correct with a hint) into
    /// the (k, n_k, c_k) of opportunities 1...maxK with n_k >= minN.
    static func curve(_ learners: [[Int]], maxK: Int = 10, minN: Int = 5) -> [(k: Int, n: Int, c: Int)] {
        (1...maxK).compactMap { k in
            let n = learners.filter { $0.count >= k }.count
            let c = learners.filter { $0.count >= k && $0[k - 1] == 1 }.count
            return n >= minN ? (k, n, c) : nil
        }
    }

    // MARK: helpers

    struct QuestionStats: Equatable {
        var asOf: String, firstAttempts: Int, firstCorrect: Int, smoothed: Double, difficulty: Double, provisional: Bool
    }

    struct SubcategoryStats: Equatable {
        var asOf: String, firstAttempts: Int, firstCorrect: Int, pooled: Double, impact: Double?, note: String?
    }

    func questionStats(_ c: Connection, _ q: Int) async throws -> QuestionStats? {
        guard let r = try await c.query("""
            SELECT as_of::text AS as_of, first_attempts, first_correct, smoothed_accuracy, difficulty, provisional
            FROM question_stats WHERE question_id = $1
            """, [Fixture.id("q", q)]).first else { return nil }
        return QuestionStats(asOf: try r.decode("as_of"), firstAttempts: try r.decode("first_attempts"),
                             firstCorrect: try r.decode("first_correct"), smoothed: try r.decode("smoothed_accuracy"),
                             difficulty: try r.decode("difficulty"), provisional: try r.decode("provisional"))
    }

    func subStats(_ c: Connection, _ sub: String) async throws -> SubcategoryStats? {
        guard let r = try await c.query("""
            SELECT as_of::text AS as_of, first_attempts, first_correct, pooled_accuracy, learning_impact, learning_impact_note
            FROM subcategory_stats WHERE subcategory = $1
            """, [sub]).first else { return nil }
        return SubcategoryStats(asOf: try r.decode("as_of"), firstAttempts: try r.decode("first_attempts"),
                                firstCorrect: try r.decode("first_correct"), pooled: try r.decode("pooled_accuracy"),
                                impact: try r.decode("learning_impact", as: Double?.self),
                                note: try r.decode("learning_impact_note", as: String?.self))
    }

    func expectQuestion(_ s: QuestionStats?, n: Int, c: Int, muS: Double, provisional: Bool = true) {
        let p = Self.smoothed(c, n, muS)
        #expect(s == QuestionStats(asOf: "2026-11-20", firstAttempts: n, firstCorrect: c, smoothed: p,
                                   difficulty: 1 - p, provisional: provisional))
    }

    /// Each learner's answers in `sub`, one first attempt per opportunity
    /// (questions `firstQuestion`, `firstQuestion + 1`, ...), the k-th at
    /// hour k of 2026-11-15. Creates the learners and questions needed.
    func answers(_ f: Fixture, sub: String, firstQuestion: Int, learnerBase: Int = 0, _ learners: [[Int]]) async throws {
        let maxK = learners.map(\.count).max() ?? 0
        for k in 0..<maxK { try await f.question(firstQuestion + k, subcategory: sub) }
        for (i, seq) in learners.enumerated() {
            let learner = learnerBase + i + 1
            if try await f.connection.query("SELECT 1 FROM learners WHERE id = $1", [Fixture.id("l", learner)]).rows.isEmpty {
                try await f.learner(learner)
            }
            for (k, answer) in seq.enumerated() {
                try await f.attempt(learner: learner, question: firstQuestion + k,
                                    at: String(format: "2026-11-15T%02d:%02d:00Z", k + 1, i), correct: answer != 0,
                                    hint: answer == 2)
            }
        }
    }

    @discardableResult
    func run(_ db: TestDatabase, config: BatchConfig = BatchConfig()) async throws -> RunOutcome {
        let outcome = try await TestRunner(database: db, config: config, now: Self.now).run(Self.job, Self.day)
        #expect(outcome.status == .succeeded)
        return outcome
    }

    // MARK: difficulty

    @Test("no first attempts at all: mu_g = global_prior, every question gets p_q = mu_S, LI NULL with a note")
    func noAttempts() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.question(1, subcategory: "math.add")
            try await f.question(2, subcategory: "math.add")
            try await c.query("INSERT INTO questions (id, subject, topic, subcategory) VALUES ($1, 'math', 't', NULL)",
                              [Fixture.id("q", 3)])
            let outcome = try await run(db)
            let muS = Self.pooled(0, 0, 0.5)
            #expect(muS == 0.5)
            expectQuestion(try await questionStats(c, 1), n: 0, c: 0, muS: muS)
            expectQuestion(try await questionStats(c, 2), n: 0, c: 0, muS: muS)
            #expect(try await questionStats(c, 3) == nil) // no subcategory: no stats
            #expect(try await subStats(c, "math.add") == SubcategoryStats(
                asOf: "2026-11-20", firstAttempts: 0, firstCorrect: 0, pooled: muS, impact: nil,
                note: "too little data: 0 of opportunities 1..10 reached by at least 5 learners (3 needed)"))
            #expect(outcome.report?.totals.rowsWritten == 3)
            #expect(outcome.report?.totals.rowsRead == 0)

            // global_prior is a config value.
            var config = BatchConfig()
            config.difficulty.globalPrior = 0.7
            try await run(db, config: config)
            expectQuestion(try await questionStats(c, 1), n: 0, c: 0, muS: Self.pooled(0, 0, 0.7))
        }
    }

    @Test("one attempt: a correct answer with a hint counts as incorrect")
    func oneHintedAttempt() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "math.add")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true, hint: true)
            try await run(db)
            // mu_g = 0 / 1; mu_S = (0 + 10 * 0) / (1 + 10) = 0; p = (0 + 10 * 0) / 11 = 0
            let muS = Self.pooled(0, 1, 0.0 / 1.0)
            #expect(muS == 0)
            expectQuestion(try await questionStats(c, 1), n: 1, c: 0, muS: muS)
            #expect(try await subStats(c, "math.add")?.firstCorrect == 0)
        }
    }

    @Test("all correct / all wrong: the smoothing pulls toward the global accuracy")
    func allCorrectAllWrong() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.learner(2)
            try await f.question(1, subcategory: "math.add")  // all correct
            try await f.question(2, subcategory: "math.sub")  // all wrong
            for l in 1...2 {
                try await f.attempt(learner: l, question: 1, at: "2026-11-20T09:0\(l):00Z", correct: true)
                try await f.attempt(learner: l, question: 2, at: "2026-11-20T10:0\(l):00Z", correct: false)
            }
            try await run(db)
            let muG = 2.0 / 4.0
            let muAdd = Self.pooled(2, 2, muG), muSub = Self.pooled(0, 2, muG)
            expectQuestion(try await questionStats(c, 1), n: 2, c: 2, muS: muAdd)
            expectQuestion(try await questionStats(c, 2), n: 2, c: 0, muS: muSub)
            #expect(try await subStats(c, "math.add")?.pooled == muAdd)
            #expect(try await subStats(c, "math.sub")?.pooled == muSub)
        }

        // Everything correct everywhere: p = 1 and difficulty = 0 exactly.
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "math.add")
            try await f.question(2, subcategory: "math.add")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            try await run(db)
            expectQuestion(try await questionStats(c, 1), n: 1, c: 1, muS: 1)
            #expect(try await questionStats(c, 1)?.difficulty == 0)
            expectQuestion(try await questionStats(c, 2), n: 0, c: 0, muS: 1)
        }

        // Everything wrong: p = 0, difficulty = 1.
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "math.add")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: false)
            try await run(db)
            #expect(try await questionStats(c, 1)?.difficulty == 1)
        }
    }

    @Test("pooled and smoothed accuracy: first attempts of any context only, hints incorrect, per question and subcategory")
    func mixed() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            for l in 1...3 { try await f.learner(l) }
            for q in 1...3 { try await f.question(q, subcategory: "a") }
            try await f.question(4, subcategory: "b")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            try await f.attempt(learner: 2, question: 1, at: "2026-11-20T09:01:00Z", correct: true, hint: true, context: "practice")
            try await f.attempt(learner: 3, question: 1, at: "2026-11-20T09:02:00Z", correct: false, context: "daily")
            try await f.attempt(learner: 3, question: 1, at: "2026-11-20T09:03:00Z", correct: true, attemptNo: 2) // not first
            try await f.attempt(learner: 1, question: 2, at: "2026-11-20T09:04:00Z", correct: true)
            try await f.attempt(learner: 1, question: 4, at: "2026-11-19T09:00:00Z", correct: false)
            try await f.attempt(learner: 2, question: 4, at: "2026-10-01T09:00:00Z", correct: false)
            let outcome = try await run(db)
            let muG = 2.0 / 6.0
            let muA = Self.pooled(2, 4, muG), muB = Self.pooled(0, 2, muG)
            expectQuestion(try await questionStats(c, 1), n: 3, c: 1, muS: muA)
            expectQuestion(try await questionStats(c, 2), n: 1, c: 1, muS: muA)
            expectQuestion(try await questionStats(c, 3), n: 0, c: 0, muS: muA)
            expectQuestion(try await questionStats(c, 4), n: 2, c: 0, muS: muB)
            let a = try #require(try await subStats(c, "a"))
            #expect(a.firstAttempts == 4 && a.firstCorrect == 2 && a.pooled == muA)
            let b = try #require(try await subStats(c, "b"))
            #expect(b.firstAttempts == 2 && b.firstCorrect == 0 && b.pooled == muB)
            #expect(outcome.report?.totals.rowsRead == 6)

            // prior_weight is a config value.
            var config = BatchConfig()
            config.difficulty.priorWeight = 4
            try await run(db, config: config)
            let muA4 = Self.pooled(2, 4, muG, m: 4)
            #expect(try await subStats(c, "a")?.pooled == muA4)
            #expect(try await questionStats(c, 1)?.smoothed == Self.smoothed(1, 3, muA4, m: 4))
        }
    }

    @Test("provisional: 29 first attempts is provisional, 30 is not")
    func provisionalThreshold() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.question(1, subcategory: "a")
            try await f.question(2, subcategory: "a")
            for l in 1...30 {
                try await f.learner(l)
                try await f.attempt(learner: l, question: 2, at: "2026-11-20T10:00:00Z", correct: l % 3 == 0)
                if l <= 29 { try await f.attempt(learner: l, question: 1, at: "2026-11-20T09:00:00Z", correct: l % 2 == 0) }
            }
            try await run(db)
            let muG = Double(14 + 10) / 59.0
            let muS = Self.pooled(24, 59, muG)
            expectQuestion(try await questionStats(c, 1), n: 29, c: 14, muS: muS, provisional: true)
            expectQuestion(try await questionStats(c, 2), n: 30, c: 10, muS: muS, provisional: false)
        }
    }

    @Test("the window is the 90 days ending with D in the zone: start_of(D-89) counts, just before it and end_of(D) do not")
    func windowBoundaries() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            for l in 1...4 { try await f.learner(l) }
            try await f.question(1, subcategory: "a")
            // Europe/Berlin: start_of(2026-08-23) = 2026-08-22T22:00Z (CEST); end_of(2026-11-20) = 2026-11-20T23:00Z (CET).
            try await f.attempt(learner: 1, question: 1, at: "2026-08-22T22:00:00Z", correct: true)
            try await f.attempt(learner: 2, question: 1, at: "2026-08-22T21:59:59.999999Z", correct: false)
            try await f.attempt(learner: 3, question: 1, at: "2026-11-20T22:59:59.999999Z", correct: true)
            try await f.attempt(learner: 4, question: 1, at: "2026-11-20T23:00:00Z", correct: false)
            var config = BatchConfig()
            config.timezone = "Europe/Berlin"
            let outcome = try await run(db, config: config)
            expectQuestion(try await questionStats(c, 1), n: 2, c: 2, muS: Self.pooled(2, 2, 1.0))
            // The attempt before W still belongs to the history of the learning curves.
            #expect(outcome.report?.totals.rowsRead == 3)

            config.difficulty.windowDays = 1  // W = D alone
            try await run(db, config: config)
            expectQuestion(try await questionStats(c, 1), n: 1, c: 1, muS: Self.pooled(1, 1, 1.0))
        }
    }

    @Test("bad attempts of D are excluded and counted by first reason")
    func badRows() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await f.learner(1)
            try await f.question(1, subcategory: "a")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:00:00Z", correct: true)
            try await f.attempt(learner: 1, question: 99, at: "2026-11-20T09:01:00Z", correct: false)
            try await f.attempt(learner: 7, question: 1, at: "2026-11-20T09:02:00Z", correct: false)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:03:00Z", correct: nil)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:04:00Z", correct: false, timeSec: -1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:05:00Z", correct: false, attemptNo: 0)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T09:06:00Z", correct: false, context: "homework")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-19T09:06:00Z", correct: false, context: "homework") // not D: excluded, not counted
            let outcome = try await run(db)
            #expect(outcome.report?.badRows == ["question_missing": 1, "learner_missing": 1, "null_value": 1,
                                                "negative_time_sec": 1, "attempt_no_below_1": 1, "unknown_context": 1])
            expectQuestion(try await questionStats(c, 1), n: 1, c: 1, muS: Self.pooled(1, 1, 1.0))
        }
    }

    // MARK: learning impact

    @Test("LI with n_k >= 5 for exactly k = 1, 2, 3 (n_3 = 5 kept, n_4 = 4 dropped): the weighted slope")
    func impactThreeOpportunities() async throws {
        // 1 correct, 0 wrong, 2 correct with a hint (incorrect here).
        let learners = [[0, 1, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1], [1, 0, 1, 1], [0, 0, 2], [0, 1], [0, 0]]
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await answers(f, sub: "c", firstQuestion: 10, learners)
            // A later, non-first attempt of learner 6 does not count as an opportunity.
            try await f.attempt(learner: 6, question: 10, at: "2026-11-15T01:30:00Z", correct: true, attemptNo: 2)
            try await run(db)
            let points = Self.curve(learners)
            #expect(points.map(\.k) == [1, 2, 3])
            #expect(points.map(\.n) == [7, 7, 5] && points.map(\.c) == [2, 4, 4])
            let li = Self.slope(points)
            #expect(li > 0)
            let s = try #require(try await subStats(c, "c"))
            #expect(s.impact == li)
            #expect(s.note == nil)
        }
    }

    @Test("LI with only 2 opportunities reaching 5 learners (n_3 = 4): NULL with a note")
    func impactTooFewOpportunities() async throws {
        let learners = [[0, 1, 1], [0, 1, 1], [1, 1, 1], [1, 0, 1], [0, 0], [0, 1], [0, 0]]
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await answers(Fixture(c), sub: "d", firstQuestion: 10, learners)
            try await run(db)
            #expect(Self.curve(learners).count == 2)
            let s = try #require(try await subStats(c, "d"))
            #expect(s.impact == nil)
            #expect(s.note == "too little data: 2 of opportunities 1..10 reached by at least 5 learners (3 needed)")

            // With min_per_opportunity = 4, k = 3 counts and the slope is defined.
            var config = BatchConfig()
            config.impact.minPerOpportunity = 4
            try await run(db, config: config)
            #expect(try await subStats(c, "d")?.impact == Self.slope(Self.curve(learners, minN: 4)))
            #expect(try await subStats(c, "d")?.note == nil)
        }
    }

    @Test("a negative slope is clamped to 0")
    func impactNegativeClamped() async throws {
        let learners = [[1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0]]
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await answers(Fixture(c), sub: "e", firstQuestion: 10, learners)
            try await run(db)
            let points = Self.curve(learners)
            #expect(points.count == 3)
            #expect(Self.slope(points) == 0)
            let s = try #require(try await subStats(c, "e"))
            #expect(s.impact == 0)
            #expect(s.impact.map { $0.sign } == .plus)
            #expect(s.note == nil)
        }
    }

    @Test("opportunities beyond max_opportunity (10) are ignored")
    func impactBeyondTen() async throws {
        // 5 learners, 11 first attempts each; k = 11 is all correct and would
        // steepen the slope if it counted.
        let seq = [0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1]
        let learners = Array(repeating: seq, count: 5)
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await answers(Fixture(c), sub: "f", firstQuestion: 10, learners)
            try await run(db)
            let points = Self.curve(learners)
            #expect(points.count == 10)
            let li = Self.slope(points)
            #expect(li != Self.slope(Self.curve(learners, maxK: 11)))
            #expect(try await subStats(c, "f")?.impact == li)
        }
    }

    @Test("opportunities are numbered by (created_at, id): a tie on created_at goes to the smaller id")
    func impactTieOnCreatedAt() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            for q in 1...3 { try await f.question(q, subcategory: "g") }
            // Per learner: k = 1 and 2 share a created_at; the smaller id is
            // wrong, the larger correct (inserted first, so physical order
            // would say otherwise). k = 3 is correct.
            for l in 1...5 {
                try await f.learner(l)
                let small = String(format: "00000000-0000-4000-8000-a%011d", l)
                let large = String(format: "00000000-0000-4000-8000-b%011d", l)
                try await c.query("""
                    INSERT INTO attempts (id, learner_id, question_id, attempt_no, context, correct, time_sec, created_at)
                    VALUES ($1::uuid, $3, $4, 1, 'session', true, 10, '2026-11-15T09:00:00Z'),
                           ($2::uuid, $3, $5, 1, 'session', false, 10, '2026-11-15T09:00:00Z')
                    """, [large, small, Fixture.id("l", l), Fixture.id("q", 1), Fixture.id("q", 2)])
                try await f.attempt(learner: l, question: 3, at: "2026-11-15T10:00:00Z", correct: l != 5)
            }
            try await run(db)
            let li = Self.slope([(1, 5, 0), (2, 5, 5), (3, 5, 4)])
            #expect(li != Self.slope([(1, 5, 5), (2, 5, 0), (3, 5, 4)]))
            #expect(try await subStats(c, "g")?.impact == li)
        }
    }

    @Test("history before W counts for LI; attempts at or after end_of(D) do not")
    func impactHistory() async throws {
        let learners = [[0, 1, 1], [0, 1, 1], [1, 1, 1], [1, 0, 1], [0, 0, 1]]
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await answers(f, sub: "h", firstQuestion: 10, learners)
            // Move k = 1 to long before W; add a 4th opportunity after the cut.
            try await c.query("UPDATE attempts SET created_at = '2025-01-01T09:00:00Z' WHERE question_id = $1", [Fixture.id("q", 10)])
            try await f.question(20, subcategory: "h")
            for l in 1...5 { try await f.attempt(learner: l, question: 20, at: "2026-11-21T00:00:00Z", correct: true) }
            try await run(db)
            let s = try #require(try await subStats(c, "h"))
            #expect(s.impact == Self.slope(Self.curve(learners)))
            #expect(s.firstAttempts == 10) // k = 2, 3 in W
        }
    }

    // MARK: writes

    @Test("a rerun changes nothing and writes 0 rows; stats of vanished questions and subcategories are deleted")
    func rerunAndStale() async throws {
        let learners = [[0, 1, 1], [0, 1, 1], [1, 1, 1], [1, 0, 1], [0, 0, 2]]
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            try await answers(f, sub: "a", firstQuestion: 10, learners)
            try await f.question(1, subcategory: "b")
            try await f.question(2, subcategory: "c")
            let first = try await run(db)
            #expect(first.report?.totals.rowsWritten == 3 + 2 + 3)
            let before = try await db.snapshot(on: c)
            let again = try await run(db)
            #expect(again.report?.totals.rowsWritten == 0)
            #expect(try await db.snapshot(on: c) == before)

            // Question 1 moves to "c"; "b" has no questions any more; question 2 is deleted.
            try await c.query("UPDATE questions SET subcategory = 'c' WHERE id = $1", [Fixture.id("q", 1)])
            try await c.query("DELETE FROM questions WHERE id = $1", [Fixture.id("q", 2)])
            let third = try await run(db)
            #expect(try await subStats(c, "b") == nil)
            #expect(try await questionStats(c, 2) == nil)
            #expect(try await questionStats(c, 1) != nil)
            #expect(try await subStats(c, "c") != nil)
            // Deleted: q2 and "b"; question 1 and "c" unchanged in value.
            #expect(third.report?.totals.rowsWritten == 2)

            // A later date changes as_of only.
            let later = try await TestRunner(database: db, now: Self.now).run(Self.job, .d("2026-11-21"))
            #expect(later.report?.totals.rowsWritten == 4 + 2)
            #expect(try await subStats(c, "a")?.asOf == "2026-11-21")
        }
    }
}
