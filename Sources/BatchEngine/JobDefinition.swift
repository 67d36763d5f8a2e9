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
    public let run: @Sendable (JobContext) async throws -> Void

    public init(name: String, summary: String, kind: JobKind, schedule: String, dependsOn: [String] = [],
                steps: [String], run: @escaping @Sendable (JobContext) async throws -> Void) {
        self.name = name
        self.summary = summary
        self.kind = kind
        self.schedule = schedule
        self.dependsOn = dependsOn
        self.steps = steps
        self.run = run
    }
}

/// The jobs this binary knows, in pipeline order.
public struct JobRegistry: Sendable {
    public let jobs: [JobDefinition]

    public init(_ jobs: [JobDefinition]) { self.jobs = jobs }

    public subscript(name: String) -> JobDefinition? { jobs.first { $0.name == name } }

    public var names: [String] { jobs.map(\.name) }

    /// The job, or a usage error listing the known ones (exit 2).
    public func require(_ name: String) throws -> JobDefinition {
        guard let job = self[name] else {
            throw BatchError.usage("unknown job \"\(name)\"; known jobs: \(names.joined(separator: ", "))")
        }
        return job
    }
}
