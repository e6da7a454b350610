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
            While a sweep runs, and after a crash or a full disk, the .sqlite file's -wal file may \
            hold the latest results: the .sqlite alone is a whole journal, but without them. backup \
            copies both into one consistent file that can be moved anywhere and resumed with \
            `sweep --db NEW`. An existing --to is never replaced.
            """)

    @OptionGroup var database: DatabaseOption

    @Option(help: "The new file.")
    var to: String

    func run() throws {
        try exitOnFailure {
            try Store.backup(path: database.db, to: to)
            print("copied \(database.db) (with its -wal) to \(to)")
        }
    }
}
