import Foundation

/// Every setting of interface.md, with the defaults of computations.md.
/// Loaded from TOML by `ConfigLoader`; flags override it afterwards.
public struct BatchConfig: Sendable, Equatable {
    public var timezone = "UTC"
    public var database = ""
    public var reportDir = ""
    public var logFormat = "text"
    public var mastery = Mastery()
    public var decay = Decay()
    public var difficulty = Difficulty()
    public var impact = Impact()
    public var importance = Importance()
    public var sessions = Sessions()
    public var schedule = Schedule()
    public var catchup = Catchup()
    public var shutdown = Shutdown()
    /// `[timeouts]`: the defaults for every job.
    public var timeouts = Timeouts()
    /// `[timeouts.JOB]`: overrides per job.
    public var jobTimeouts: [String: Timeouts] = [:]
    public var retention = Retention()
    public var metrics = Metrics()

    public init() {}

    public struct Mastery: Sendable, Equatable {
        public var alpha = 0.6
        public var hintCredit = 0.5
        public var initial = 0.0
        public var contexts = ["session"]
    }

    public struct Decay: Sendable, Equatable {
        public var halfLifeDays = 14.0
        public var floorRatio = 0.5
    }

    public struct Difficulty: Sendable, Equatable {
        public var windowDays = 90
        public var priorWeight = 10
        public var provisionalBelow = 30
        public var globalPrior = 0.5
        public var easyBelow = 0.2
        public var hardFrom = 0.5
    }

    public struct Impact: Sendable, Equatable {
        public var maxOpportunity = 10
        public var minPerOpportunity = 5
        public var minOpportunities = 3
    }

    public struct Importance: Sendable, Equatable {
        public var target = 0.8
        public var wGap = 0.5
        public var wDue = 0.3
        public var wImpact = 0.2
        public var activeDays = 30
        public var top = 5
        public var defaultDailyGoal = 20
    }

    public struct Sessions: Sendable, Equatable {
        public var idleTimeoutMinutes = 30
        public var attentionGapSeconds = 120
        public var activeCapSeconds = 300
        public var targetAccuracy = 0.75
        public var bandMinAttempts = 3
        public var velocityMinActiveSeconds = 300
        public var velocityMinAttempts = 5
    }

    public struct Schedule: Sendable, Equatable {
        public var nightly = "02:00"
        public var decay = ["00:00", "06:00", "12:00", "18:00"]
        public var sessionCloseEveryMinutes = 15
    }

    public struct Catchup: Sendable, Equatable {
        public var maxDays = 7
        public var maxCascadeDays = 31
    }

    public struct Shutdown: Sendable, Equatable {
        public var graceSeconds = 5.0
    }

    public struct Timeouts: Sendable, Equatable {
        public var statementSeconds = 600.0
        public var lockSeconds = 10.0
        public var idleInTransactionSeconds = 60.0

        public init(statementSeconds: Double = 600, lockSeconds: Double = 10, idleInTransactionSeconds: Double = 60) {
            self.statementSeconds = statementSeconds
            self.lockSeconds = lockSeconds
            self.idleInTransactionSeconds = idleInTransactionSeconds
        }
    }

    public struct Retention: Sendable, Equatable {
        public var emptySessionDays = 7
        public var planDays = 90
        public var skippedRunDays = 30
        public var stepDetailDays = 30
        public var succeededRunDays = 400
        public var reportFileDays = 30
        public var batchSize = 10_000
    }

    public struct Metrics: Sendable, Equatable {
        public var textfile = ""
    }

    /// The timeouts that apply to `job`: its own table where given, else the defaults.
    public func timeouts(for job: String) -> Timeouts { jobTimeouts[job] ?? timeouts }

    /// The configured zone; validated at load, so this does not fail.
    public var timeZone: TimeZone { TimeZone(identifier: timezone) ?? TimeZone(identifier: "UTC")! }
}
