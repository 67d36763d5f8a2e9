import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An AF_UNIX datagram socket standing in for systemd's `NOTIFY_SOCKET`:
/// collects every sd_notify message a process under test sends.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [(Date, String)] = []
    private var thread: Thread?
    private var open = true

    public init() throws {
        path = "/tmp/sbn-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestSetupError("bind(\(path)) failed") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [weak self] in self?.receiveLoop() }
        self.thread = thread
        thread.start()
    }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 8192)
        while isOpen {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                let text = String(decoding: buffer[0..<n], as: UTF8.self)
                lock.lock()
                received.append((Date(), text))
                lock.unlock()
            }
        }
    }

    private var isOpen: Bool {
        lock.lock()
        defer { lock.unlock() }
        return open
    }

    /// Every message so far, one entry per line (`KEY=value`).
    public var messages: [String] {
        lock.lock()
        defer { lock.unlock() }
        return received.flatMap { $0.1.split(separator: "\n").map(String.init) }
    }

    /// Waits until a message at index `from` or later satisfies
    /// `predicate`; false on timeout.
    public func wait(from start: Int = 0, timeout: TimeInterval, for predicate: (String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if messages.dropFirst(start).contains(where: predicate) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return messages.dropFirst(start).contains(where: predicate)
    }

    public func close() {
        lock.lock()
        open = false
        lock.unlock()
        Thread.sleep(forTimeInterval: 0.3)
        Glibc.close(fd)
        unlink(path)
    }
}

/// A long-running child process (the daemon) with its output captured to files.
public final class DaemonProcess: @unchecked Sendable {
    public let process = Process()
    public let logPath: String

    public init(arguments: [String], environment: [String: String], workingDirectory: String) throws {
        logPath = workingDirectory + "/daemon-\(UUID().uuidString.prefix(6)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        process.executableURL = URL(fileURLWithPath: CLIProcess.binary)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit; nil when it did not exit within `timeout` (then it is killed).
    public func waitForExit(timeout: TimeInterval) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
