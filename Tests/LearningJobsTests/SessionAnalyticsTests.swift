import BatchEngine
import BatchTesting
import Foundation
import LearningJobs
import PostgresClient
import Testing

/// session-analytics on small hand-computed cases (computations.md,
/// "session-analytics"). D is 2026-11-20 (UTC unless a test says
/// otherwise): the cut is 2026-11-21T00:00Z and sessions started on 11-19
/// or 11-20 are covered.
@Suite("session-analytics")
struct SessionAnalyticsTests {
    static let job = "session-analytics"
    static let day = LocalDate.d("2026-11-20")

    /// One session_analytics row; `subjects` and the distribution as text.
    struct Row: Equatable, CustomStringConvertible {
        var attempted = 0
        var correct = 0
        var accuracy: Int?
        var totalMs = 0
        var avgMs: Int?
        var subjects = "{}"
        var topics = 0
        var easy = 0, medium = 0, hard = 0
        var switches = 0
        var active = 0
        var attention: Double?
        var optimal: String?
        var velocity: Double?

        var description: String {
            "attempted \(attempted) correct \(correct) accuracy \(accuracy.map(String.init) ?? "nil") total \(totalMs) "
                + "avg \(avgMs.map(String.init) ?? "nil") subjects \(subjects) topics \(topics) "
                + "dist \(easy)/\(medium)/\(hard) switches \(switches) active \(active) "
                + "attention \(attention.map { "\($0)" } ?? "nil") optimal \(optimal ?? "nil") "
                + "velocity \(velocity.map { "\($0)" } ?? "nil")"
        }
    }

    func analytics(_ c: Connection, _ session: Int) async throws -> Row? {
        guard let r = try await c.query("""
            SELECT questions_attempted, questions_correct, accuracy, total_time_ms, avg_time_per_question_ms,
                   subjects_practiced::text AS subjects, topics_covered,
                   (difficulty_distribution->>'easy')::int AS easy, (difficulty_distribution->>'medium')::int AS medium,
                   (difficulty_distribution->>'hard')::int AS hard, concept_switches, active_seconds,
                   attention_span_minutes, optimal_difficulty_range, learning_velocity,
                   (SELECT count(*) FROM jsonb_object_keys(difficulty_distribution)) AS keys
            FROM session_analytics WHERE session_id = $1
            """, [Fixture.id("s", session)]).first else { return nil }
        #expect(try r.decode("keys", as: Int.self) == 3)
        return Row(attempted: try r.decode("questions_attempted"), correct: try r.decode("questions_correct"),
                   accuracy: try r.decode("accuracy", as: Int?.self), totalMs: try r.decode("total_time_ms"),
                   avgMs: try r.decode("avg_time_per_question_ms", as: Int?.self), subjects: try r.decode("subjects"),
                   topics: try r.decode("topics_covered"), easy: try r.decode("easy"), medium: try r.decode("medium"),
                   hard: try r.decode("hard"), switches: try r.decode("concept_switches"),
                   active: try r.decode("active_seconds"),
                   attention: try r.decode("attention_span_minutes", as: Double?.self),
                   optimal: try r.decode("optimal_difficulty_range", as: String?.self),
                   velocity: try r.decode("learning_velocity", as: Double?.self))
    }

    func computedAt(_ c: Connection, _ session: Int) async throws -> String? {
        try await c.query("""
            SELECT to_char(computed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS t
            FROM session_analytics WHERE session_id = $1
            """, [Fixture.id("s", session)]).first?.decode("t", as: String.self)
    }

    /// `2026-11-20T10:00:00Z` plus `seconds`.
    static func at(_ seconds: Int, day: String = "2026-11-20") -> String {
        String(format: "\(day)T%02d:%02d:%02dZ", 10 + seconds / 3600, (seconds / 60) % 60, seconds % 60)
    }

    /// Learner 1; questions 1-3 in subcategory A, 4-6 in B, 7-9 in C (subject
    /// math); session n started at 10:00 on D and ended at 14:00.
    func setUp(_ c: Connection, sessions: [Int] = [1]) async throws -> Fixture {
        let f = Fixture(c)
        try await f.learner(1)
        for q in 1...9 {
            try await f.question(q, subcategory: ["A", "B", "C"][(q - 1) / 3])
        }
        for n in sessions {
            try await f.session(n, learner: 1, startedAt: "2026-11-20T10:00:00Z", endedAt: "2026-11-20T14:00:00Z")
        }
        return f
    }

    func stats(_ c: Connection, question: Int, difficulty: Double) async throws {
        try await c.query("""
            INSERT INTO question_stats (question_id, as_of, first_attempts, first_correct, smoothed_accuracy, difficulty, provisional)
            VALUES ($1, '2026-11-20', 0, 0, 1 - $2::float8, $2::float8, true)
            ON CONFLICT (question_id) DO UPDATE SET difficulty = EXCLUDED.difficulty
            """, [Fixture.id("q", question), difficulty])
    }

    /// Attempts of `session`, one per entry: (seconds after 10:00, question, correct, time_sec).
    func attempts(_ f: Fixture, session: Int, _ list: [(Int, Int, Bool, Int)]) async throws {
        for (t, q, correct, time) in list {
            try await f.attempt(learner: 1, question: q, at: Self.at(t), correct: correct, timeSec: time, session: session)
        }
    }

    @Test("a session without attempts: zero counts, '{}', an all-zero distribution, NULL for the rest")
    func zeroAttempts() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            _ = try await setUp(c)
            let outcome = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(outcome.status == .succeeded)
            #expect(try await analytics(c, 1) == Row())
            #expect(try await computedAt(c, 1) == "2026-11-21T00:00:00Z")
            #expect(outcome.report?.totals.rowsWritten == 1)
            #expect(outcome.report?.totals.rowsRead == 1)
        }
    }

    @Test("one attempt: attention span 0, no band reaches 3 attempts, no velocity")
    func oneAttempt() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await attempts(f, session: 1, [(60, 1, true, 42)])
            try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(try await analytics(c, 1) == Row(attempted: 1, correct: 1, accuracy: 100, totalMs: 42000, avgMs: 42000,
                                                     subjects: "{math}", topics: 1, medium: 1, active: 42, attention: 0))
        }
    }

    @Test("all correct (a hinted correct answer counts) and all wrong")
    func allCorrectAllWrong() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [1, 2])
            try await attempts(f, session: 1, [(0, 1, true, 10), (30, 2, true, 10), (60, 3, true, 10)])
            try await f.attempt(learner: 1, question: 1, at: Self.at(90), correct: true, hint: true, timeSec: 10, session: 1)
            try await attempts(f, session: 2, [(0, 1, false, 5), (10, 2, false, 5), (20, 3, false, 5)])
            try await TestRunner(database: db).run(Self.job, Self.day)
            // 4 medium attempts, 4/4: |1 - 0.75| is the only band's distance.
            #expect(try await analytics(c, 1) == Row(attempted: 4, correct: 4, accuracy: 100, totalMs: 40000, avgMs: 10000,
                                                     subjects: "{math}", topics: 1, medium: 4, active: 40,
                                                     attention: 90.0 / 60.0, optimal: "medium"))
            #expect(try await analytics(c, 2) == Row(attempted: 3, correct: 0, accuracy: 0, totalMs: 15000, avgMs: 5000,
                                                     subjects: "{math}", topics: 1, medium: 3, active: 15,
                                                     attention: 20.0 / 60.0, optimal: "medium"))
        }
    }

    @Test("accuracy rounds halves up in numeric (5/8 -> 63, 1/8 -> 13, 2/3 -> 67, 1/3 -> 33); avg is integer division")
    func accuracyAndAverage() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [1, 2, 3, 4])
            try await attempts(f, session: 1, (0..<8).map { ($0 * 10, 1, $0 < 5, 1) })
            try await attempts(f, session: 2, (0..<8).map { ($0 * 10, 1, $0 == 0, 1) })
            try await attempts(f, session: 3, [(0, 1, true, 1), (10, 1, true, 0), (20, 1, false, 0)])
            try await attempts(f, session: 4, [(0, 1, true, 2), (10, 1, false, 0), (20, 1, false, 0)])
            try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(try await analytics(c, 1)?.accuracy == 63)
            #expect(try await analytics(c, 2)?.accuracy == 13)
            let s3 = try #require(try await analytics(c, 3))
            #expect(s3.accuracy == 67 && s3.totalMs == 1000 && s3.avgMs == 333)
            let s4 = try #require(try await analytics(c, 4))
            #expect(s4.accuracy == 33 && s4.totalMs == 2000 && s4.avgMs == 666)
        }
    }

    @Test("attention span: a 120 s gap joins a run, 121 s splits; runs compare by elapsed time; fractional seconds")
    func attentionSpan() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [1, 2, 3, 4])
            // 0, 120, 240 (one run of 240 s), then +121: a lone attempt.
            try await attempts(f, session: 1, [(0, 1, true, 1), (120, 1, true, 1), (240, 1, true, 1), (361, 1, true, 1)])
            // Every gap 121 s: lone attempts only.
            try await attempts(f, session: 2, [(0, 1, true, 1), (121, 1, true, 1), (242, 1, true, 1)])
            // Three attempts over 60 s, then a gap of 200 s, then two over 100 s: the two-attempt run wins.
            try await attempts(f, session: 3, [(0, 1, true, 1), (30, 1, true, 1), (60, 1, true, 1), (260, 1, true, 1),
                                               (360, 1, true, 1)])
            for t in ["2026-11-20T10:00:00.250Z", "2026-11-20T10:01:30.750Z"] {
                try await f.attempt(learner: 1, question: 1, at: t, correct: true, session: 4)
            }
            try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(try await analytics(c, 1)?.attention == 240.0 / 60.0)
            #expect(try await analytics(c, 2)?.attention == 0)
            #expect(try await analytics(c, 3)?.attention == 100.0 / 60.0)
            #expect(try await analytics(c, 4)?.attention == 90.5 / 60.0)
        }
    }

    @Test("active seconds cap each time_sec at 300; total time does not")
    func activeCap() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await attempts(f, session: 1, [(0, 1, true, 299), (10, 1, true, 300), (20, 1, true, 301), (30, 1, true, 1000)])
            try await TestRunner(database: db).run(Self.job, Self.day)
            let r = try #require(try await analytics(c, 1))
            #expect(r.active == 299 + 300 + 300 + 300)
            #expect(r.totalMs == 1000 * (299 + 300 + 301 + 1000) && r.avgMs == 1000 * 1900 / 4)
        }
    }

    @Test("difficulty bands: < 0.2 easy, exactly 0.2 medium, exactly 0.5 hard, no stats medium")
    func difficultyBands() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await stats(c, question: 1, difficulty: 0.19999999999999998)
            try await stats(c, question: 2, difficulty: 0.2)
            try await stats(c, question: 3, difficulty: 0.49999999999999994)
            try await stats(c, question: 4, difficulty: 0.5)
            try await stats(c, question: 5, difficulty: 1.0)
            try await stats(c, question: 6, difficulty: 0.0)
            // question 7: no stats
            try await attempts(f, session: 1, [(0, 1, true, 1), (1, 2, true, 1), (2, 3, true, 1), (3, 4, true, 1),
                                               (4, 5, true, 1), (5, 6, true, 1), (6, 7, true, 1)])
            try await TestRunner(database: db).run(Self.job, Self.day)
            let r = try #require(try await analytics(c, 1))
            #expect(r.easy == 2 && r.medium == 3 && r.hard == 2)
        }
    }

    @Test("a rerun of session-analytics alone for an older D bands with D's difficulties, not the newest question_stats")
    func rerunUsesTheDatesDifficulties() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = Fixture(c)
            for n in 1...121 { try await f.learner(n) }
            try await f.question(1, subcategory: "A")
            // 11-18: session 1 answers question 1 correctly, and so do 20 others: easy.
            try await f.session(1, learner: 1, startedAt: "2026-11-18T10:00:00Z", endedAt: "2026-11-18T10:30:00Z")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-18T10:05:00Z", correct: true, session: 1)
            for n in 2...21 { try await f.attempt(learner: n, question: 1, at: "2026-11-18T12:00:00Z", correct: true) }
            // 11-20: 100 learners get it wrong: hard from then on.
            for n in 22...121 { try await f.attempt(learner: n, question: 1, at: "2026-11-20T12:00:00Z", correct: false) }
            let runner = try TestRunner(database: db)
            for day in ["2026-11-18", "2026-11-19", "2026-11-20"] {
                try await runner.run("learning-impact", .d(day))
                try await runner.run(Self.job, .d(day))
            }
            // Day by day, session 1 was last computed by 11-19's run, with 11-19's difficulty (0: easy).
            let inOrder = try #require(try await analytics(c, 1))
            #expect(inOrder.easy == 1 && inOrder.hard == 0, "\(inOrder)")
            let newest = try await c.query("SELECT difficulty FROM question_stats WHERE question_id = $1", [Fixture.id("q", 1)])
                .first!.decode("difficulty", as: Double.self)
            #expect(newest >= 0.5, "11-20's difficulty is hard: \(newest)")
            let before = try await db.dump("session_analytics", on: c)
            // session-analytics alone for 11-19 (question_stats now says 11-20): nothing changes.
            let rerun = try await runner.run(Self.job, .d("2026-11-19"))
            #expect(rerun.status == .succeeded)
            #expect(rerun.report?.totals.rowsWritten == 0)
            #expect(try await db.dump("session_analytics", on: c) == before)
            // learning-impact's rerun of a date rewrites that date's difficulties only when they change.
            let again = try await runner.run("learning-impact", .d("2026-11-20"))
            #expect(again.report?.counters?["aggregate_rows"] ?? 0 == 0)
        }
    }

    @Test("optimal band: exact fractions (2/3 and 5/6 tie: the easier band wins); 2 attempts are not enough")
    func optimalBand() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [1, 2, 3, 4, 5])
            try await stats(c, question: 1, difficulty: 0.1) // easy
            try await stats(c, question: 4, difficulty: 0.3) // medium
            try await stats(c, question: 7, difficulty: 0.7) // hard
            // Session 1: easy 2/3, medium 5/6 -> tie at 1/12 -> easy.
            try await attempts(f, session: 1, [(0, 1, true, 1), (1, 1, true, 1), (2, 1, false, 1)]
                               + (3..<9).map { ($0, 4, $0 != 3, 1) })
            // Session 2: medium 2/3, hard 5/6 -> medium.
            try await attempts(f, session: 2, [(0, 4, true, 1), (1, 4, true, 1), (2, 4, false, 1)]
                               + (3..<9).map { ($0, 7, $0 != 3, 1) })
            // Session 3: medium 3/3 (1/4 away), hard 2/3 (1/12 away) -> hard.
            try await attempts(f, session: 3, [(0, 4, true, 1), (1, 4, true, 1), (2, 4, true, 1),
                                               (3, 7, true, 1), (4, 7, true, 1), (5, 7, false, 1)])
            // Session 4: easy 1/2 (2 attempts: not eligible), medium 0/3 -> medium.
            try await attempts(f, session: 4, [(0, 1, true, 1), (1, 1, false, 1),
                                               (2, 4, false, 1), (3, 4, false, 1), (4, 4, false, 1)])
            // Session 5: two attempts per band: none eligible.
            try await attempts(f, session: 5, [(0, 1, true, 1), (1, 1, false, 1), (2, 4, true, 1), (3, 4, false, 1),
                                               (4, 7, true, 1), (5, 7, false, 1)])
            try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(try await analytics(c, 1)?.optimal == "easy")
            #expect(try await analytics(c, 2)?.optimal == "medium")
            #expect(try await analytics(c, 3)?.optimal == "hard")
            #expect(try await analytics(c, 4)?.optimal == "medium")
            let s5 = try #require(try await analytics(c, 5))
            #expect(s5.optimal == nil && s5.easy == 2 && s5.medium == 2 && s5.hard == 2)
        }
    }

    @Test("optimal band with a configured target of 0.7: 4/5 and 3/5 tie exactly (double would pick 3/5)")
    func optimalBandExact() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await stats(c, question: 1, difficulty: 0.1) // easy
            try await stats(c, question: 4, difficulty: 0.3) // medium
            try await attempts(f, session: 1, (0..<5).map { ($0, 1, $0 != 0, 1) } + (5..<10).map { ($0, 4, $0 >= 7, 1) })
            let (fourFifths, threeFifths): (Double, Double) = (4.0 / 5.0, 3.0 / 5.0)
            #expect((threeFifths - 0.7).magnitude < (fourFifths - 0.7).magnitude)
            var config = BatchConfig()
            config.sessions.targetAccuracy = 0.7
            try await TestRunner(database: db, config: config).run(Self.job, Self.day)
            let r = try #require(try await analytics(c, 1))
            #expect(r.optimal == "easy" && r.easy == 5 && r.medium == 5 && r.correct == 4 + 3)
        }
    }

    /// The spec's rule in exact fractions: among the bands with at least
    /// `minimum` attempts (and some), the one whose accuracy c/n is closest
    /// to `target` = p/q, ties to the easier band. |c/n - p/q| compares as
    /// |q c - p n| / (q n), so a against b as |q c_a - p n_a| * n_b against
    /// |q c_b - p n_b| * n_a, in integers.
    static func referenceBand(_ bands: [(n: Int, c: Int)], target: (p: Int, q: Int), minimum: Int) -> String? {
        var best: Int?
        for (i, b) in bands.enumerated() where b.n > 0 && b.n >= minimum {
            guard let j = best else { best = i; continue }
            let (d, dBest) = (abs(target.q * b.c - target.p * b.n), abs(target.q * bands[j].c - target.p * bands[j].n))
            if d * bands[j].n < dBest * b.n { best = i } // strictly closer; a tie keeps the easier band
        }
        return best.map { ["easy", "medium", "hard"][$0] }
    }

    @Test("optimal band: the job agrees with an exact-fraction reference on 150 sessions, for two targets and minimums")
    func optimalBandReference() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let sessions = Array(1...150)
            let f = try await setUp(c, sessions: sessions)
            try await stats(c, question: 1, difficulty: 0.1) // easy
            try await stats(c, question: 4, difficulty: 0.3) // medium
            try await stats(c, question: 7, difficulty: 0.7) // hard
            // Deterministic band counts: n in 0...6 and c in 0...n per band (a small LCG).
            var seed: UInt64 = 20261202
            func next(_ bound: Int) -> Int {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Int((seed >> 33) % UInt64(bound))
            }
            var counts: [Int: [(n: Int, c: Int)]] = [:]
            for s in sessions {
                let bands = (0..<3).map { _ -> (n: Int, c: Int) in let n = next(7); return (n, next(n + 1)) }
                counts[s] = bands
                var t = 0
                for (band, b) in bands.enumerated() {
                    for k in 0..<b.n {
                        try await f.attempt(learner: 1, question: [1, 4, 7][band], at: Self.at(t), correct: k < b.c,
                                            timeSec: 1, session: s)
                        t += 1
                    }
                }
            }
            for (target, minimum) in [((3, 4), 3), ((7, 10), 1)] {
                var config = BatchConfig()
                config.sessions.targetAccuracy = Double(target.0) / Double(target.1)
                config.sessions.bandMinAttempts = minimum
                let outcome = try await TestRunner(database: db, config: config).run(Self.job, Self.day)
                #expect(outcome.status == .succeeded)
                var found: Set<String?> = []
                for s in sessions {
                    let bands = try #require(counts[s])
                    let expected = Self.referenceBand(bands, target: (target.0, target.1), minimum: minimum)
                    let row = try #require(try await analytics(c, s))
                    #expect(row.optimal == expected, "session \(s), bands \(bands), target \(target), minimum \(minimum)")
                    #expect([row.easy, row.medium, row.hard] == bands.map(\.n))
                    found.insert(expected)
                }
                // Every band wins somewhere, so the comparison covers each
                // branch; with 3 attempts needed, some sessions have none.
                #expect(found.isSuperset(of: ["easy", "medium", "hard"]))
                if minimum == 3 { #expect(found.contains(nil)) }
            }
        }
    }

    @Test("learning velocity: active 300 s and 5 attempts qualify; 299 s or 4 attempts give NULL")
    func velocity() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [1, 2, 3, 4])
            try await attempts(f, session: 1, (0..<5).map { ($0 * 60, 1, $0 < 3, 60) })
            try await attempts(f, session: 2, (0..<5).map { ($0 * 60, 1, $0 < 3, $0 == 4 ? 59 : 60) })
            try await attempts(f, session: 3, (0..<4).map { ($0 * 60, 1, true, 100) })
            try await attempts(f, session: 4, (0..<5).map { ($0 * 60, 1, $0 != 2, 1000) })
            try await TestRunner(database: db).run(Self.job, Self.day)
            let s1 = try #require(try await analytics(c, 1))
            #expect(s1.active == 300 && s1.velocity == 3.0 / (300.0 / 3600.0))
            let s2 = try #require(try await analytics(c, 2))
            #expect(s2.active == 299 && s2.velocity == nil)
            let s3 = try #require(try await analytics(c, 3))
            #expect(s3.active == 400 && s3.velocity == nil)
            // Capped: 5 * 300 active seconds.
            let s4 = try #require(try await analytics(c, 4))
            #expect(s4.active == 1500 && s4.velocity == 4.0 / (1500.0 / 3600.0))
        }
    }

    @Test("concept switches count consecutive pairs whose subcategory differs, in (created_at, id) order")
    func conceptSwitches() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [1, 2])
            // A A B A C C: 3 switches, 3 subcategories.
            try await attempts(f, session: 1, [(0, 1, true, 1), (10, 2, true, 1), (20, 4, true, 1), (30, 1, true, 1),
                                               (40, 7, true, 1), (50, 8, true, 1)])
            // A, then B and A at the same instant (ids ...1 < ...2 decide): A B A -> 2 switches.
            try await attempts(f, session: 2, [(0, 1, true, 1)])
            for (id, q) in [(1, 4), (2, 1)] {
                try await c.query("""
                    INSERT INTO attempts (id, learner_id, question_id, session_id, attempt_no, context, correct, time_sec, created_at)
                    VALUES ($1, $2, $3, $4, 1, 'session', true, 1, '2026-11-20T10:00:10Z')
                    """, [Fixture.id("a", id), Fixture.id("l", 1), Fixture.id("q", q), Fixture.id("s", 2)])
            }
            try await TestRunner(database: db).run(Self.job, Self.day)
            let s1 = try #require(try await analytics(c, 1))
            #expect(s1.switches == 3 && s1.topics == 3)
            let s2 = try #require(try await analytics(c, 2))
            #expect(s2.switches == 2 && s2.topics == 2)
        }
    }

    @Test("a bad attempt between two good ones is nobody's neighbour: no concept switch, no run joined across it")
    func badAttemptBetween() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            // A at 0 s, a bad B (negative time_sec) at 100 s, A at 200 s. Without B the
            // two A are 200 s apart (two runs) and the same subcategory (no switch); counted
            // as neighbours, B would join one 200 s run and make a switch.
            try await attempts(f, session: 1, [(0, 1, true, 1), (100, 4, true, -1), (200, 1, true, 1)])
            let outcome = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(outcome.report?.badRows["negative_time_sec"] == 1)
            let r = try #require(try await analytics(c, 1))
            #expect(r.attempted == 2 && r.switches == 0 && r.topics == 1 && r.attention == 0)
        }
    }

    @Test("subjects: sorted distinct, in \"C\" order")
    func subjects() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c)
            try await f.question(11, subcategory: "m1", subject: "math")
            try await f.question(12, subcategory: "z1", subject: "Zoology")
            try await f.question(13, subcategory: "a1", subject: "art")
            try await f.question(14, subcategory: "e1", subject: "Émile")
            try await attempts(f, session: 1, [(0, 11, true, 1), (1, 14, true, 1), (2, 13, true, 1), (3, 12, true, 1),
                                               (4, 11, true, 1)])
            try await TestRunner(database: db).run(Self.job, Self.day)
            let r = try #require(try await analytics(c, 1))
            #expect(r.subjects == "{Zoology,art,math,Émile}")
            #expect(r.topics == 4 && r.switches == 4)
        }
    }

    @Test("coverage: ended before the cut and started on D-1 or D, or without analytics yet (none, or as of a later date)")
    func coverage() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [])
            let sessions: [(Int, String, String?)] = [
                (1, "2026-11-18T10:00:00Z", "2026-11-18T11:00:00Z"), // D-2, has analytics: not recomputed
                (2, "2026-11-18T10:00:00Z", "2026-11-18T11:00:00Z"), // D-2, none yet: computed
                (3, "2026-11-19T00:00:00Z", "2026-11-19T01:00:00Z"), // D-1, has analytics: recomputed
                (4, "2026-11-20T23:50:00Z", "2026-11-21T00:10:00Z"), // ends after the cut
                (5, "2026-11-20T23:00:00Z", "2026-11-21T00:00:00Z"), // ends exactly at the cut
                (6, "2026-11-20T23:00:00Z", nil),                    // still open
                (7, "2026-11-18T10:00:00Z", "2026-11-18T11:00:00Z"), // D-2, analytics as of D+1: computed
                (8, "2026-11-18T10:00:00Z", "2026-11-18T11:00:00Z"), // D-2, analytics without as_of (before 0005): computed
                (9, "2026-11-18T10:00:00Z", "2026-11-18T11:00:00Z"), // D-2, analytics as of D: not recomputed
            ]
            for (n, start, end) in sessions {
                try await f.session(n, learner: 1, startedAt: start, endedAt: end)
                try await f.attempt(learner: 1, question: 1, at: start, correct: true, session: n)
            }
            let stale = """
                INSERT INTO session_analytics VALUES ($1, 9, 9, 9, 9, 9, '{stale}', 9, '{"easy": 9, "medium": 9, "hard": 9}',
                                                      9, 9, 9, 'hard', 9, '2026-11-19T00:00:00Z', $2::date)
                """
            try await c.query(stale, [Fixture.id("s", 1), "2026-11-18"])
            try await c.query(stale, [Fixture.id("s", 3), "2026-11-18"])
            try await c.query(stale, [Fixture.id("s", 7), "2026-11-21"])
            try await c.query(stale, [Fixture.id("s", 8), String?.none])
            try await c.query(stale, [Fixture.id("s", 9), "2026-11-20"])
            let outcome = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(try await analytics(c, 1)?.attempted == 9)
            #expect(try await computedAt(c, 1) == "2026-11-19T00:00:00Z")
            let one = Row(attempted: 1, correct: 1, accuracy: 100, totalMs: 10000, avgMs: 10000, subjects: "{math}",
                          topics: 1, medium: 1, active: 10, attention: 0)
            #expect(try await analytics(c, 2) == one)
            #expect(try await analytics(c, 3) == one)
            #expect(try await computedAt(c, 3) == "2026-11-21T00:00:00Z")
            for n in 4...6 { #expect(try await analytics(c, n) == nil) }
            #expect(try await analytics(c, 7) == one)
            #expect(try await analytics(c, 8) == one)
            #expect(try await analytics(c, 9)?.attempted == 9)
            #expect(try await computedAt(c, 9) == "2026-11-19T00:00:00Z")
            #expect(outcome.report?.totals.rowsWritten == 4)
            #expect(outcome.report?.totals.rowsRead == 4 + 4)
        }
    }

    @Test("coverage of D-1 and D is in the configured zone")
    func coverageZone() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [])
            // Europe/Berlin (UTC+1): D-1 = 2026-11-19 starts at 2026-11-18T23:00Z; the cut is 2026-11-20T23:00Z.
            try await f.session(1, learner: 1, startedAt: "2026-11-18T22:59:59Z", endedAt: "2026-11-18T23:30:00Z")
            try await f.session(2, learner: 1, startedAt: "2026-11-18T23:00:00Z", endedAt: "2026-11-18T23:30:00Z")
            try await f.session(3, learner: 1, startedAt: "2026-11-20T22:00:00Z", endedAt: "2026-11-20T23:00:00Z")
            for n in 1...2 {
                try await c.query("""
                    INSERT INTO session_analytics VALUES ($1, 9, 9, 9, 9, 9, '{stale}', 9, '{"easy": 9, "medium": 9, "hard": 9}',
                                                          9, 9, 9, 'hard', 9, '2026-11-19T00:00:00Z', '2026-11-18')
                    """, [Fixture.id("s", n)])
            }
            var config = BatchConfig()
            config.timezone = "Europe/Berlin"
            try await TestRunner(database: db, config: config).run(Self.job, Self.day)
            #expect(try await analytics(c, 1)?.attempted == 9)
            #expect(try await analytics(c, 2) == Row())
            #expect(try await analytics(c, 3) == nil)
        }
    }

    @Test("attempts at or after the cut are excluded and counted; one after the session's end counts, with a warning")
    func afterCutAndAfterEnd() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [])
            try await f.session(1, learner: 1, startedAt: "2026-11-20T23:00:00Z", endedAt: "2026-11-20T23:30:00Z")
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T23:10:00Z", correct: true, session: 1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-20T23:40:00Z", correct: false, session: 1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-21T00:00:00Z", correct: true, session: 1)
            try await f.attempt(learner: 1, question: 1, at: "2026-11-21T00:05:00Z", correct: true, session: 1)
            let outcome = try await TestRunner(database: db).run(Self.job, Self.day)
            #expect(outcome.status == .succeeded)
            let r = try #require(try await analytics(c, 1))
            #expect(r.attempted == 2 && r.correct == 1 && r.accuracy == 50 && r.attention == 0)
            #expect(outcome.report?.badRows == ["created_after_cut": 2])
            #expect(outcome.report?.warnings == ["1 attempts created after their session's ended_at (counted with the session)"])
        }
    }

    @Test("bad sessions and bad attempts are excluded and counted; a session turned bad loses its analytics")
    func badRows() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [1])
            try await f.session(2, learner: 1, startedAt: "2026-11-20T10:00:00Z", endedAt: "2026-11-20T09:00:00Z")
            try await attempts(f, session: 1, [(0, 1, true, 10)])
            try await f.attempt(learner: 1, question: 1, at: Self.at(10), correct: true, timeSec: -5, session: 1)
            try await f.attempt(learner: 1, question: 99, at: Self.at(20), correct: true, session: 1)
            try await f.attempt(learner: 1, question: 1, at: Self.at(30), correct: true, context: "homework", session: 1)
            let runner = try TestRunner(database: db)
            let outcome = try await runner.run(Self.job, Self.day)
            #expect(outcome.status == .succeeded)
            #expect(outcome.report?.badRows == ["ended_before_started": 1, "negative_time_sec": 1, "question_missing": 1,
                                                "unknown_context": 1])
            #expect(try await analytics(c, 1)?.attempted == 1)
            #expect(try await analytics(c, 2) == nil)
            // Session 1's end is moved before its start: it is bad now, its analytics go.
            try await c.query("UPDATE sessions SET ended_at = '2026-11-20T09:59:59Z' WHERE id = $1", [Fixture.id("s", 1)])
            let again = try await runner.run(Self.job, Self.day)
            #expect(try await analytics(c, 1) == nil)
            #expect(again.report?.badRows["ended_before_started"] == 2)
            #expect(again.report?.totals.rowsWritten == 1)
        }
    }

    @Test("a rerun changes nothing; computed_at changes only with a value")
    func rerun() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let f = try await setUp(c, sessions: [1, 2])
            try await stats(c, question: 1, difficulty: 0.1)
            try await attempts(f, session: 1, [(0, 1, true, 10), (60, 4, false, 400), (90, 7, true, 20),
                                               (100, 1, true, 30), (130, 1, false, 40), (400, 4, true, 50)])
            let runner = try TestRunner(database: db)
            try await runner.run(Self.job, Self.day)
            let before = try await db.snapshot(on: c)
            let again = try await runner.run(Self.job, Self.day)
            #expect(try await db.snapshot(on: c) == before)
            #expect(again.report?.totals.rowsWritten == 0)
            // D+1 covers the same sessions (started on its D-1): no value changes, so
            // computed_at stays; only as_of moves to D+1.
            let next = try await runner.run(Self.job, .d("2026-11-21"))
            #expect(next.report?.totals.rowsWritten == 2)
            #expect(try await computedAt(c, 1) == "2026-11-21T00:00:00Z")
            let asOf = try await c.query("SELECT DISTINCT as_of::text AS d FROM session_analytics").rows.map { try $0.decode("d", as: String.self) }
            #expect(asOf == ["2026-11-21"])
            // New difficulty from learning-impact: the distribution changes, and computed_at with it.
            try await stats(c, question: 1, difficulty: 0.6)
            let changed = try await runner.run(Self.job, .d("2026-11-21"))
            #expect(changed.report?.totals.rowsWritten == 1)
            let r = try #require(try await analytics(c, 1))
            #expect(r.easy == 0 && r.medium == 3 && r.hard == 3)
            #expect(try await computedAt(c, 1) == "2026-11-22T00:00:00Z")
            #expect(try await computedAt(c, 2) == "2026-11-21T00:00:00Z")
        }
    }
}
