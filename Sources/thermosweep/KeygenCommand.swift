import ArgumentParser
import Foundation
import Session
import ZeroMQ

/// `thermosweep keygen`: a CURVE key pair for a coordinator or a worker.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (public).",
        discussion: """
            The coordinator takes its .key with `sweep --curve-secret` and the workers' .pub files \
            (concatenated, one key per line) with `--curve-allow`; a worker takes its own .key with \
            `--curve-key` and the coordinator's .pub with `--curve-server-key`. Existing files are \
            never overwritten; a missing folder is created.
            """)

    @Option(help: "Path prefix of the two files, e.g. keys/coordinator (its folder is created).")
    var out: String

    func validate() throws {
        var isFolder: ObjCBool = false
        if out.hasSuffix("/") || out.isEmpty || (FileManager.default.fileExists(atPath: out, isDirectory: &isFolder) && isFolder.boolValue) {
            let folder = out.hasSuffix("/") ? String(out.dropLast()) : out
            throw ValidationError("--out '\(out)' is a folder; give a file prefix in it, e.g. \(folder.isEmpty ? "keys" : folder)/coordinator "
                                  + "(writes coordinator.key and coordinator.pub there).")
        }
    }

    func run() throws {
        let folder = URL(fileURLWithPath: out).deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw CommandError("cannot create the folder \(folder.path) for the keys: \(error.localizedDescription)")
        }
        for path in [out + ".key", out + ".pub"] where FileManager.default.fileExists(atPath: path) {
            throw CommandError("\(path) exists; keys are never overwritten: choose another --out or remove it first.")
        }
        let pair = try CurveKeyPair.generate()
        let created = Date().ISO8601Format()
        try KeyFiles.write("# thermosweep CURVE secret key, \(created); keep it private\n\(pair.secretKey.z85)\n",
                           to: out + ".key", mode: 0o600)
        try KeyFiles.write("# thermosweep CURVE public key, \(created)\n\(pair.publicKey.z85)\n",
                           to: out + ".pub", mode: 0o644)
        print("wrote \(out).key (secret) and \(out).pub (public key \(pair.publicKey.z85))")
    }
}
