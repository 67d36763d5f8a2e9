import PostgresClient

/// How a job is triggered, which decides what its run covers.
public enum JobKind: String, Sendable, Codable {
    /// Runs for a logical date D (the window `[D 00:00, D+1 00:00)` in TZ).
    case nightly
    /// Runs as of a slot instant T (decay every 6 h, session-close every 15 min).
    case slot
    /// Runs other jobs in order for one logical date (`nightly`).
    case pipeline
}

/// One entry of the job registry: what `jobs` lists and what the runner runs.
///
/// A job is a transactional pipeline of steps: `run` receives a
/// `JobContext` whose connection is already inside the job's transaction,
/// and records each step through it.
public struct JobDefinition: Sendable {
    public let name: String
    public let summary: String
    public let kind: JobKind
    /// The schedule as people read it, e.g. "nightly at 02:00".
    public let schedule: String
    public let dependsOn: [String]
    /// The step names, in order (for `jobs` and the docs).
    public let steps: [String]
    /// True: the whole run is one transaction. False: the job commits in
    /// batches of its own (`JobContext.batch`), each idempotent, so that no
    /// transaction holds many row locks for long (cleanup).
    public let transactional: Bool
    /// The isolation level of the job's transaction, e.g. "REPEATABLE READ"
    /// (nil: the server's default, READ COMMITTED). REPEATABLE READ gives
    /// every statement of the run one snapshot of the app's tables; only for
    /// a job whose writes no other job or session makes (else a concurrent
    /// update of the same row fails it with SQLSTATE 40001).
    public let isolation: String?
    public let run: @Sendable (JobContext) async throws -> Void

    public init(name: String, summary: String, kind: JobKind, schedule: String, dependsOn: [String] = [],
                steps: [String], transactional: Bool = true, isolation: String? = nil,
                run: @escaping @Sendable (JobContext) async throws -> Void) {
        self.name = name
        self.summary = summary
        self.kind = kind
        self.schedule = schedule
        self.dependsOn = dependsOn
        self.steps = steps
        self.transactional = transactional
        self.isolation = isolation
        self.run = run
    }
}

/// The jobs this binary knows, and the nightly pipeline's order.
public struct JobRegistry: Sendable {
    /// The name of the pipeline that runs `pipeline` in order for one date.
    public static let pipelineName = "nightly"

    public let jobs: [JobDefinition]
    /// Members of the nightly pipeline, in the order they run.
    public let pipeline: [String]

    public init(_ jobs: [JobDefinition], pipeline: [String] = []) {
        self.jobs = jobs
        self.pipeline = pipeline
    }

    public subscript(name: String) -> JobDefinition? { jobs.first { $0.name == name } }

    /// Every name `--job` accepts.
    public var names: [String] { (pipeline.isEmpty ? [] : [Self.pipelineName]) + jobs.map(\.name) }

    /// The job, or a usage error listing the known ones (exit 2).
    public func require(_ name: String) throws -> JobDefinition {
        guard let job = self[name] else {
            throw BatchError.usage("unknown job \"\(name)\"; known jobs: \(names.joined(separator: ", "))")
        }
        return job
    }

    public func isKnown(_ name: String) -> Bool { name == Self.pipelineName && !pipeline.isEmpty || self[name] != nil }

    /// `job` and every pipeline member that depends on it, directly or not,
    /// in pipeline order: what a rerun of `job` must run again.
    public func withDownstream(_ job: String) -> [String] {
        var affected: Set<String> = [job]
        for name in pipeline {
            if let member = self[name], member.dependsOn.contains(where: affected.contains) { affected.insert(name) }
        }
        let ordered = pipeline.filter(affected.contains)
        return ordered.contains(job) ? ordered : [job] + ordered
    }
}

extension JobDefinition {
    /// A job that is one SQL file: every step of `sql/<path>` in order, in
    /// one transaction, with the parameters the config gives.
    public static func sqlFile(
        _ path: String, name: String, summary: String, kind: JobKind, dependsOn: [String] = [], isolation: String? = nil,
        parameters: @escaping @Sendable (BatchConfig) -> [String: any PostgresEncodable] = { _ in [:] }
    ) -> JobDefinition {
        let sql = JobSQL(path)
        return JobDefinition(name: name, summary: summary, kind: kind, schedule: kind == .slot ? "slot" : "nightly",
                             dependsOn: dependsOn, steps: sql.stepNames, isolation: isolation) { context in
            try await context.runSteps(sql, parameters: parameters(context.config))
        }
    }
}
