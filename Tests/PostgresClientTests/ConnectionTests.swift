import BatchTesting
import Foundation
import PostgresClient
import Testing

@Suite("libpq layer")
struct ConnectionTests {
    @Test("parameters travel separately: NULL, unicode, quotes and SQL metacharacters round-trip")
    func parameters() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let nasty = "Zoë's \"quiz\"; DROP TABLE learners; -- 🦊 \\ $1 :name"
            let row = try await c.query(
                "SELECT $1::text AS s, $2::text AS n, $3::int AS i, $4::float8 AS d, $5::bool AS b, $6::uuid AS u, $7::date AS day",
                [nasty, String?.none, 42, 0.1, true, UUID(uuidString: "00000000-0000-0000-0000-0000000000a1")!, LocalDate.d("2026-03-29")]
            ).first!
            #expect(try row.decode("s", as: String.self) == nasty)
            #expect(try row.decode("n", as: String?.self) == nil)
            #expect(try row.decode("i", as: Int.self) == 42)
            #expect(try row.decode("d", as: Double.self) == 0.1)
            #expect(try row.decode("b", as: Bool.self))
            #expect(try row.decode("u", as: UUID.self).uuidString == "00000000-0000-0000-0000-0000000000A1")
            #expect(try row.decode("day", as: LocalDate.self) == LocalDate.d("2026-03-29"))
            // The learners table is still there.
            #expect(try await c.query("SELECT count(*) AS n FROM learners").first!.decode("n", as: Int.self) == 0)
        }
    }

    @Test("doubles round-trip bit for bit, timestamps to the microsecond, text arrays with quotes")
    func exactValues() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let values = [0.1 + 0.2, 1.0 / 3.0, Double.leastNonzeroMagnitude, 0.7143434198558344, -0.0]
            for value in values {
                let back = try await c.query("SELECT $1::float8 AS v", [value]).first!.decode("v", as: Double.self)
                #expect(back.bitPattern == value.bitPattern || (back == 0 && value == 0))
            }
            let instant = Date(timeIntervalSince1970: 1_795_000_000.123456)
            let back = try await c.query("SELECT $1::timestamptz AS t", [instant]).first!.decode("t", as: Date.self)
            #expect(abs(back.timeIntervalSince1970 - instant.timeIntervalSince1970) < 0.000_001)
            let list = ["session", "a \"b\"", "c,d", "back\\slash", "ünï"]
            let array = try await c.query("SELECT $1::text[] AS a", [list]).first!.decode("a", as: [String].self)
            #expect(array == list)
        }
    }

    @Test("named parameters bind by name, skip ::casts, strings and comments, and reject a missing name")
    func namedParameters() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let row = try await c.query(named: """
                -- :ignored in a comment
                SELECT :a::int + :b::int AS sum, ':not_a_param' AS literal, :a::int AS again
                """, ["a": 2, "b": 40]).first!
            #expect(try row.decode("sum", as: Int.self) == 42)
            #expect(try row.decode("literal", as: String.self) == ":not_a_param")
            #expect(try row.decode("again", as: Int.self) == 2)
            await #expect(throws: PostgresError.self) {
                try await c.query(named: "SELECT :missing::int", [:])
            }
        }
    }

    @Test("a type mismatch or NULL names the column")
    func decodingErrors() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let row = try await c.query("SELECT 'x'::text AS label, NULL::int AS empty, 1.5::float8 AS ratio").first!
            do {
                _ = try row.decode("label", as: Int.self)
                Issue.record("decoding text as Int must fail")
            } catch let error as PostgresError {
                #expect(error.kind == .decoding)
                #expect(error.message.contains("\"label\""))
            }
            do {
                _ = try row.decode("empty", as: Int.self)
                Issue.record("decoding NULL as Int must fail")
            } catch let error as PostgresError {
                #expect(error.message.contains("\"empty\"") && error.message.contains("NULL"))
            }
            #expect(throws: PostgresError.self) { try row.decode("ratio", as: Bool.self) }
            #expect(throws: PostgresError.self) { try row.decode("nope", as: Int.self) }
        }
    }

    @Test("affected rows: INSERT, UPDATE, DELETE and MERGE count the rows they wrote (a MERGE row that matches no action is not counted)")
    func affectedRows() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await c.query("CREATE TABLE t (k int PRIMARY KEY, v int NOT NULL)")
            #expect(try await c.query("INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)").affectedRows == 3)
            #expect(try await c.query("UPDATE t SET v = v + 1 WHERE k > 1").affectedRows == 2)
            let merge = try await c.query("""
                MERGE INTO t USING (VALUES (1, 1), (2, 9), (4, 4)) s (k, v) ON t.k = s.k
                WHEN MATCHED AND t.v IS DISTINCT FROM s.v THEN UPDATE SET v = s.v
                WHEN NOT MATCHED THEN INSERT (k, v) VALUES (s.k, s.v)
                """)
            #expect(merge.commandTag == "MERGE 2")
            #expect(merge.affectedRows == 2)
            #expect(try await c.query("DELETE FROM t WHERE k >= 3").affectedRows == 2)
        }
    }

    @Test("a constraint violation keeps SQLSTATE, message and detail")
    func sqlState() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let id = UUID()
            try await c.query("INSERT INTO learners (id) VALUES ($1)", [id])
            do {
                try await c.query("INSERT INTO learners (id) VALUES ($1)", [id])
                Issue.record("duplicate key must fail")
            } catch let error as PostgresError {
                #expect(error.sqlState == "23505")
                #expect(error.kind == .server)
                #expect(error.message.contains("duplicate key"))
                #expect(error.detail?.contains(id.uuidString.lowercased()) == true)
            }
        }
    }

    @Test("a transaction commits on success and rolls back on any thrown error")
    func transactions() async throws {
        struct Boom: Error {}
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            try await c.transaction { tx in try await tx.query("INSERT INTO learners (display_name) VALUES ('kept')") }
            await #expect(throws: Boom.self) {
                try await c.transaction { tx in
                    try await tx.query("INSERT INTO learners (display_name) VALUES ('lost')")
                    throw Boom()
                }
            }
            await #expect(throws: PostgresError.self) {
                try await c.transaction { tx in
                    try await tx.query("INSERT INTO learners (display_name) VALUES ('lost too')")
                    try await tx.query("SELECT 1/0")
                }
            }
            let names = try await c.query("SELECT display_name FROM learners ORDER BY 1").rows.map { try $0.decode("display_name", as: String.self) }
            #expect(names == ["kept"])
            // The connection is usable afterwards (no transaction left open).
            #expect(try await c.query("SELECT 1 AS one").first!.decode("one", as: Int.self) == 1)
        }
    }

    @Test("cancelling the task cancels the running statement (PQcancel) and rolls back")
    func cancellation() async throws {
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            let started = Date()
            let task = Task {
                try await c.transaction { tx in
                    try await tx.query("INSERT INTO learners (display_name) VALUES ('cancelled')")
                    try await tx.query("SELECT pg_sleep(30)")
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            let result = await task.result
            #expect(Date().timeIntervalSince(started) < 25)   // pg_sleep(30) was cut short
            guard case .failure(let error) = result else {
                Issue.record("a cancelled statement must throw")
                return
            }
            #expect((error as? PostgresError)?.sqlState == "57014" || error is CancellationError)
            #expect(try await c.query("SELECT count(*) AS n FROM learners").first!.decode("n", as: Int.self) == 0)
        }
    }

    @Test("advisory locks: session-level excludes other sessions until unlocked; transaction-level ends with the transaction")
    func advisoryLocks() async throws {
        try await TestPostgres.withDatabase { db in
            let a = try await db.connect()
            let b = try await db.connect()
            let key = AdvisoryLockKey(name: "mastery-update")
            #expect(key == AdvisoryLockKey(name: "mastery-update"))
            #expect(key != AdvisoryLockKey(name: "cleanup"))
            #expect(try await a.tryAdvisoryLock(key))
            #expect(try await !b.tryAdvisoryLock(key))
            #expect(try await b.advisoryLockHolder(key) == a.backendPID)
            #expect(try await a.advisoryUnlock(key))
            #expect(try await b.tryAdvisoryLock(key))
            _ = try await b.advisoryUnlock(key)

            let (inside, other) = try await a.transaction { tx in
                (try await tx.tryAdvisoryTransactionLock(key), try await b.tryAdvisoryLock(key))
            }
            #expect(inside)
            #expect(!other)
            #expect(try await b.tryAdvisoryLock(key))
        }
    }

    @Test("scripts of several statements, and statement splitting that respects quotes and bodies")
    func scripts() async throws {
        let parts = SQLText.statements("""
            -- header; with a semicolon
            CREATE TABLE x (a text DEFAULT 'a;b');
            CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
            /* only a comment; */
            SELECT ';' AS "semi;colon"
            """)
        #expect(parts.count == 3)
        #expect(parts[1].hasSuffix("$$ SELECT 1; $$"))
        try await TestPostgres.withDatabase { db in
            let c = try await db.connect()
            for statement in parts { try await c.run(statement) }
            #expect(try await c.query("SELECT f() AS v").first!.decode("v", as: Int.self) == 1)
        }
    }

    @Test("a failed connection names host, port and database, never the password")
    func connectionFailure() async throws {
        let secret = "Sup3r-Secret-Pa55word"
        let options = ConnectionOptions(conninfo: "host=127.0.0.1 port=1 dbname=nowhere user=u password=\(secret) connect_timeout=2")
        do {
            _ = try await Connection.connect(options)
            Issue.record("connecting to port 1 must fail")
        } catch let error as PostgresError {
            #expect(error.kind == .connectionFailed)
            #expect(error.message.contains("127.0.0.1:1/nowhere"))
            #expect(!error.description.contains(secret))
        }
        #expect(!options.redacted.contains(secret))
        #expect(options.redacted.contains("host=127.0.0.1"))
        let uri = ConnectionOptions(conninfo: "postgresql://u:\(secret)@db.example:5433/app")
        #expect(!uri.redacted.contains(secret))
        #expect(uri.redacted.contains("dbname=app"))
        // libpq quotes the token it cannot parse; when that is the password,
        // the message must not carry it.
        for bad in ["postgresql://u:\(secret)%zz@db.example/app", "postgresql://u:a/\(secret)%zz@db.example/app",
                    "host=h password=\(secret) \(secret)", "postgresql://db.example/app?password=\(secret)%zz"] {
            let options = ConnectionOptions(conninfo: bad)
            let reason = try #require(options.parseError, "\(bad) must not parse")
            #expect(!reason.contains(secret), "\(reason)")
            #expect(options.redacted == "<unparsable conninfo>")
        }
        #expect(ConnectionOptions(conninfo: "foo=bar").parseError?.contains("\"foo\"") == true)
        #expect(ConnectionOptions(conninfo: "").parseError == nil)
        // A bare name is a database name to libpq (expand_dbname only expands strings with "=" or a URI).
        #expect(ConnectionOptions(conninfo: "studybuddy").parseError == nil)
        #expect(ConnectionOptions(conninfo: "studybuddy").redacted == "dbname=studybuddy")
        // The SSL key's passphrase is a secret too.
        let ssl = ConnectionOptions(conninfo: "host=h dbname=d sslpassword=\(secret)")
        #expect(!ssl.redacted.contains(secret) && ssl.redacted.contains("dbname=d"))
        // A password holding a quote cannot leak through libpq's quoted token.
        let quoted = ConnectionOptions(conninfo: "postgresql://u:p\"\(secret)%zz@db.example/app")
        #expect(!(quoted.parseError ?? "").contains(secret), "\(quoted.parseError ?? "")")
        #expect(options.parseError == nil)
    }

    @Test("LocalDate parses strictly and does calendar arithmetic")
    func localDate() {
        #expect(LocalDate("2026-02-29") == nil)
        #expect(LocalDate("0000-01-01") == nil)
        #expect(LocalDate("2026-1-01") == nil)
        #expect(LocalDate("2024-02-29") != nil)
        #expect(LocalDate.d("2026-12-31").adding(days: 1) == LocalDate.d("2027-01-01"))
        #expect(LocalDate.d("2026-03-01").days(until: LocalDate.d("2026-03-31")) == 30)
        #expect(LocalDate(dayNumber: 0) == LocalDate.d("1970-01-01"))
    }
}
