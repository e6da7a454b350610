// Exports are written to a temporary file in the same folder, synced, then renamed over the
// target (RELIABILITY.md): a reader sees the old file or the whole new one, never a part.
import Cell
import Foundation

enum OutputFiles {
    /// Writes `bytes` to `path` atomically and durably (`DurableFile`); on any error the target is
    /// untouched.
    static func write(_ bytes: [UInt8], to path: String) throws(ReportError) {
        do throws(DurableFile.Failure) { try DurableFile.write(bytes, to: path) } catch {
            throw .write(path: path, detail: error.detail)
        }
    }

    /// Creates `folder` (and its parents) unless it exists.
    static func makeFolder(_ folder: String) throws(ReportError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .write(path: folder, detail: "it is a file, not a folder") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw .write(path: folder, detail: "cannot create the folder (\(error.localizedDescription)); "
                + "give an --out whose parent folder exists and is writable")
        }
    }
}
