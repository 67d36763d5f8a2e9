import Foundation

/// A value that can be sent as a statement parameter, in PostgreSQL's text
/// format. Parameters always travel separately from the statement text
/// (`PQexecParams`): no value is ever spliced into SQL.
public protocol PostgresEncodable: Sendable {
    /// The text form PostgreSQL parses, or nil for SQL NULL.
    var postgresText: String? { get }
}

/// A value that can be read from a result column.
public protocol PostgresDecodable: Sendable {
    /// Type OIDs this Swift type accepts; nil accepts any column type.
    static var acceptedTypes: Set<UInt32>? { get }
    /// Parses PostgreSQL's text output; nil when the text is not valid.
    init?(postgresText: String)
}

/// Type OIDs from `pg_type` that the decoders check against.
public enum PostgresType {
    public static let bool: UInt32 = 16
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let date: UInt32 = 1082
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
    public static let textArray: UInt32 = 1009
    public static let name: UInt32 = 19

    static let integers: Set<UInt32> = [int2, int4, int8, oid]
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresText: String? { self?.postgresText }
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { self }
    public static var acceptedTypes: Set<UInt32>? { nil }
    public init?(postgresText: String) { self = postgresText }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public static var acceptedTypes: Set<UInt32>? { PostgresType.integers.union([PostgresType.numeric]) }
    public init?(postgresText: String) {
        guard let value = Int(postgresText) else { return nil }
        self = value
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public static var acceptedTypes: Set<UInt32>? { PostgresType.integers.union([PostgresType.numeric]) }
    public init?(postgresText: String) {
        guard let value = Int64(postgresText) else { return nil }
        self = value
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public static var acceptedTypes: Set<UInt32>? { PostgresType.integers }
    public init?(postgresText: String) {
        guard let value = Int32(postgresText) else { return nil }
        self = value
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self > 0 ? "Infinity" : "-Infinity" }
        // Swift prints the shortest text that reads back to the same bits.
        return "\(self)"
    }
    public static var acceptedTypes: Set<UInt32>? {
        PostgresType.integers.union([PostgresType.float4, PostgresType.float8, PostgresType.numeric])
    }
    public init?(postgresText: String) {
        switch postgresText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(postgresText) else { return nil }
            self = value
        }
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { self ? "true" : "false" }
    public static var acceptedTypes: Set<UInt32>? { [PostgresType.bool] }
    public init?(postgresText: String) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: return nil
        }
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { uuidString.lowercased() }
    public static var acceptedTypes: Set<UInt32>? { [PostgresType.uuid] }
    public init?(postgresText: String) {
        guard let value = UUID(uuidString: postgresText) else { return nil }
        self = value
    }
}

extension LocalDate: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { description }
    public static var acceptedTypes: Set<UInt32>? { [PostgresType.date] }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Date: PostgresEncodable, PostgresDecodable {
    /// ISO 8601 in UTC with microseconds, which PostgreSQL parses exactly.
    public var postgresText: String? { PostgresTimestamp.format(self) }
    public static var acceptedTypes: Set<UInt32>? { [PostgresType.timestamptz] }
    public init?(postgresText: String) {
        guard let value = PostgresTimestamp.parse(postgresText) else { return nil }
        self = value
    }
}

/// Arrays of text, sent and read as PostgreSQL array literals.
extension Array: PostgresEncodable where Element == String {
    public var postgresText: String? {
        let items = map { item -> String in
            let escaped = item.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\""
        }
        return "{" + items.joined(separator: ",") + "}"
    }
}

extension Array: PostgresDecodable where Element == String {
    public static var acceptedTypes: Set<UInt32>? { [PostgresType.textArray, 1015] }
    public init?(postgresText: String) {
        guard let parsed = PostgresArrayLiteral.parse(postgresText) else { return nil }
        self = parsed
    }
}

/// A JSON value passed as text, for `jsonb` parameters and columns.
public struct JSONText: PostgresEncodable, PostgresDecodable, Hashable {
    public var text: String
    public init(_ text: String) { self.text = text }
    public var postgresText: String? { text }
    public static var acceptedTypes: Set<UInt32>? { [PostgresType.json, PostgresType.jsonb] }
    public init?(postgresText: String) { self.text = postgresText }
}

enum PostgresTimestamp {
    /// Formats in UTC as `YYYY-MM-DD HH:MM:SS.ffffff+00`.
    static func format(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        var seconds = Int((micros / 1_000_000).rounded(.down))
        let fraction = Int(micros - Double(seconds) * 1_000_000)
        let day = LocalDate(dayNumber: Int((Double(seconds) / 86_400).rounded(.down)))
        seconds -= day.dayNumber * 86_400
        return String(
            format: "%@ %02d:%02d:%02d.%06d+00", day.description,
            seconds / 3600, (seconds % 3600) / 60, seconds % 60, fraction)
    }

    /// Parses PostgreSQL's ISO output of `timestamptz`, such as
    /// `2026-03-29 01:30:00.25+00` or `2026-03-29 03:30:00+02:00`.
    static func parse(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        guard chars.count >= 19, chars[10] == UInt8(ascii: " ") || chars[10] == UInt8(ascii: "T"),
              let day = LocalDate(String(decoding: chars[0..<10], as: UTF8.self)),
              let hh = Int(String(decoding: chars[11..<13], as: UTF8.self)),
              let mi = Int(String(decoding: chars[14..<16], as: UTF8.self)),
              let ss = Int(String(decoding: chars[17..<19], as: UTF8.self))
        else { return nil }
        var index = 19
        var micros = 0
        if index < chars.count, chars[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < chars.count, chars[index] >= 48, chars[index] <= 57 {
                if digits < 6 { micros = micros * 10 + Int(chars[index] - 48) }
                digits += 1
                index += 1
            }
            while digits < 6 { micros *= 10; digits += 1 }
        }
        var offsetSeconds = 0
        if index < chars.count {
            let sign = chars[index] == UInt8(ascii: "-") ? -1 : 1
            guard chars[index] == UInt8(ascii: "+") || chars[index] == UInt8(ascii: "-") else { return nil }
            let rest = String(decoding: chars[(index + 1)...], as: UTF8.self).split(separator: ":")
            guard let h = rest.first.flatMap({ Int($0) }) else { return nil }
            let m = rest.count > 1 ? Int(rest[1]) ?? 0 : 0
            let s = rest.count > 2 ? Int(rest[2]) ?? 0 : 0
            offsetSeconds = sign * (h * 3600 + m * 60 + s)
        }
        let total = day.dayNumber * 86_400 + hh * 3600 + mi * 60 + ss - offsetSeconds
        return Date(timeIntervalSince1970: Double(total) + Double(micros) / 1_000_000)
    }
}

enum PostgresArrayLiteral {
    /// Parses a one-dimensional text array literal such as `{a,"b c",NULL}`
    /// (NULL elements are dropped).
    static func parse(_ text: String) -> [String]? {
        let chars = Array(text)
        guard chars.first == "{", chars.last == "}" else { return nil }
        var result: [String] = []
        var index = 1
        let end = chars.count - 1
        if index == end { return [] }
        while index < end {
            var item = ""
            var quoted = false
            if chars[index] == "\"" {
                quoted = true
                index += 1
                while index < end, chars[index] != "\"" {
                    if chars[index] == "\\", index + 1 < end { index += 1 }
                    item.append(chars[index])
                    index += 1
                }
                index += 1
            } else {
                while index < end, chars[index] != "," {
                    item.append(chars[index])
                    index += 1
                }
            }
            if quoted || item != "NULL" { result.append(item) }
            index += 1  // the comma
        }
        return result
    }
}
