import Foundation
import Logging

/// Log lines on stderr, one per event, written whole (stderr is unbuffered,
/// so lines reach the journal or a file as they happen).
///
/// `text`: `2026-11-24T02:00:01.123Z info job=mastery-update run_id=17 message`;
/// under systemd (`JOURNAL_STREAM` set) the line starts with the syslog
/// priority (`<3>`, `<4>`, `<6>`, ...) and leaves the time to the journal.
/// `json`: one object per line with `ts`, `level`, `msg` and the metadata.
public struct BatchLogHandler: LogHandler {
    public enum Format: String, Sendable { case text, json }

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let format: Format
    let journal: Bool

    public init(format: Format, level: Logger.Level = .info,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.format = format
        self.logLevel = level
        self.journal = environment["JOURNAL_STREAM"] != nil
    }

    /// Installs the handler process-wide (once, at start).
    public static func bootstrap(format: Format, level: Logger.Level = .info) {
        LoggingSystem.bootstrap { _ in BatchLogHandler(format: format, level: level) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line: String
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let body = (fields.isEmpty ? "" : fields + " ") + event.message.description
            line = journal
                ? "<\(Self.priority(event.level))>\(body)"
                : "\(ISOInstant.format(Date())) \(event.level) \(body)"
        case .json:
            var object: [String: String] = ["ts": ISOInstant.format(Date()), "level": "\(event.level)",
                                            "msg": event.message.description]
            for (key, value) in merged where object[key] == nil { object[key] = "\(value)" }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let json = (try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            line = journal ? "<\(Self.priority(event.level))>\(json)" : json
        }
        FileHandle.standardError.write(Data((line.replacingOccurrences(of: "\n", with: " ") + "\n").utf8))
    }

    /// syslog priorities, as sd-daemon(3) prefixes expect.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: return 2
        case .error: return 3
        case .warning: return 4
        case .notice: return 5
        case .info: return 6
        case .debug, .trace: return 7
        }
    }
}
