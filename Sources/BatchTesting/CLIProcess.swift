import Foundation

/// Runs the built `studybuddy-batch` executable, for tests of exit codes
/// and of what a person sees.
public struct CLIProcess: Sendable {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The executable next to the test bundle (`swift build` puts both in
    /// the same folder).
    public static var binary: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for folder in [here, here.deletingLastPathComponent()] {
            let candidate = folder.appendingPathComponent("studybuddy-batch").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return TestPostgres.projectRoot + "/.build/debug/studybuddy-batch"
    }

    public let workingDirectory: String
    public var environment: [String: String]

    /// A fresh working directory (reports land in its `reports/`), and a
    /// pinned clock.
    public init(now: String = "2026-11-24T06:00:00Z") {
        workingDirectory = NSTemporaryDirectory() + "studybuddy-cli-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: workingDirectory, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["STUDYBUDDY_BATCH_NOW"] = now
        environment.removeValue(forKey: "DATABASE_URL")
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        environment.removeValue(forKey: "JOURNAL_STREAM")
        self.environment = environment
    }

    public func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes while the process runs so that neither fills up.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        group.wait()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Every file under the working directory's `reports/`, concatenated.
    public func reportsText() -> String {
        let folder = workingDirectory + "/reports"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().compactMap { try? String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }.joined(separator: "\n")
    }
}
