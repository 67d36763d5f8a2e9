import BatchEngine
import BatchTesting
import Foundation
import PostgresClient
import Testing

/// Scheduling on a controllable clock: DST gaps and overlaps, catch-up bounds.
@Suite("slot calendar")
struct SlotCalendarTests {
    let berlin = SlotCalendar(zone: TimeZone(identifier: "Europe/Berlin")!)
    let two = ScheduleTime("02:00")!

    func iso(_ date: Date) -> String { ISOInstant.format(date) }
    func at(_ text: String) -> Date { ISOInstant.parse(text)! }

    @Test("an ordinary day: 02:00 CET is 01:00Z")
    func ordinary() {
        #expect(iso(berlin.instant(of: two, on: .d("2026-11-24"))) == "2026-11-24T01:00:00.000Z")
    }

    @Test("spring forward: 02:00 and 02:30 do not exist; the slot is the first valid instant after them, 03:00 CEST")
    func gap() {
        #expect(iso(berlin.instant(of: two, on: .d("2026-03-29"))) == "2026-03-29T01:00:00.000Z")
        #expect(iso(berlin.instant(of: ScheduleTime("02:30")!, on: .d("2026-03-29"))) == "2026-03-29T01:00:00.000Z")
        #expect(iso(berlin.instant(of: ScheduleTime("03:00")!, on: .d("2026-03-29"))) == "2026-03-29T01:00:00.000Z")
    }

    @Test("fall back: 02:30 happens twice; the slot is the first occurrence, and the date has one slot")
    func overlap() {
        #expect(iso(berlin.instant(of: ScheduleTime("02:30")!, on: .d("2026-10-25"))) == "2026-10-25T00:30:00.000Z")
        // Walking slot to slot over the DST weekend gives one slot per date.
        var instant = at("2026-10-23T12:00:00Z")
        var slots: [String] = []
        for _ in 0..<4 {
            instant = berlin.nextSlot(of: [ScheduleTime("02:30")!], after: instant)!
            slots.append(iso(instant))
        }
        #expect(slots == ["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z",
                          "2026-10-27T01:30:00.000Z"])
    }

    @Test("the nightly slot for D runs on D+1; before it, the newest due date is D-1")
    func nightlyDue() {
        #expect(iso(berlin.nightlySlot(for: .d("2026-11-23"), at: two)) == "2026-11-24T01:00:00.000Z")
        #expect(berlin.newestDueNightlyDate(at: two, now: at("2026-11-24T00:59:59Z")) == .d("2026-11-22"))
        #expect(berlin.newestDueNightlyDate(at: two, now: at("2026-11-24T01:00:00Z")) == .d("2026-11-23"))
    }

    @Test("catch-up: dates after the last success, at most max_days back, oldest first")
    func catchupBounds() {
        let now = at("2026-11-24T06:00:00Z")
        #expect(berlin.nightlyCatchup(lastSuccess: nil, at: two, now: now, maxDays: 7)
                == (17...23).map { LocalDate.d("2026-11-\($0)") })
        #expect(berlin.nightlyCatchup(lastSuccess: .d("2026-11-21"), at: two, now: now, maxDays: 7)
                == [.d("2026-11-22"), .d("2026-11-23")])
        #expect(berlin.nightlyCatchup(lastSuccess: .d("2026-11-01"), at: two, now: now, maxDays: 3)
                == [.d("2026-11-21"), .d("2026-11-22"), .d("2026-11-23")])
        #expect(berlin.nightlyCatchup(lastSuccess: .d("2026-11-23"), at: two, now: now, maxDays: 7).isEmpty)
        #expect(berlin.nightlyCatchup(lastSuccess: nil, at: two, now: now, maxDays: 0).isEmpty)
    }

    @Test("slot jobs: the latest slot at or before now, and the next after")
    func dailyTimes() {
        let times = ["00:00", "06:00", "12:00", "18:00"].compactMap(ScheduleTime.init)
        let utc = SlotCalendar(zone: TimeZone(identifier: "UTC")!)
        #expect(iso(utc.latestSlot(of: times, atOrBefore: at("2026-11-24T05:59:59Z"))!) == "2026-11-24T00:00:00.000Z")
        #expect(iso(utc.latestSlot(of: times, atOrBefore: at("2026-11-24T06:00:00Z"))!) == "2026-11-24T06:00:00.000Z")
        #expect(iso(utc.nextSlot(of: times, after: at("2026-11-24T18:00:00Z"))!) == "2026-11-25T00:00:00.000Z")
        #expect(iso(SlotCalendar.latestInterval(minutes: 15, atOrBefore: at("2026-11-24T06:14:59Z"))) == "2026-11-24T06:00:00.000Z")
        #expect(iso(SlotCalendar.nextInterval(minutes: 15, after: at("2026-11-24T06:15:00Z"))) == "2026-11-24T06:30:00.000Z")
    }

    @Test("ISO instants: formatted in UTC to the millisecond; parsed whole, strictly, with any offset")
    func isoInstants() {
        #expect(iso(Date(timeIntervalSince1970: 1_795_000_000)) == "2026-11-18T11:06:40.000Z")
        #expect(iso(Date(timeIntervalSince1970: 1_795_000_000.1234)) == "2026-11-18T11:06:40.123Z")
        #expect(iso(Date(timeIntervalSince1970: 1_795_000_000.9999)) == "2026-11-18T11:06:41.000Z")
        #expect(iso(Date(timeIntervalSince1970: -1.5)) == "1969-12-31T23:59:58.500Z")
        #expect(iso(at("2024-02-29T23:59:59.5-01:30")) == "2024-03-01T01:29:59.500Z")
        #expect(at("2026-11-24T06:00:00+01:00").timeIntervalSince1970 == 1_795_496_400)
        #expect(at("2026-11-24T06:00:00.123456789Z").timeIntervalSince1970 == 1_795_500_000.123)
        #expect(at("2026-11-24T06:00:00.5Z").timeIntervalSince1970 == 1_795_500_000.5)
        for bad in ["2026-02-30T00:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T23:59:60Z", "2026-11-24T06:00:00+24:00",
                    "2026-11-24T06:00:00", "2026-11-24 06:00:00Z", "2026-11-24T06:00:00Z ", "2026-11-24T06:00:00.Z",
                    "2026-11-24T06:00:00Z'; DROP TABLE x", "2026-11-24T6:00:00Z", "+2026-11-24T06:00:00Z", ""] {
            #expect(ISOInstant.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("a slot is described in local time with its offset name")
    func describe() {
        let instant = at("2026-11-25T01:00:00Z")
        #expect(Schedules.describe(instant, in: TimeZone(identifier: "Europe/Berlin")!) == "2026-11-25 02:00 GMT+1")
        #expect(Schedules.describe(at("2026-07-01T00:30:00Z"), in: TimeZone(identifier: "Europe/Berlin")!) == "2026-07-01 02:30 GMT+2")
        #expect(Schedules.describe(instant, in: TimeZone(identifier: "America/New_York")!) == "2026-11-24 20:00 GMT-5")
        #expect(Schedules.describe(instant, in: TimeZone(identifier: "Asia/Kolkata")!) == "2026-11-25 06:30 GMT+5:30")
        #expect(Schedules.describe(instant, in: TimeZone(identifier: "UTC")!) == "2026-11-25 01:00 GMT")
    }
}
