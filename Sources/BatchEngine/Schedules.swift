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

    /// The next slot after `instant`, in the configured zone (DST-safe,
    /// see `SlotCalendar`).
    public static func nextDue(job: JobDefinition, config: BatchConfig, after instant: Date) -> Date? {
        let calendar = SlotCalendar(zone: config.timeZone)
        switch job.name {
        case "mastery-decay":
            return calendar.nextSlot(of: config.schedule.decay.compactMap(ScheduleTime.init), after: instant)
        case "session-close":
            return SlotCalendar.nextInterval(minutes: config.schedule.sessionCloseEveryMinutes, after: instant)
        default:
            return ScheduleTime(config.schedule.nightly).flatMap { calendar.nextSlot(of: [$0], after: instant) }
        }
    }

    /// The latest slot at or before `instant`: the default T of a slot job.
    public static func latestSlot(job: JobDefinition, config: BatchConfig, atOrBefore instant: Date) -> Date {
        switch job.name {
        case "mastery-decay":
            return SlotCalendar(zone: config.timeZone)
                .latestSlot(of: config.schedule.decay.compactMap(ScheduleTime.init), atOrBefore: instant) ?? instant
        default:
            return SlotCalendar.latestInterval(minutes: config.schedule.sessionCloseEveryMinutes, atOrBefore: instant)
        }
    }

    /// `2026-11-25 02:00 GMT+1`: the local time in `zone` and its offset
    /// name. By hand rather than with DateFormatter, which costs the daemon
    /// about 4 MB of RSS for one status line.
    public static func describe(_ date: Date, in zone: TimeZone) -> String {
        let local = Int(date.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: date)
        let (days, secondOfDay) = ISOInstant.floorDivision(local, 86_400)
        let time = LocalDate.zeroPadded(secondOfDay / 3600) + ":" + LocalDate.zeroPadded(secondOfDay / 60 % 60)
        return LocalDate(dayNumber: days).description + " " + time + " " + (zone.abbreviation(for: date) ?? "GMT")
    }
}

/// `batch.job_schedule`, so that views and dashboards can see the schedule.
public enum ScheduleTable {
    public static func write(registry: JobRegistry, config: BatchConfig, clock: BatchClock,
                             on connection: Connection) async throws {
        var rows: [(String, String, String, [String]?, Int?, Date?)] = []
        let nightlyTimes = [config.schedule.nightly]
        if !registry.pipeline.isEmpty {
            let next = ScheduleTime(config.schedule.nightly)
                .flatMap { SlotCalendar(zone: config.timeZone).nextSlot(of: [$0], after: clock.now) }
            rows.append((JobRegistry.pipelineName, "nightly at \(config.schedule.nightly)", "nightly", nightlyTimes, nil, next))
        }
        for job in registry.jobs {
            let next = Schedules.nextDue(job: job, config: config, after: clock.now)
            switch job.name {
            case "mastery-decay":
                rows.append((job.name, Schedules.text(for: job, config: config), "slot", config.schedule.decay, nil, next))
            case "session-close":
                rows.append((job.name, Schedules.text(for: job, config: config), "slot", nil,
                             config.schedule.sessionCloseEveryMinutes, next))
            default:
                rows.append((job.name, Schedules.text(for: job, config: config), "nightly", nightlyTimes, nil, next))
            }
        }
        for (job, text, kind, times, every, next) in rows {
            try await connection.query("""
                INSERT INTO batch.job_schedule (job, schedule, timezone, next_due, kind, times, every_minutes, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, now())
                ON CONFLICT (job) DO UPDATE
                SET schedule = EXCLUDED.schedule, timezone = EXCLUDED.timezone, next_due = EXCLUDED.next_due,
                    kind = EXCLUDED.kind, times = EXCLUDED.times, every_minutes = EXCLUDED.every_minutes,
                    updated_at = EXCLUDED.updated_at
                """, [job, text, config.timezone, next, kind, times, every])
        }
    }
}
