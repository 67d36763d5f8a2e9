import BatchTesting
import Foundation
import Testing

/// deploy/systemd units: `systemd-analyze verify` passes and the exposure
/// score stays at or below the target (1.5).
@Suite("systemd units")
struct SystemdUnitTests {
    static let units = ["studybuddy-batch.service", "studybuddy-batch@.service", "studybuddy-batch-nightly.timer",
                        "studybuddy-batch-decay.timer", "studybuddy-batch-session-close.timer",
                        "studybuddy-batch-failure@.service"]

    /// Copies of the units whose ExecStart points at the built binary
    /// (verify wants the executable to exist).
    func copies() throws -> String {
        let folder = NSTemporaryDirectory() + "units-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for unit in Self.units {
            let text = try String(contentsOfFile: TestPostgres.projectRoot + "/deploy/systemd/" + unit, encoding: .utf8)
            try text.replacingOccurrences(of: "/usr/local/bin/studybuddy-batch", with: CLIProcess.binary)
                .write(toFile: folder + "/" + unit, atomically: true, encoding: .utf8)
        }
        return folder
    }

    func analyze(_ arguments: [String], in folder: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("systemd-analyze verify passes on every unit", arguments: units)
    func verify(unit: String) throws {
        let folder = try copies()
        let (status, output) = try analyze(["verify", "./" + unit], in: folder)
        #expect(status == 0, "\(output)")
        #expect(!output.contains("Unknown key") && !output.contains("Failed to parse"), "\(output)")
    }

    @Test("the services' exposure is at most 1.5", arguments: ["studybuddy-batch.service", "studybuddy-batch@.service"])
    func exposure(unit: String) throws {
        let folder = try copies()
        let (_, output) = try analyze(["security", "--offline=yes", "./" + unit], in: folder)
        let line = try #require(output.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
        #expect(score <= 1.5, "\(line)")
    }

    @Test("the daemon unit has what operators rely on")
    func serviceSettings() throws {
        let text = try String(contentsOfFile: TestPostgres.projectRoot + "/deploy/systemd/studybuddy-batch.service", encoding: .utf8)
        for setting in ["Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartPreventExitStatus=2",
                        "Environment=SWIFT_BACKTRACE=enable=no", "StateDirectory=", "LoadCredential=db-password",
                        "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
                        "SystemCallFilter=@system-service", "PrivateTmp=yes", "ProtectHome=yes",
                        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "ExecReload="] {
            #expect(text.contains(setting), "missing \(setting)")
        }
        let oneshot = try String(contentsOfFile: TestPostgres.projectRoot + "/deploy/systemd/studybuddy-batch@.service", encoding: .utf8)
        #expect(oneshot.contains("SuccessExitStatus=75") && oneshot.contains("Type=oneshot") && oneshot.contains("OnFailure="))
    }
}
