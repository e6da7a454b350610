import ArgumentParser
import Cell
import Foundation
import SweepProtocol
import Testing
@testable import thermosweep

/// `sweep --grid FILE`: a grid written as a file (`GridFile.text`) reads back as the same grid, the
/// flags given override the file, and a file that is not a grid is refused with the message of the
/// flag it sets, naming the file and the key.
@Suite struct GridFileTests {
    /// A new file holding `text`; the caller removes it.
    static func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString).json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The grid `sweep` gives for `arguments`, its grid file read in.
    static func grid(_ arguments: [String]) throws -> GridSpec {
        try ResumeCommandTests.grid(SweepCommand.withGridFile(arguments)).normalized
    }

    /// The message `sweep` refuses `arguments` with (its grid file read in), or nil.
    static func refusal(_ arguments: [String]) -> String? {
        do {
            _ = try SweepCommand.parse(["--db", "s.sqlite"] + SweepCommand.withGridFile(arguments))
            return nil
        } catch {
            return SweepCommand.message(for: error)
        }
    }

    @Test(arguments: ResumeCommandTests.commands)
    func aGridWrittenAsAFileReadsBackAsTheSameGrid(arguments: [String]) throws {
        let original = try ResumeCommandTests.grid(arguments)
        let text = GridFile.text(original)
        let path = try Self.file(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let read = try Self.grid(["--grid", path])
        #expect(read == original.normalized, "\(text)")
        #expect(try read.hash() == original.hash())
        #expect(GridFile.text(read) == text)
    }

    @Test func anEmptyFileIsTheDefaultGrid() throws {
        let path = try Self.file("{}")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Self.grid(["--grid", path]) == Self.grid([]))
    }

    /// Values as lists, as the options' text and as one number are the same values.
    @Test func axesAreListsNumbersOrTheOptionsText() throws {
        let path = try Self.file(#"{"lr": "0.05:0.2:x2", "batch": [8, 16], "momentum": 0.9, "seeds": 2}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Self.grid(["--grid", path])
                == Self.grid(["--lr", "0.05,0.1,0.2", "--batch", "8:16:x2", "--momentum", "0.9", "--seeds", "2"]))
    }

    /// A flag given overrides the file, before `--grid` as after it; the file's other values stay.
    @Test func theFlagsGivenOverrideTheFile() throws {
        let path = try Self.file("""
            {"lr": [0.1, 0.2], "batch": "8:32:x2", "seeds": 5, "momentum": "0,0.9", "synthetic": true,
             "synthetic-count": 500, "warm-epochs": 0.5, "shuffle": false}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let expected = try Self.grid(["--lr", "0.05", "--batch", "8:32:x2", "--seeds", "2", "--momentum", "0,0.9",
                                      "--synthetic", "--synthetic-count", "500", "--warm-epochs", "0.5"])
        #expect(try Self.grid(["--grid", path, "--seeds", "2", "--lr", "0.05"]) == expected)
        #expect(try Self.grid(["--seeds", "2", "--lr=0.05", "--grid=\(path)"]) == expected)
        #expect(try Self.grid(["--grid", path]).seeds == 5)
    }

    /// A flag given also drops the file's keys that could not stand beside it: one batch-mode
    /// setting, one data source, an option under its old name.
    @Test func aFlagGivenDropsTheFileKeysItCannotStandBeside() throws {
        let shuffled = try Self.file(GridFile.text(try Self.grid(["--synthetic", "--shuffle"])))
        let folder = try Self.file(#"{"data": "/srv/data/digits", "data-format": "npy", "burn-in-steps": 40}"#)
        defer {
            try? FileManager.default.removeItem(atPath: shuffled)
            try? FileManager.default.removeItem(atPath: folder)
        }
        #expect(try Self.grid(["--grid", shuffled, "--batch-mode", "iid,shuffle"]).batchModeValues == [.iid, .shuffle])
        #expect(try Self.grid(["--grid", shuffled, "--batch-mode", "iid"]).batchModeValues == [.iid])
        #expect(try Self.grid(["--grid", shuffled, "--data", "/srv/data/digits"]).dataset
                == .fashionMNIST(directory: "/srv/data/digits"))
        #expect(try Self.grid(["--grid", folder, "--synthetic"]).dataset == .synthetic())
        #expect(try Self.grid(["--grid", folder, "--burn-in", "50"]).cell.burnInSteps == 50)
        #expect(try Self.grid(["--grid", folder]).cell.burnInSteps == 40)
        #expect(Self.refusal(["--grid", folder, "--synthetic", "--burn-in", "50"]) == nil)
    }

    /// The keys are exactly the options of the grid (`GridOptions`, `DataOptions`) without "--":
    /// a new grid option needs its key in `GridFile.keys`.
    @Test func theKeysAreTheOptionsOfTheGrid() {
        let help = GridOptions.helpMessage(includeHidden: false, columns: 10_000) + "\n"
            + DataOptions.helpMessage(includeHidden: false, columns: 10_000)
        let options = help.split(separator: "\n").compactMap { line -> String? in
            let text = line.drop { $0 == " " }
            guard text.hasPrefix("--") else { return nil }
            return String(text.dropFirst(2).prefix { $0.isLetter || $0.isNumber || $0 == "-" })
        }
        #expect(Set(options).subtracting(["help"]) == Set(GridFile.keys.map(\.key)))
    }

    /// A value the flag refuses is refused with the flag's own message, naming the file and the key.
    @Test(arguments: [
        (#"{"seeds": 0}"#, ["--seeds", "0"]),
        (#"{"lr": "0.2:0.1:x2"}"#, ["--lr", "0.2:0.1:x2"]),
        (#"{"batch": [8, 99999]}"#, ["--batch", "8,99999"]),
        (#"{"momentum": [0, 1.5]}"#, ["--momentum", "0,1.5"]),
        (#"{"probe-batch": 0}"#, ["--probe-batch", "0"]),
        (#"{"burn-in-steps": -1}"#, ["--burn-in-steps", "-1"]),
        (#"{"data-format": "jpeg"}"#, ["--data-format", "jpeg"]),
        (#"{"model": "resnet"}"#, ["--model", "resnet"]),
        (#"{"grid-seed": -3}"#, ["--grid-seed=-3"]),
        (#"{"seeds": 2, "synthetic-count": 5}"#, ["--synthetic-count", "5"]),
    ])
    func aValueTheFlagRefusesIsRefusedNamingTheFileAndTheKey(json: String, flags: [String]) throws {
        let path = try Self.file(json)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let key = flags[0].dropFirst(2).prefix { $0 != "=" }
        let flagRefusal = try #require(Self.refusal(flags))
        #expect(Self.refusal(["--grid", path]) == "grid file \(path), key \"\(key)\": \(flagRefusal)")
    }

    /// Values fine alone but not together are refused naming the file, with the flags' message.
    @Test func settingsThatDoNotGoTogetherAreRefusedNamingTheFile() throws {
        let path = try Self.file(#"{"synthetic": true, "data-format": "npy"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let flagRefusal = try #require(Self.refusal(["--synthetic", "--data-format", "npy"]))
        #expect(Self.refusal(["--grid", path]) == "grid file \(path): \(flagRefusal)")
    }

    /// What is not a grid file is refused naming the file, the key and what it takes.
    @Test(arguments: [
        ("{\"lr\": }", ["is not JSON", "status --db DB --format grid"]),
        ("[1, 2]", ["holds a list, not an object of settings"]),
        (#"{"seed": 2}"#, [#"unknown key "seed": did you mean "seeds"?"#]),
        (#"{"burn_in_steps": 2}"#, [#"did you mean "burn-in-steps"?"#]),
        (#"{"db": "s.sqlite"}"#, [#""db" is not a setting of the grid"#, "model, lr, batch", "go on the command line"]),
        (#"{"local-workers": 2}"#, [#""local-workers" is not a setting of the grid"#]),
        (#"{"seeds": "3"}"#, [#""seeds" takes a whole number, not "3"."#]),
        (#"{"seeds": 2.5}"#, [#""seeds" takes a whole number, not 2.5."#]),
        (#"{"lr": []}"#, [#""lr" takes a list of numbers like [0.05, 0.1]"#, "not a list."]),
        (#"{"lr": [0.1, "0.2"]}"#, [#""lr" takes a list of numbers"#]),
        (#"{"synthetic": "yes"}"#, [#""synthetic" takes true or false, not "yes"."#]),
        (#"{"model": 8}"#, [#""model" takes a string, not 8."#]),
        (#"{"seeds": 2, "seeds": 3}"#, ["is not JSON", "appears twice"]),
    ])
    func whatIsNotAGridFileIsRefusedNamingTheFileAndTheKey(json: String, fragments: [String]) throws {
        let path = try Self.file(json)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let message = try #require(Self.refusal(["--grid", path]))
        #expect(message.hasPrefix("grid file \(path)"), "\(message)")
        for fragment in fragments { #expect(message.contains(fragment), "\(message)") }
    }

    @Test func aMissingFileOrAFolderIsRefusedNamingThePath() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/study.json"
        let message = try #require(Self.refusal(["--grid", missing]))
        #expect(message.hasPrefix("--grid \(missing): there is no such file. Give a grid file"), "\(message)")
        let folder = FileManager.default.temporaryDirectory.path
        #expect(Self.refusal(["--grid", folder])?.hasPrefix("--grid \(folder): it is a folder.") == true)
    }

    /// The binary refuses a bad grid file as a usage error (64) before it creates the database.
    @Test func theBinaryRefusesABadGridFileWithExit64() throws {
        let path = try Self.file(#"{"lr": [0.1], "seeds": 0}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let db = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString).sqlite").path
        let r = try CLI.run(["sweep", "--db", db, "--grid", path])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("grid file \(path), key \"seeds\": --seeds 0 is out of range"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db))
    }
}
