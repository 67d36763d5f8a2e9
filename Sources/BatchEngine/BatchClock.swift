import Foundation
import PostgresClient

/// The wall clock, injectable. Jobs never read it for their computations
/// (they receive their as-of instant); it decides defaults ("yesterday"),
/// refuses future dates and stamps run rows.
public struct BatchClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) { self.read = read }

    public var now: Date { read() }

    public static let system = BatchClock { Date() }

    /// The system clock, unless `STUDYBUDDY_BATCH_NOW` (an ISO 8601 instant,
    /// for tests and drills) sets it: the clock then reads that instant at
    /// process start and runs on in real time from there.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> BatchClock {
        guard let text = environment["STUDYBUDDY_BATCH_NOW"], !text.isEmpty else { return .system }
        guard let instant = ISOInstant.parse(text) else {
            throw BatchError.usage("STUDYBUDDY_BATCH_NOW=\(text) is not an ISO 8601 instant with offset, e.g. 2026-11-24T06:00:00Z")
        }
        let offset = instant.timeIntervalSince(Date())
        return BatchClock { Date().addingTimeInterval(offset) }
    }
}

/// ISO 8601 instants with an offset (`2026-11-24T06:00:00+01:00`, `...Z`).
///
/// Parsed and formatted by hand, not with Foundation's ISO8601DateFormatter:
/// that formatter (ICU underneath) added about 4 MB to the peak RSS of every
/// run, whose reports carry instants (BENCHMARKS.md, night round 2), and on
/// Linux it also ignored trailing text and rolled `2026-02-30` over into
/// March.
public enum ISOInstant {
    /// The whole text must be `YYYY-MM-DDTHH:MM:SS[.fff...](Z|±HH:MM)`, a
    /// real calendar date and time (hours 00-23, offsets up to ±23:59);
    /// fractions finer than a millisecond are cut off, as before.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var value = 0
            for byte in b[from..<(from + count)] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        func byte(_ at: Int, is char: UInt8) -> Bool { at < b.count && b[at] == char }
        guard let year = digits(0, 4), byte(4, is: 45), let month = digits(5, 2), byte(7, is: 45), let day = digits(8, 2),
              byte(10, is: 84), let hour = digits(11, 2), byte(13, is: 58), let minute = digits(14, 2),
              byte(16, is: 58), let second = digits(17, 2),
              let date = LocalDate(year: year, month: month, day: day), hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var at = 19
        var milliseconds = 0
        if byte(at, is: 46) {
            at += 1
            let start = at
            while at < b.count, (48...57).contains(b[at]) {
                if at - start < 3 { milliseconds = milliseconds * 10 + Int(b[at] - 48) }
                at += 1
            }
            guard at > start else { return nil }
            for _ in min(at - start, 3)..<3 { milliseconds *= 10 }
        }
        var offset = 0
        if byte(at, is: 90) {
            at += 1
        } else if at < b.count, b[at] == 43 || b[at] == 45, let oh = digits(at + 1, 2), byte(at + 3, is: 58),
                  let om = digits(at + 4, 2), oh <= 23, om <= 59 {
            offset = (b[at] == 45 ? -1 : 1) * (oh * 3600 + om * 60)
            at += 6
        } else {
            return nil
        }
        guard at == b.count else { return nil }
        let seconds = date.dayNumber * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000)
    }

    /// `YYYY-MM-DDTHH:MM:SS.fffZ`, in UTC, rounded to the millisecond.
    public static func format(_ date: Date) -> String {
        let total = Int((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, milliseconds) = floorDivision(total, 1000)
        let (days, secondOfDay) = floorDivision(seconds, 86_400)
        let day = LocalDate(dayNumber: days).description
        let time = [secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60]
            .map { LocalDate.zeroPadded($0) }.joined(separator: ":")
        return day + "T" + time + "." + LocalDate.zeroPadded(milliseconds, width: 3) + "Z"
    }

    /// Quotient and remainder rounded toward minus infinity (the remainder
    /// is never negative): a day number and second of day before 1970 too.
    static func floorDivision(_ a: Int, _ b: Int) -> (Int, Int) {
        let r = a % b
        return r < 0 ? (a / b - 1, r + b) : (a / b, r)
    }
}
