import Foundation
import PostgresClient

/// Scheduled slots in the configured zone, DST-safe.
///
/// A daily time such as 02:00 gives one slot per local date: on a day where
/// that time does not exist (spring forward) the slot is the first valid
/// instant after it; on a day where it exists twice (fall back) the slot is
/// its first occurrence, once. Slots are identified by their local date, so
/// a repeated wall-clock hour never runs a slot twice.
public struct SlotCalendar: Sendable {
    public let zone: TimeZone

    public init(zone: TimeZone) { self.zone = zone }

    /// The instant of `time` on local date `day`.
    public func instant(of time: ScheduleTime, on day: LocalDate) -> Date {
        let naive = Double(day.dayNumber * 86_400 + time.hour * 3_600 + time.minute * 60)
        var offsets = Set<Int>()
        for probe in [-86_400.0, -43_200, 0, 43_200, 86_400] {
            offsets.insert(zone.secondsFromGMT(for: Date(timeIntervalSince1970: naive + probe)))
        }
        let valid = offsets.map { naive - Double($0) }
            .filter { Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: $0))) + $0 == naive }
        if let first = valid.min() { return Date(timeIntervalSince1970: first) }
        // In a gap: the first valid instant after the missing time is the
        // transition itself.
        let earliest = naive - Double(offsets.max() ?? 0) - 1
        return zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: earliest))
            ?? Date(timeIntervalSince1970: naive - Double(offsets.min() ?? 0))
    }

    public func localDate(of instant: Date) -> LocalDate { LocalDate(instant, in: zone) }

    // MARK: Nightly

    /// The nightly slot that processes logical date D runs on D+1 at `time`.
    public func nightlySlot(for day: LocalDate, at time: ScheduleTime) -> Date {
        instant(of: time, on: day.adding(days: 1))
    }

    /// The newest logical date whose nightly slot is at or before `now`.
    public func newestDueNightlyDate(at time: ScheduleTime, now: Date) -> LocalDate {
        let today = localDate(of: now)
        let yesterday = today.adding(days: -1)
        return nightlySlot(for: yesterday, at: time) <= now ? yesterday : yesterday.adding(days: -1)
    }

    /// The nightly dates to catch up: after the last success, at most
    /// `maxDays` back from the newest due date, oldest first.
    public func nightlyCatchup(lastSuccess: LocalDate?, at time: ScheduleTime, now: Date, maxDays: Int) -> [LocalDate] {
        guard maxDays > 0 else { return [] }
        let newest = newestDueNightlyDate(at: time, now: now)
        var first = newest.adding(days: -(maxDays - 1))
        if let lastSuccess, lastSuccess.adding(days: 1) > first { first = lastSuccess.adding(days: 1) }
        guard first <= newest else { return [] }
        return (0...first.days(until: newest)).map { first.adding(days: $0) }
    }

    // MARK: Daily times (decay)

    /// The latest slot of `times` at or before `now`.
    public func latestSlot(of times: [ScheduleTime], atOrBefore now: Date) -> Date? {
        let today = localDate(of: now)
        return [today, today.adding(days: -1)].flatMap { day in times.map { instant(of: $0, on: day) } }
            .filter { $0 <= now }.max()
    }

    /// The first slot of `times` strictly after `instant`.
    public func nextSlot(of times: [ScheduleTime], after instant: Date) -> Date? {
        let day = localDate(of: instant)
        return [day, day.adding(days: 1), day.adding(days: 2)].flatMap { d in times.map { self.instant(of: $0, on: d) } }
            .filter { $0 > instant }.min()
    }

    // MARK: Every N minutes (session-close)

    public static func latestInterval(minutes: Int, atOrBefore now: Date) -> Date {
        let step = Double(minutes * 60)
        return Date(timeIntervalSince1970: (now.timeIntervalSince1970 / step).rounded(.down) * step)
    }

    public static func nextInterval(minutes: Int, after instant: Date) -> Date {
        latestInterval(minutes: minutes, atOrBefore: instant).addingTimeInterval(Double(minutes * 60))
    }
}
