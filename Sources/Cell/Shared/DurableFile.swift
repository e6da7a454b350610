// Every file ThermoSweep writes outside the journal (exports, the report, key files, the endpoint
// file) goes through `DurableFile.write`: a reader sees the old file or the whole new one, never a
// part, and once it returns the file survives a crash or a power cut.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic, durable file writes: a temporary file in the target's folder, written and fsynced, then
/// renamed over the target (or linked to it, refusing to replace one), then the folder fsynced so
/// that the new name itself is on disk.
public enum DurableFile {
    /// Why a write failed; the target is untouched and no temporary file is left behind.
    public struct Failure: Error, Equatable, CustomStringConvertible, Sendable {
        public let path: String
        /// The system's reason (`No space left on device`), or what is wrong.
        public let detail: String
        /// The target exists and `replace` was false.
        public let exists: Bool

        public var description: String { "cannot write \(path): \(detail)" }
    }

    /// Writes `bytes` to `path` with permissions `mode`. With `replace` false an existing `path`
    /// is never touched: the write fails with `exists` set.
    public static func write(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644,
                             replace: Bool = true) throws(Failure) {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = (folder.isEmpty ? "" : folder) + "/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        func fail(_ detail: String, exists: Bool = false) -> Failure {
            Failure(path: path, detail: detail, exists: exists)
        }
        func reason() -> String { String(cString: strerror(errno)) }

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw fail("cannot create a temporary file in \(folder): \(reason())") }
        var failure: Failure?
        Array(bytes).withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = fail(reason())
                    return
                }
                offset += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = fail(reason()) }
        if close(fd) != 0 && failure == nil { failure = fail(reason()) }
        if failure == nil {
            if replace {
                if rename(temporary, path) != 0 { failure = fail(reason()) }
            } else if link(temporary, path) != 0 {
                let exists = errno == EEXIST
                failure = fail(exists ? "it exists" : reason(), exists: exists)
            }
        }
        // After a rename the temporary name is gone; after a link (or a failure) it is removed here.
        unlink(temporary)
        if let failure { throw failure }
        syncFolder(folder.isEmpty ? "/" : folder)
    }

    /// fsync of a folder, so that a name created or renamed in it is durable. Best effort: some
    /// file systems refuse it, and the file's own data is already synced.
    private static func syncFolder(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
#endif
