import Foundation

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
public enum ISOInstant {
    /// The whole text must be `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`:
    /// Foundation's ISO8601DateFormatter on Linux ignores trailing text, so
    /// `--at "2026-11-24T00:00:00Z'; DROP ..."` would otherwise be taken
    /// for a valid instant.
    public static func parse(_ text: String) -> Date? {
        guard text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})/) != nil
        else { return nil }
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text) ?? withFraction.date(from: text)
    }

    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
