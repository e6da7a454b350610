// A full disk stops the coordinator; the database file alone, copied to a larger disk, resumes
// and ends every job exactly once. The Store's checkpoints never leave the file half written, and
// the one on the way out (into the room kept allocated for it) folds in every commit.
import Foundation
import Store
import Testing

extension FailureTests.Recovery {
    /// 3,080 trivial jobs write about 4.5 MB of journal: more than the 3 MiB disk holds (of which
    /// the journal keeps 2 MiB allocated for its last checkpoint, so it stops after a few dozen).
    static let diskFullGrid = ["--trivial-ms", "1", "--lr", "0.001:1.024:x2", "--batch", "1:512:x2", "--seeds", "28",
                               "--local-workers", "2", "--quiet"]

    @Test(.enabled(if: tmpfsMountWorks(), "mounting a small tmpfs needs root (CAP_SYS_ADMIN)"))
    func aDatabaseCopiedAloneAfterADiskFullStopResumes() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let disk = scratch.file("small-disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mount = try Spawned(["-t", "tmpfs", "-o", "size=3m", "tmpfs", disk], outputPrefix: scratch.file("mount"),
                                executable: "/usr/bin/mount")
        guard mount.wait(timeout: 10) == 0 else {
            Issue.record("mount -t tmpfs failed: \(mount.stderr)")
            return
        }
        defer { umount2(disk, Int32(MNT_DETACH)) }

        let db = disk + "/sweep.sqlite"
        let full = try Spawned(["sweep", "--db", db] + Self.diskFullGrid, outputPrefix: scratch.file("full"))
        let status = full.wait(timeout: 120)
        #expect(status == 1, "exit \(status.map(String.init) ?? "none"): \(full.stderr.suffix(2_000))")
        #expect(full.stderr.contains("free space on its disk"), "\(full.stderr.suffix(2_000))")
        #expect(full.stderr.contains("\(db)-wal"))  // which files belong together

        // The database with its WAL (what a move of both would carry) and the database alone hold
        // the same commits: the exit's checkpoint fitted.
        let both = scratch.file("both/sweep.sqlite"), alone = scratch.file("alone/sweep.sqlite")
        for (copy, suffixes) in [(both, ["", "-wal"]), (alone, [""])] {
            try FileManager.default.createDirectory(atPath: (copy as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            for suffix in suffixes where FileManager.default.fileExists(atPath: db + suffix) {
                try FileManager.default.copyItem(atPath: db + suffix, toPath: copy + suffix)
            }
        }
        let doneBefore = doneCount(alone)
        #expect(doneBefore > 0 && doneBefore < 3_080, "done \(doneBefore)")
        #expect(doneBefore == doneCount(both))

        let resumed = try Spawned(["sweep", "--db", alone] + Self.diskFullGrid, outputPrefix: scratch.file("resumed"))
        #expect(resumed.wait(timeout: 120) == 0, "\(resumed.stderr.suffix(2_000))")
        #expect(resumed.stderr.contains("\(doneBefore) already ended"), "\(resumed.stderr.prefix(1_000))")
        #expect(!FileManager.default.fileExists(atPath: alone + "-wal"), "a clean exit leaves one file")
        try expectExactlyOnce(alone, total: 3_080)
    }
}

/// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN): mounts and unmounts one.
func tmpfsMountWorks() -> Bool {
    guard getuid() == 0, let scratch = try? Scratch("tmpfsProbe") else { return false }
    defer { scratch.remove() }
    let disk = scratch.file("disk")
    guard (try? FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)) != nil,
          let mount = try? Spawned(["-t", "tmpfs", "-o", "size=64k", "tmpfs", disk], outputPrefix: scratch.file("mount"),
                                   executable: "/usr/bin/mount"),
          mount.wait(timeout: 10) == 0 else { return false }
    return umount2(disk, Int32(MNT_DETACH)) == 0
}
