// The CURVE key files of `keygen` (Z85, one key a line, `#` comments), and the error every command
// reports for a failure at run time.
import Cell
import Foundation
import ZeroMQ

/// Reading and writing the Z85 key files of `keygen`.
public enum KeyFiles {
    /// The non-empty, non-comment lines of `path`, with their line numbers.
    public static func lines(_ path: String) throws -> [(Int, String)] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CommandError("cannot read key file \(path): \(error.localizedDescription)")
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty || trimmed.hasPrefix("#") ? nil : (index + 1, trimmed)
        }
    }

    /// Public keys, one per line (`#` comments allowed).
    public static func publicKeys(_ path: String, expectOne: Bool = false) throws -> [CurvePublicKey] {
        let entries = try lines(path)
        guard !entries.isEmpty else { throw CommandError("key file \(path) holds no key: run `thermosweep keygen`.") }
        if expectOne && entries.count > 1 {
            throw CommandError("key file \(path) holds \(entries.count) keys; give the file with the coordinator's one public key.")
        }
        return try entries.map { number, line in
            do { return try CurvePublicKey(z85: line) } catch {
                throw CommandError("\(path) line \(number): \(error)")
            }
        }
    }

    /// A secret key file and the key pair it implies.
    public static func secret(_ path: String) throws -> CurveKeyPair {
        let entries = try lines(path)
        guard entries.count == 1 else {
            throw CommandError("secret key file \(path) must hold exactly one key (found \(entries.count)): use a .key file from `thermosweep keygen`.")
        }
        do {
            return try CurveKeyPair(secretKey: CurveSecretKey(z85: entries[0].1))
        } catch {
            throw CommandError("\(path) line \(entries[0].0): \(error)")
        }
    }

    /// Writes `text` to `path` atomically and durably with `mode`, refusing to replace a file.
    public static func write(_ text: String, to path: String, mode: mode_t) throws {
        do throws(DurableFile.Failure) { try DurableFile.write(Array(text.utf8), to: path, mode: mode, replace: false) } catch {
            if error.exists {
                throw CommandError("\(path) exists; keys are never overwritten: choose another --out or remove it first.")
            }
            throw CommandError("\(error)")
        }
    }
}

/// A failure while a command runs (not a usage error): printed as `Error: …`, exit status 1,
/// without the usage text that ArgumentParser prints for a `ValidationError` (exit 64).
public struct CommandError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
