// `sweep --grid FILE` (README, "Grid files"): the file's settings are the flags they name, read in
// before the command line's own, so that a flag given overrides the file and a value in the file is
// checked by the very code that checks the flag. A flag given also drops the file's keys that could
// not stand beside it: --batch-mode the file's "shuffle", --data its "synthetic", and so on.
import ArgumentParser
import Foundation
import SweepProtocol

extension SweepCommand {
    /// The arguments of `sweep` with the flags of its grid file (the last `--grid PATH` or
    /// `--grid=PATH`) in front. Unchanged without one, or when the file cannot be used: `validate()`
    /// then refuses it with the reason.
    static func withGridFile(_ arguments: [String]) -> [String] {
        var path: String?
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { break }
            if argument == "--grid", index + 1 < arguments.count { path = arguments[index + 1] }
            if argument.hasPrefix("--grid=") { path = String(argument.dropFirst("--grid=".count)) }
        }
        guard let path, let keyed = try? gridFileKeys(path) else { return arguments }
        let overridden = Set(commandLineOptions(arguments).flatMap(overrides))
        return keyed.filter { !overridden.contains($0.key) }.flatMap(\.arguments) + arguments
    }

    /// The long options given in `arguments` (before `--`), without their dashes and values.
    private static func commandLineOptions(_ arguments: [String]) -> [String] {
        var names: [String] = []
        for argument in arguments {
            if argument == "--" { break }
            guard argument.hasPrefix("--") else { continue }
            names.append(String(argument.dropFirst(2).prefix { $0 != "=" }))
        }
        return names
    }

    /// The grid-file keys that the command-line option `name` overrides: its own, its old name or
    /// new name, and the keys that could not stand beside it (one batch mode setting, one data
    /// source).
    private static func overrides(_ name: String) -> [String] {
        let dataFolder = ["data", "data-format"], synthetic = ["synthetic", "synthetic-count", "synthetic-seed"]
        switch name {
        case "shuffle", "batch-mode": return ["shuffle", "batch-mode"]
        case "data", "data-format": return [name] + synthetic
        case "synthetic": return [name] + dataFolder
        default: return [CellProtocolOptions.renamed.first { $0.old == name }?.new ?? name]
        }
    }

    /// The flags of the grid file at `path`. Refused, as a usage error naming the file, when it is
    /// not a grid file or `sweep` refuses its flags alone; the message then names the first key
    /// whose flags are refused by themselves, and says what to give.
    static func gridFileArguments(_ path: String) throws -> [String] {
        try gridFileKeys(path).flatMap(\.arguments)
    }

    /// `gridFileArguments` per key of the file, in the file's order.
    private static func gridFileKeys(_ path: String) throws -> [(key: String, arguments: [String])] {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isFolder: ObjCBool = false
            let reason = !FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) ? "there is no such file"
                : isFolder.boolValue ? "it is a folder" : "it cannot be read"
            throw ValidationError("--grid \(path): \(reason). Give a grid file (README, \"Grid files\"), "
                                  + "e.g. one written by `thermosweep status --db DB --format grid`.")
        }
        let keyed: [(key: String, arguments: [String])]
        do throws(GridSpecError) { keyed = try GridFile.arguments(Array(data), path: path) } catch {
            throw ValidationError(error.description)
        }
        let flags = keyed.flatMap(\.arguments)
        guard let whole = refusal(flags) else { return keyed }
        for (key, arguments) in keyed {
            if let alone = refusal(arguments) { throw ValidationError("grid file \(path), key \"\(key)\": \(alone)") }
        }
        throw ValidationError("grid file \(path): \(whole)")
    }

    /// Why `sweep` refuses `flags` (given with a database), or nil when it takes them.
    private static func refusal(_ flags: [String]) -> String? {
        do {
            _ = try parse(["--db=grid-file-check"] + flags)
            return nil
        } catch {
            return message(for: error)
        }
    }
}
