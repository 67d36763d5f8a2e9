import BatchEngine
import BatchTesting
import Foundation
import PostgresClient
import Testing

/// Drill 6, full disk: the report directory is a full file system. The run
/// itself succeeds and is recorded (its report is in batch.job_runs.report);
/// the missing file is an error line on stderr, not a crash or a lost run.
///
/// Needs root to mount a tiny tmpfs; elsewhere the test is skipped.
@Suite("drill 6: full disk for reports", .serialized)
struct FullDiskDrillTests {
    /// Root, and mounting a tmpfs actually works here (a container may forbid it).
    static var canMount: Bool {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/bin/mount") else { return false }
        let probe = NSTemporaryDirectory() + "mount-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard let (status, _) = try? Spawn.run(["/bin/mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", probe]), status == 0 else {
            return false
        }
        _ = try? Spawn.run(["/bin/umount", probe])
        return true
    }

    @Test("a full report file system: exit 0, run recorded with its report, a clear error about the file", .enabled(if: canMount))
    func fullReportDisk() async throws {
        try await TestPostgres.withDatabase { db in
            let cli = CLIProcess()
            let mountPoint = cli.workingDirectory + "/full"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            let (mounted, _) = try Spawn.run(["/bin/mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mountPoint])
            try #require(mounted == 0, "could not mount a tmpfs")
            defer { _ = try? Spawn.run(["/bin/umount", mountPoint]) }
            // Fill it up.
            _ = try Spawn.run(["/bin/sh", "-c", "dd if=/dev/zero of=\(mountPoint)/filler bs=1k count=64 2>/dev/null; true"])
            let config = cli.workingDirectory + "/config.toml"
            try "report_dir = \"\(mountPoint)\"\n".write(toFile: config, atomically: true, encoding: .utf8)
            let result = try cli.run(["--job", "mastery-update", "--date", "2026-11-20", "--config", config, "--database", db.conninfo])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("report file was not written"), "\(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
            let c = try await db.connect()
            let row = try await c.query("SELECT status, report IS NOT NULL AS has_report FROM batch.job_runs").first!
            #expect(try row.decode("status", as: String.self) == "succeeded")
            #expect(try row.decode("has_report", as: Bool.self))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: mountPoint).filter { $0.hasSuffix(".tmp") }
            #expect(leftovers.isEmpty, "\(leftovers)")
            Drill.record("6 bad input (full disk)", "report file not written, run recorded succeeded with its report, exit 0")
        }
    }
}
