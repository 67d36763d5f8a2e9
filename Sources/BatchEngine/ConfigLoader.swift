import Foundation
import TOMLKit

/// Reads the TOML config file. An unknown key, a value of the wrong type or
/// out of range is a `ConfigError` that names the key (exit 2).
public enum ConfigLoader {
    /// The default path, used when present and no `--config` is given.
    public static let defaultPath = "/etc/studybuddy-batch/config.toml"

    /// Loads `path`, or the default file when it exists, or the defaults.
    public static func load(path: String?) throws -> BatchConfig {
        if let path {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigError("config file \(path) does not exist; pass an existing --config PATH or leave it out for the defaults")
            }
            return try load(fileAt: path)
        }
        if FileManager.default.fileExists(atPath: defaultPath) { return try load(fileAt: defaultPath) }
        return BatchConfig()
    }

    static func load(fileAt path: String) throws -> BatchConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("config file \(path) is not UTF-8 text")
        }
        // The TOML parser reads a C string: a NUL byte would silently cut
        // the file short (a corrupt file read as empty = all defaults).
        guard !data.contains(0) else {
            throw ConfigError("config file \(path) contains a NUL byte: it is corrupt or not a text file")
        }
        return try parse(text, source: path)
    }

    /// Parses TOML text into a validated config.
    public static func parse(_ text: String, source: String = "config") throws -> BatchConfig {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ConfigError("\(source): invalid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigError("\(source): invalid TOML: \(error)")
        }
        var config = BatchConfig()
        try apply(table, prefix: "", to: &config, source: source)
        try validate(config, source: source)
        return config
    }

    private static func apply(_ table: TOMLTable, prefix: String, to config: inout BatchConfig, source: String) throws {
        // Plain values first, then tables, so that `[timeouts.JOB]` starts
        // from the `[timeouts]` defaults whatever the file's order.
        let keys = table.keys.sorted()
        let ordered = keys.filter { table[$0]?.table == nil } + keys.filter { table[$0]?.table != nil }
        for key in ordered {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            guard let value = table[key] else { continue }
            if prefix == "timeouts", let sub = value.table {
                var timeouts = config.timeouts
                for subKey in sub.keys.sorted() {
                    let subPath = "\(path).\(subKey)"
                    guard let setting = ConfigKeys.timeoutKeys[subKey] else {
                        throw ConfigError("\(source): unknown key \(subPath); a [timeouts.JOB] table takes \(ConfigKeys.timeoutKeys.keys.sorted().joined(separator: ", "))")
                    }
                    try setting(&timeouts, sub[subKey]!, subPath)
                }
                config.jobTimeouts[key] = timeouts
                continue
            }
            if let sub = value.table {
                guard ConfigKeys.tables.contains(path) else {
                    throw ConfigError("\(source): unknown table [\(path)]; known tables: \(ConfigKeys.tables.sorted().joined(separator: ", "))")
                }
                try apply(sub, prefix: path, to: &config, source: source)
                continue
            }
            guard let setting = ConfigKeys.all[path] else {
                throw ConfigError("\(source): unknown key \(path); see the example config for every key")
            }
            try setting(&config, value, path)
        }
    }

    static func validate(_ c: BatchConfig, source: String) throws {
        func check(_ ok: Bool, _ key: String, _ rule: String) throws {
            if !ok { throw ConfigError("\(source): \(key) \(rule)") }
        }
        try check(TimeZone(identifier: c.timezone) != nil, "timezone", "must be an IANA time zone name such as \"Europe/Berlin\", not \"\(c.timezone)\"")
        try check(["text", "json"].contains(c.logFormat), "log_format", "must be \"text\" or \"json\"")
        try check(c.mastery.alpha > 0 && c.mastery.alpha <= 1, "mastery.alpha", "must be in (0, 1]")
        try check((0...1).contains(c.mastery.hintCredit), "mastery.hint_credit", "must be in [0, 1]")
        try check((0...1).contains(c.mastery.initial), "mastery.initial", "must be in [0, 1]")
        try check(!c.mastery.contexts.isEmpty && c.mastery.contexts.allSatisfy { ["session", "practice", "daily"].contains($0) },
                  "mastery.contexts", "must list one or more of \"session\", \"practice\", \"daily\"")
        try check(c.decay.halfLifeDays > 0, "decay.half_life_days", "must be > 0")
        try check((0...1).contains(c.decay.floorRatio), "decay.floor_ratio", "must be in [0, 1]")
        try check(c.difficulty.windowDays >= 1, "difficulty.window_days", "must be >= 1")
        try check(c.difficulty.priorWeight >= 0, "difficulty.prior_weight", "must be >= 0")
        try check(c.difficulty.provisionalBelow >= 0, "difficulty.provisional_below", "must be >= 0")
        try check((0...1).contains(c.difficulty.globalPrior), "difficulty.global_prior", "must be in [0, 1]")
        try check(c.difficulty.easyBelow <= c.difficulty.hardFrom, "difficulty.easy_below", "must not exceed difficulty.hard_from")
        try check(c.impact.maxOpportunity >= 1, "impact.max_opportunity", "must be >= 1")
        try check(c.impact.minPerOpportunity >= 1, "impact.min_per_opportunity", "must be >= 1")
        try check(c.impact.minOpportunities >= 2, "impact.min_opportunities", "must be >= 2 (a slope needs two points)")
        try check(c.importance.target > 0 && c.importance.target <= 1, "importance.target", "must be in (0, 1]")
        for (key, weight) in [("w_gap", c.importance.wGap), ("w_due", c.importance.wDue), ("w_impact", c.importance.wImpact)] {
            try check(weight >= 0 && weight <= 1000, "importance.\(key)", "must be in [0, 1000]")
        }
        try check(c.importance.activeDays >= 1, "importance.active_days", "must be >= 1")
        try check(c.importance.top >= 1, "importance.top", "must be >= 1")
        try check(c.importance.defaultDailyGoal >= 0, "importance.default_daily_goal", "must be >= 0")
        try check(c.sessions.idleTimeoutMinutes >= 1, "sessions.idle_timeout_minutes", "must be >= 1")
        try check(c.sessions.attentionGapSeconds >= 0, "sessions.attention_gap_seconds", "must be >= 0")
        try check(c.sessions.activeCapSeconds >= 1, "sessions.active_cap_seconds", "must be >= 1")
        try check((0...1).contains(c.sessions.targetAccuracy), "sessions.target_accuracy", "must be in [0, 1]")
        try check(c.sessions.bandMinAttempts >= 1, "sessions.band_min_attempts", "must be >= 1")
        try check(c.sessions.velocityMinActiveSeconds >= 0, "sessions.velocity_min_active_seconds", "must be >= 0")
        try check(c.sessions.velocityMinAttempts >= 0, "sessions.velocity_min_attempts", "must be >= 0")
        try check(ScheduleTime(c.schedule.nightly) != nil, "schedule.nightly", "must be a time HH:MM, not \"\(c.schedule.nightly)\"")
        try check(!c.schedule.decay.isEmpty && c.schedule.decay.allSatisfy { ScheduleTime($0) != nil }, "schedule.decay", "must list times HH:MM")
        try check((1...1440).contains(c.schedule.sessionCloseEveryMinutes), "schedule.session_close_every_minutes", "must be in 1...1440")
        try check(c.catchup.maxDays >= 0, "catchup.max_days", "must be >= 0")
        try check(c.catchup.maxCascadeDays >= 0, "catchup.max_cascade_days", "must be >= 0")
        try check(c.shutdown.graceSeconds >= 0 && c.shutdown.graceSeconds <= 3600, "shutdown.grace_seconds", "must be in [0, 3600]")
        for (name, t) in [("timeouts", c.timeouts)] + c.jobTimeouts.map({ ("timeouts.\($0.key)", $0.value) }) {
            try check(t.statementSeconds >= 0, "\(name).statement_seconds", "must be >= 0 (0 = no limit)")
            try check(t.lockSeconds >= 0, "\(name).lock_seconds", "must be >= 0 (0 = no limit)")
            try check(t.idleInTransactionSeconds >= 0, "\(name).idle_in_transaction_seconds", "must be >= 0 (0 = no limit)")
        }
        let r = c.retention
        for (key, days) in [("empty_session_days", r.emptySessionDays), ("plan_days", r.planDays), ("skipped_run_days", r.skippedRunDays),
                            ("step_detail_days", r.stepDetailDays), ("succeeded_run_days", r.succeededRunDays), ("report_file_days", r.reportFileDays)] {
            try check(days >= 1, "retention.\(key)", "must be >= 1")
        }
        try check((1...10_000).contains(r.batchSize), "retention.batch_size", "must be in 1...10000")
    }
}

/// A configuration problem; the message names the key and the fix.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A wall-clock time of day, `HH:MM`, used by schedules.
public struct ScheduleTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let hour: Int
    public let minute: Int
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let h = Int(parts[0]), let m = Int(parts[1]), (0...23).contains(h), (0...59).contains(m)
        else { return nil }
        hour = h
        minute = m
    }
    public var description: String { String(format: "%02d:%02d", hour, minute) }
    public static func < (a: ScheduleTime, b: ScheduleTime) -> Bool { (a.hour, a.minute) < (b.hour, b.minute) }
}

/// The table of known keys: each maps its TOML path to a setter that checks the value's type.
enum ConfigKeys {
    typealias Setter = @Sendable (inout BatchConfig, any TOMLValueConvertible, String) throws -> Void
    typealias TimeoutSetter = @Sendable (inout BatchConfig.Timeouts, any TOMLValueConvertible, String) throws -> Void

    static let tables: Set<String> = ["mastery", "decay", "difficulty", "impact", "importance", "sessions",
                                      "schedule", "catchup", "shutdown", "timeouts", "retention", "metrics"]

    static func string(_ kp: WritableKeyPath<BatchConfig, String> & Sendable) -> Setter {
        { config, value, path in
            guard let s = value.string else { throw ConfigError("config: \(path) must be a string") }
            config[keyPath: kp] = s
        }
    }
    static func double(_ kp: WritableKeyPath<BatchConfig, Double> & Sendable) -> Setter {
        { config, value, path in
            if let d = value.double { config[keyPath: kp] = d }
            else if let i = value.int { config[keyPath: kp] = Double(i) }
            else { throw ConfigError("config: \(path) must be a number") }
        }
    }
    static func int(_ kp: WritableKeyPath<BatchConfig, Int> & Sendable) -> Setter {
        { config, value, path in
            guard let i = value.int else { throw ConfigError("config: \(path) must be a whole number") }
            config[keyPath: kp] = i
        }
    }
    static func strings(_ kp: WritableKeyPath<BatchConfig, [String]> & Sendable) -> Setter {
        { config, value, path in
            guard let array = value.array else { throw ConfigError("config: \(path) must be an array of strings") }
            var list: [String] = []
            for item in array {
                guard let s = item.string else { throw ConfigError("config: \(path) must be an array of strings") }
                list.append(s)
            }
            config[keyPath: kp] = list
        }
    }
    static func seconds(_ kp: WritableKeyPath<BatchConfig.Timeouts, Double> & Sendable) -> TimeoutSetter {
        { t, value, path in
            if let d = value.double { t[keyPath: kp] = d }
            else if let i = value.int { t[keyPath: kp] = Double(i) }
            else { throw ConfigError("config: \(path) must be a number of seconds") }
        }
    }

    static let timeoutKeys: [String: TimeoutSetter] = [
        "statement_seconds": seconds(\.statementSeconds),
        "lock_seconds": seconds(\.lockSeconds),
        "idle_in_transaction_seconds": seconds(\.idleInTransactionSeconds),
    ]

    static let all: [String: Setter] = {
        var keys: [String: Setter] = [
            "timezone": string(\.timezone),
            "database": string(\.database),
            "report_dir": string(\.reportDir),
            "log_format": string(\.logFormat),
            "mastery.alpha": double(\.mastery.alpha),
            "mastery.hint_credit": double(\.mastery.hintCredit),
            "mastery.initial": double(\.mastery.initial),
            "mastery.contexts": strings(\.mastery.contexts),
            "decay.half_life_days": double(\.decay.halfLifeDays),
            "decay.floor_ratio": double(\.decay.floorRatio),
            "difficulty.window_days": int(\.difficulty.windowDays),
            "difficulty.prior_weight": int(\.difficulty.priorWeight),
            "difficulty.provisional_below": int(\.difficulty.provisionalBelow),
            "difficulty.global_prior": double(\.difficulty.globalPrior),
            "difficulty.easy_below": double(\.difficulty.easyBelow),
            "difficulty.hard_from": double(\.difficulty.hardFrom),
            "impact.max_opportunity": int(\.impact.maxOpportunity),
            "impact.min_per_opportunity": int(\.impact.minPerOpportunity),
            "impact.min_opportunities": int(\.impact.minOpportunities),
            "importance.target": double(\.importance.target),
            "importance.w_gap": double(\.importance.wGap),
            "importance.w_due": double(\.importance.wDue),
            "importance.w_impact": double(\.importance.wImpact),
            "importance.active_days": int(\.importance.activeDays),
            "importance.top": int(\.importance.top),
            "importance.default_daily_goal": int(\.importance.defaultDailyGoal),
            "sessions.idle_timeout_minutes": int(\.sessions.idleTimeoutMinutes),
            "sessions.attention_gap_seconds": int(\.sessions.attentionGapSeconds),
            "sessions.active_cap_seconds": int(\.sessions.activeCapSeconds),
            "sessions.target_accuracy": double(\.sessions.targetAccuracy),
            "sessions.band_min_attempts": int(\.sessions.bandMinAttempts),
            "sessions.velocity_min_active_seconds": int(\.sessions.velocityMinActiveSeconds),
            "sessions.velocity_min_attempts": int(\.sessions.velocityMinAttempts),
            "schedule.nightly": string(\.schedule.nightly),
            "schedule.decay": strings(\.schedule.decay),
            "schedule.session_close_every_minutes": int(\.schedule.sessionCloseEveryMinutes),
            "catchup.max_days": int(\.catchup.maxDays),
            "catchup.max_cascade_days": int(\.catchup.maxCascadeDays),
            "shutdown.grace_seconds": double(\.shutdown.graceSeconds),
            "retention.empty_session_days": int(\.retention.emptySessionDays),
            "retention.plan_days": int(\.retention.planDays),
            "retention.skipped_run_days": int(\.retention.skippedRunDays),
            "retention.step_detail_days": int(\.retention.stepDetailDays),
            "retention.succeeded_run_days": int(\.retention.succeededRunDays),
            "retention.report_file_days": int(\.retention.reportFileDays),
            "retention.batch_size": int(\.retention.batchSize),
            "metrics.textfile": string(\.metrics.textfile),
        ]
        for (key, setter) in timeoutKeys {
            keys["timeouts.\(key)"] = { config, value, path in try setter(&config.timeouts, value, path) }
        }
        return keys
    }()
}
