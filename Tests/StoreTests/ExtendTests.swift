// The room a checkpoint needs is allocated before it starts, holes included: on a full disk the
// Store must answer "no room" for a hole past the content, the kind SQLite's `ftruncate` to a whole
// chunk leaves, even though the file is already that long.
import Foundation
import GRDB
@testable import Store
import Testing

@Suite struct ExtendTests {
    @Test(.enabled(if: canMountTmpfs(), "mounting a small tmpfs needs root (CAP_SYS_ADMIN)"))
    func aHoleOnAFullDiskIsNoRoom() throws {
        let folder = try TemporaryFolder()
        defer { withExtendedLifetime(folder) {} }  // removed only after the unmount below
        let disk = folder.path + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try #require(mount("tmpfs", disk, "tmpfs", 0, "size=1m") == 0, "mount: \(String(cString: strerror(errno)))")
        defer { umount2(disk, Int32(MNT_DETACH)) }

        let path = disk + "/journal.sqlite"
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.write { try $0.execute(sql: "CREATE TABLE t (x)") }
        // Close-on-exec, as the Store's own descriptors: a process that another test spawns
        // meanwhile must not inherit them (a filler it held open would keep the disk full).
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var info = stat()
        #expect(fstat(descriptor, &info) == 0)
        let content = Int64(info.st_size), grown = Int64(info.st_size) + 65_536
        #expect(ftruncate(descriptor, off_t(grown)) == 0)  // a hole past the content

        // Fill the disk.
        let filler = disk + "/filler"
        let fill = open(filler, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        try #require(fill >= 0)
        let block = [UInt8](repeating: 1, count: 4_096)
        while write(fill, block, block.count) == block.count {}
        close(fill)

        try queue.writeWithoutTransaction { db in
            #expect(!Store.extend(db, to: grown, from: content, descriptor: descriptor), "the hole has no room")
        }
        unlink(filler)
        try queue.writeWithoutTransaction { db in
            #expect(Store.extend(db, to: grown, from: content, descriptor: descriptor))
        }
        #expect(fstat(descriptor, &info) == 0)
        #expect(Int64(info.st_blocks) * 512 >= grown, "allocated: \(info.st_blocks) blocks of 512 bytes")
    }
}

/// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN): mounts and unmounts one.
private func canMountTmpfs() -> Bool {
    guard getuid() == 0, let folder = try? TemporaryFolder() else { return false }
    guard mount("tmpfs", folder.path, "tmpfs", 0, "size=64k") == 0 else { return false }
    return umount2(folder.path, Int32(MNT_DETACH)) == 0
}
