import Foundation
import TestSupport
import Testing

@Suite(.ownThread(.cpuBound)) struct TrainCommandTests {
    /// A small synthetic cell: seconds in release, no data files needed.
    static let quick = ["train", "--model", "lenet-4-8", "--synthetic", "--synthetic-count", "600",
                        "--lr", "0.1", "--batch", "16", "--seed", "3", "--warm-epochs", "0.5",
                        "--burn-in-steps", "30", "--measure-steps", "60", "--calibration-probes", "4", "--json"]

    static func decode(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any], "train --json must print one JSON object")
    }

    @Test func jsonRecordIsVersionedAndComplete() throws {
        let r = try CLI.run(Self.quick)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let record = try Self.decode(r.stdout)
        #expect(record["format"] as? String == "thermosweep-cell/1")
        let thermometer = try #require(record["thermometer"] as? [String: Any])
        let groups = try #require(thermometer["groups"] as? [[String: Any]])
        let names = groups.compactMap { $0["name"] as? String }
        #expect(names == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                          "dense1.weight", "dense1.bias", "network"])
        let estimators = Set((groups.last?["estimates"] as? [[String: Any]] ?? []).compactMap { $0["estimator"] as? String })
        #expect(estimators == ["diffusion", "kinetic", "kinetic-sde", "configurational"])
        // Per-filter temperatures for every conv filter: 4 in conv1, 8 in conv2.
        #expect((groups[0]["filters"] as? [Any])?.count == 4)
        #expect((groups[2]["filters"] as? [Any])?.count == 8)
        let test = try #require(record["test"] as? [String: Any])
        #expect((test["accuracy"] as? Double ?? -1) > 0.2, "a learnable synthetic set must train above chance")
    }

    /// A run is a pure function of its inputs: the same command prints the same record, timings aside.
    @Test func sameCommandGivesBitIdenticalResults() throws {
        let a = try CLI.run(Self.quick), b = try CLI.run(Self.quick)
        #expect(a.status == 0 && b.status == 0, "stderr: \(a.stderr) \(b.stderr)")
        var x = try Self.decode(a.stdout), y = try Self.decode(b.stdout)
        for key in ["samplesPerSecond", "wallSeconds"] {
            #expect(x.removeValue(forKey: key) != nil && y.removeValue(forKey: key) != nil, "missing \(key)")
        }
        let encode = { (o: [String: Any]) in
            try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
        }
        #expect(try encode(x) == encode(y), "two runs of the same command differ")
        // And a different seed gives different numbers (the test above could not fail otherwise).
        var other = Self.quick
        other[other.firstIndex(of: "3")!] = "4"
        let c = try CLI.run(other)
        var z = try Self.decode(c.stdout)
        z.removeValue(forKey: "samplesPerSecond"); z.removeValue(forKey: "wallSeconds")
        #expect(try encode(x) != encode(z))
    }

    /// `train`'s names from before it shared the protocol options with `sweep` still work: the
    /// same record as the current names, and one warning line per old name naming the new one.
    @Test func oldOptionNamesStillWorkWithADeprecationLine() throws {
        let renamed = ["--warm-epochs": "--warm-start-epochs", "--burn-in-steps": "--burn-in", "--measure-steps": "--measure"]
        let old = Self.quick.map { renamed[$0] ?? $0 } + ["--warm-start-lr", "0.05", "--warm-start-batch", "32"]
        let a = try CLI.run(Self.quick), b = try CLI.run(old)
        #expect(a.status == 0 && b.status == 0, "stderr: \(b.stderr)")
        var x = try Self.decode(a.stdout), y = try Self.decode(b.stdout)
        for key in ["samplesPerSecond", "wallSeconds"] { x.removeValue(forKey: key); y.removeValue(forKey: key) }
        let encode = { (o: [String: Any]) in try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) }
        #expect(try encode(x) == encode(y), "the old names set other values")
        let warnings = b.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
        #expect(warnings == ["warning: --burn-in is deprecated; use --burn-in-steps (same meaning).",
                             "warning: --measure is deprecated; use --measure-steps (same meaning).",
                             "warning: --warm-start-epochs is deprecated; use --warm-epochs (same meaning).",
                             "warning: --warm-start-lr is deprecated; use --warm-lr (same meaning).",
                             "warning: --warm-start-batch is deprecated; use --warm-batch (same meaning)."], "\(b.stderr)")
        #expect(!a.stderr.contains("deprecated"))
        // Both names at once: refused as a usage error naming both.
        let both = try CLI.run(Self.quick + ["--burn-in", "30"])
        #expect(both.status == 64 && both.stderr.contains("--burn-in is the old name of --burn-in-steps"), "\(both.stderr)")
        let help = try CLI.run(["train", "--help"])
        #expect(help.stdout.contains("--burn-in-steps") && !help.stdout.contains("--burn-in "), "hidden from the help")
    }

    @Test func tableNamesGroupsEstimatorsAndFinalMetrics() throws {
        let r = try CLI.run(Array(Self.quick.dropLast()))
        #expect(r.status == 0, "stderr: \(r.stderr)")
        for needle in ["conv1.weight", "network", "kinetic-sde", "configurational", "per-filter",
                       "train  loss", "test   loss", "samples/s"] {
            #expect(r.stdout.contains(needle), "table lacks '\(needle)':\n\(r.stdout)")
        }
    }

    /// IDX files of another image size load fine; the command must refuse them with the shape,
    /// not trap inside the trainer.
    @Test func dataOfAnotherImageSizeIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("thermosweep-idx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func idx(_ dimensions: [Int]) -> Data {
            var bytes: [UInt8] = [0, 0, 8, UInt8(dimensions.count)]
            for d in dimensions { bytes += [0, 0, UInt8(d >> 8), UInt8(d & 255)] }
            return Data(bytes + [UInt8](repeating: 1, count: dimensions.reduce(1, *)))
        }
        for (name, dimensions) in [("train-images-idx3-ubyte", [12, 4, 3]), ("train-labels-idx1-ubyte", [12]),
                                   ("t10k-images-idx3-ubyte", [5, 4, 3]), ("t10k-labels-idx1-ubyte", [5])] {
            try idx(dimensions).write(to: dir.appendingPathComponent(name))
        }
        var args = Array(Self.quick.dropLast())
        args.removeAll { $0 == "--synthetic" }
        let r = try CLI.run(args + ["--data", dir.path])
        #expect(r.status == 64, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("layer 1 'conv5x5:4' of model lenet-4-8 has a 5×5 kernel larger than its input 1×4×3"),
                "stderr: \(r.stderr)")
    }

    @Test(arguments: [
        (["--measure-steps", "15"], "--measure-steps 15 is out of range: give 20 to"),
        (["--lr", "1e-300"], "--lr 1e-300 is out of range"),
        (["--momentum", "0.99999999"], "--momentum 0.99999999 is out of range"),
        (["--warm-lr", "1e300"], "--warm-lr 1e+300 is out of range"),
        (["--lr=-0.5"], "--lr -0.5 is out of range"),
        (["--lr", "-1"], "--lr -1.0 is out of range"),
        (["--momentum", "-0.1"], "--momentum -0.1 is out of range"),
        (["--lr", "nan"], "--lr nan is out of range"),
        (["--batch", "0"], "--batch 0 is out of range: give 1 to 4096"),
        (["--model", "resnet"], "unknown model 'resnet'"),
        (["--model", "conv5x5:4,relu,maxpool2,conv5x5:8,maxpool9,dense:10"],
         "layer 5 'maxpool9' of model conv5x5:4,relu,maxpool2,conv5x5:8,maxpool9,dense:10 pools 9×9 windows, larger than its input 8×8×8"),
        (["--model", "conv3x3:4,relu"], "the last layer 2 'relu' of model conv3x3:4,relu (output 4×26×26) is not dense"),
        (["--model", "conv3x3:4,relu,dense:ten"], "layer 3 'dense:ten' of 'conv3x3:4,relu,dense:ten' has no whole number"),
        (["--momentum", "1"], "--momentum 1.0 is out of range"),
        (["--measure-steps", "5"], "--measure-steps 5 is out of range"),
        (["--batch-mode", "iid,shuffle"], "--batch-mode 'iid,shuffle': train measures one cell; give iid or shuffle"),
        (["--batch-mode", "random"], "--batch-mode 'random': 'random' is not a batch mode: give iid or shuffle"),
        (["--shuffle", "--batch-mode", "iid"], "--shuffle is --batch-mode shuffle: give --batch-mode 'iid' alone."),
        (["--data", "/nonexistent/fmnist", "--no-synthetic"], "dataset-fashion-mnist"),
    ])
    func badInputIsRefusedWithTheOffendingValue(extra: [String], message: String) throws {
        var args = Array(Self.quick.dropLast())
        if extra.contains("--no-synthetic") {
            args.removeAll { $0 == "--synthetic" }
        }
        args += extra.filter { $0 != "--no-synthetic" }
        let r = try CLI.run(args)
        #expect(r.status == 64, "a usage error: \(r.stderr)")
        #expect(r.stderr.contains(message), "stderr lacks '\(message)': \(r.stderr)")
    }
}
