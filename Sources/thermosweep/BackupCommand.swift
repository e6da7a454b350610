import ArgumentParser
import Foundation
import Session
import Store

/// `thermosweep backup`: a journal as one file, safe to copy while its sweep runs.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a sweep's database to one new file (safe while the sweep runs).",
        discussion: """
            A database is the .sqlite file together with its -wal file, which may hold the latest \
            results (after a crash or a full disk, all of them): copying the .sqlite alone can lose \
            them or give a malformed database. backup copies both into one consistent file that can \
            be moved anywhere and resumed with `sweep --db NEW`. An existing --to is never replaced.
            """)

    @Option(help: "The sweep's database.")
    var db: String

    @Option(help: "The new file.")
    var to: String

    func run() throws {
        try exitOnFailure {
            try Store.backup(path: db, to: to)
            print("copied \(db) (with its -wal) to \(to)")
        }
    }
}
