import Foundation
import PostgresClient

/// Schedule texts and next due slots, from the `[schedule]` config.
public enum Schedules {
    public static func text(for job: JobDefinition, config: BatchConfig) -> String {
        switch job.name {
        case "mastery-decay": return "daily at " + config.schedule.decay.joined(separator: ", ")
        case "session-close": return "every \(config.schedule.sessionCloseEveryMinutes) min (and before nightly)"
        default:
            return job.kind == .slot ? job.schedule : "nightly at \(config.schedule.nightly) (\(job.schedule == "nightly" ? "pipeline member" : job.schedule))"
        }
    }

    /// The next slot after `instant`, in the configured zone. A time that a
    /// DST change skips runs at the first valid instant after it.
    public static func nextDue(job: JobDefinition, config: BatchConfig, after instant: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = config.timeZone
        func next(_ time: ScheduleTime) -> Date? {
            calendar.nextDate(after: instant, matching: DateComponents(hour: time.hour, minute: time.minute, second: 0),
                              matchingPolicy: .nextTime)
        }
        switch job.name {
        case "mastery-decay":
            return config.schedule.decay.compactMap(ScheduleTime.init).compactMap(next).min()
        case "session-close":
            let step = Double(config.schedule.sessionCloseEveryMinutes * 60)
            return Date(timeIntervalSince1970: (instant.timeIntervalSince1970 / step).rounded(.down) * step + step)
        default:
            return ScheduleTime(config.schedule.nightly).flatMap(next)
        }
    }

    /// The latest slot at or before `instant`: the default T of a slot job.
    public static func latestSlot(job: JobDefinition, config: BatchConfig, atOrBefore instant: Date) -> Date {
        switch job.name {
        case "mastery-decay":
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = config.timeZone
            let times = config.schedule.decay.compactMap(ScheduleTime.init)
            let candidates = times.compactMap { time in
                calendar.nextDate(after: instant, matching: DateComponents(hour: time.hour, minute: time.minute, second: 0),
                                  matchingPolicy: .nextTime, direction: .backward)
            }
            let exact = times.contains { time in
                let c = calendar.dateComponents([.hour, .minute, .second, .nanosecond], from: instant)
                return c.hour == time.hour && c.minute == time.minute && c.second == 0 && (c.nanosecond ?? 0) == 0
            }
            return exact ? instant : (candidates.max() ?? instant)
        default:
            let step = Double(config.schedule.sessionCloseEveryMinutes * 60)
            return Date(timeIntervalSince1970: (instant.timeIntervalSince1970 / step).rounded(.down) * step)
        }
    }

    public static func describe(_ date: Date, in zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.timeZone = zone
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm zzz"
        return formatter.string(from: date)
    }
}

/// `batch.job_schedule`, so that views and dashboards can see the schedule.
public enum ScheduleTable {
    public static func write(registry: JobRegistry, config: BatchConfig, clock: BatchClock,
                             on connection: Connection) async throws {
        for job in registry.jobs {
            let next = Schedules.nextDue(job: job, config: config, after: clock.now)
            try await connection.query("""
                INSERT INTO batch.job_schedule (job, schedule, timezone, next_due, updated_at)
                VALUES ($1, $2, $3, $4, now())
                ON CONFLICT (job) DO UPDATE
                SET schedule = EXCLUDED.schedule, timezone = EXCLUDED.timezone, next_due = EXCLUDED.next_due,
                    updated_at = EXCLUDED.updated_at
                """, [job.name, Schedules.text(for: job, config: config), config.timezone, next])
        }
    }
}
