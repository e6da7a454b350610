import Foundation
import TestSupport
import Testing
import Trainer

/// `train` and `sweep` on data sets in each format, written here as small files.
@Suite(.ownThread(.cpuBound)) struct DataFormatCommandTests {
    /// A short cell on `--data DIR` (the synthetic quick cell without --synthetic).
    static func trainArguments(_ directory: String, json: Bool = false) -> [String] {
        var args = TrainCommandTests.quick.filter { $0 != "--synthetic" && $0 != "--json" }
        args.removeSubrange(args.firstIndex(of: "--synthetic-count")!...args.firstIndex(of: "--synthetic-count")! + 1)
        return args + ["--data", directory] + (json ? ["--json"] : [])
    }

    /// A fresh folder `name` in a fresh temporary folder; removed by the caller.
    static func folder(_ name: String) throws -> (root: URL, path: String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("thermosweep-formats-\(UUID().uuidString)")
        let dir = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (root, dir.path)
    }

    /// `count` learnable grey 28×28 images: a bright 8×8 square whose place is the label, on noise.
    static func greyImages(count: Int, seed: Int) -> (pixels: [UInt8], labels: [Int]) {
        var pixels = [UInt8](repeating: 0, count: count * 784), labels: [Int] = []
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        for i in 0..<count {
            let label = i % 10
            labels.append(label)
            let top = 2 + (label / 5) * 12, left = 2 + (label % 5) * 5
            for p in 0..<784 {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                let y = p / 28, x = p % 28
                let inside = y >= top && y < top + 8 && x >= left && x < left + 8
                pixels[i * 784 + p] = UInt8(truncatingIfNeeded: (inside ? 160 : 0) + Int(state % 80))
            }
        }
        return (pixels, labels)
    }

    /// A `.npy` file (format 1.0) as `numpy.save` writes it.
    static func npy(descr: String, shape: [Int], data: [UInt8]) -> Data {
        let shapeText = "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        let length = header.utf8.count
        return Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 255), UInt8(length >> 8)] + Array(header.utf8) + data)
    }

    static func int64(_ values: [Int]) -> [UInt8] {
        values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: Int64(v) >> (8 * $0)) } }
    }

    static func writeGreyNumPy(_ dir: String, testLabels: [Int]? = nil) throws -> [UInt8] {
        let train = greyImages(count: 600, seed: 1), test = greyImages(count: 100, seed: 2)
        try npy(descr: "|u1", shape: [600, 28, 28], data: train.pixels).write(to: URL(fileURLWithPath: dir + "/train_x.npy"))
        try npy(descr: "<i8", shape: [600], data: int64(train.labels)).write(to: URL(fileURLWithPath: dir + "/train_y.npy"))
        try npy(descr: "|u1", shape: [100, 28, 28], data: test.pixels).write(to: URL(fileURLWithPath: dir + "/test_x.npy"))
        try npy(descr: "<i8", shape: [100], data: int64(testLabels ?? test.labels))
            .write(to: URL(fileURLWithPath: dir + "/test_y.npy"))
        return train.pixels
    }

    /// CIFAR-10's six binary files with `records` records each (label r % 10, then 3072 bytes).
    static func writeCIFAR(_ dir: String, records: Int) throws {
        for (k, name) in (CIFAR10.trainFileNames + [CIFAR10.testFileName]).enumerated() {
            var bytes = [UInt8](repeating: 0, count: records * 3073)
            for r in 0..<records {
                bytes[r * 3073] = UInt8(r % 10)
                for j in 1..<3073 { bytes[r * 3073 + j] = UInt8(truncatingIfNeeded: j &* 7 &+ r &* 13 &+ k) }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
    }

    @Test func trainOnGreyNumPyArraysPrintsLayerTemperaturesAndTheStatistics() throws {
        let (root, dir) = try Self.folder("digits")
        defer { try? FileManager.default.removeItem(at: root) }
        let pixels = try Self.writeGreyNumPy(dir)
        let table = try CLI.run(Self.trainArguments(dir))
        #expect(table.status == 0, "stderr: \(table.stderr)")
        for needle in ["lenet-4-8 on digits/train", "conv1.weight", "dense1.weight", "network", "diffusion",
                       "input standardised with the training set's mean"] {
            #expect(table.stdout.contains(needle), "output lacks '\(needle)':\n\(table.stdout)")
        }
        let json = try CLI.run(Self.trainArguments(dir, json: true))
        #expect(json.status == 0, "stderr: \(json.stderr)")
        let record = try TrainCommandTests.decode(json.stdout)
        let input = try #require(record["inputStatistics"] as? [String: Any])
        let mean = try #require((input["mean"] as? [Double])?.first), std = try #require((input["std"] as? [Double])?.first)
        let values = pixels.map { Double($0) / 255 }
        let exactMean = values.reduce(0, +) / Double(values.count)
        let exactStd = (values.map { ($0 - exactMean) * ($0 - exactMean) }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(mean == (exactMean * 10_000).rounded() / 10_000 && std == (exactStd * 10_000).rounded() / 10_000,
                "recorded \(mean), \(std); exact \(exactMean), \(exactStd)")
        #expect(table.stdout.contains(String(format: "mean %.4f and sd %.4f", mean, std)), "\(table.stdout)")
        #expect(record["dataset"] as? String == "digits/train")
    }

    @Test func trainOnMNISTLikeIDXFilesUnderAnotherName() throws {
        let (root, dir) = try Self.folder("mnist")
        defer { try? FileManager.default.removeItem(at: root) }
        let train = Self.greyImages(count: 600, seed: 3), test = Self.greyImages(count: 100, seed: 4)
        try IDX.write(path: dir + "/train-images-idx3-ubyte.gz", dimensions: [600, 28, 28], payload: train.pixels, gzip: true)
        try IDX.write(path: dir + "/train-labels-idx1-ubyte.gz", dimensions: [600], payload: train.labels.map(UInt8.init), gzip: true)
        try IDX.write(path: dir + "/t10k-images-idx3-ubyte", dimensions: [100, 28, 28], payload: test.pixels, gzip: false)
        try IDX.write(path: dir + "/t10k-labels-idx1-ubyte", dimensions: [100], payload: test.labels.map(UInt8.init), gzip: false)
        let r = try CLI.run(Self.trainArguments(dir) + ["--data-format", "idx"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        for needle in ["lenet-4-8 on mnist/train", "conv1.weight", "network", "input standardised"] {
            #expect(r.stdout.contains(needle), "output lacks '\(needle)':\n\(r.stdout)")
        }
    }

    /// A sweep on NumPy files: the coordinator and its local workers load the same folder (with the
    /// forced format passed on), agree on its hash, and every job ends done. The folder also holds
    /// CIFAR-10 files, so that only the forced format can be read: the workers must be given it.
    @Test func sweepOnNumPyArraysRunsEveryJob() throws {
        let (root, dir) = try Self.folder("digits")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try Self.writeGreyNumPy(dir)
        try Self.writeCIFAR(dir, records: 2)
        let ambiguous = try CLI.run(Self.trainArguments(dir))
        #expect(ambiguous.status == 64 && ambiguous.stderr.contains("pass --data-format cifar10|npy"), "\(ambiguous.stderr)")
        let db = root.appendingPathComponent("sweep.sqlite").path, out = root.appendingPathComponent("out").path
        let r = try CLI.run(["sweep", "--db", db, "--data", dir, "--data-format", "npy", "--model", "lenet-4-8",
                             "--lr", "0.05", "--batch", "8,16", "--seeds", "1", "--warm-epochs", "0.2",
                             "--burn-in-steps", "20", "--measure-steps", "20", "--calibration-probes", "2",
                             "--local-workers", "1", "--quiet", "--out", out], timeout: 300)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let cells = try String(contentsOfFile: out + "/cells.csv", encoding: .utf8)
        let rows = cells.split(separator: "\n").dropFirst()
        #expect(rows.contains { $0.hasPrefix("0.05,8,") } && rows.contains { $0.hasPrefix("0.05,16,") }, "\(cells)")

        // The grid records the forced format, so its grid file resumes the same sweep.
        let grid = try CLI.run(["status", "--db", db, "--format", "grid"])
        #expect(grid.status == 0 && grid.stdout.contains(#""data-format": "npy""#), "\(grid.stdout)\(grid.stderr)")
        let file = root.appendingPathComponent("grid.json").path
        try grid.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        let resumed = try CLI.run(["sweep", "--db", db, "--grid", file, "--local-workers", "1", "--out", out], timeout: 120)
        #expect(resumed.status == 0 && resumed.stderr.contains("3 jobs, 3 already ended"), "\(resumed.stderr)")
    }

    /// `args` with the value of `option` replaced by `value`.
    static func setting(_ option: String, to value: String, in args: [String]) -> [String] {
        var args = args
        args[args.firstIndex(of: option)! + 1] = value
        return args
    }

    /// CIFAR-10's colour images train `cifar-cnn` (3×32×32 input) and print per-layer temperatures.
    @Test func trainCIFARCNNOnCIFAR10PrintsLayerTemperatures() throws {
        let (root, dir) = try Self.folder("cifar")
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.writeCIFAR(dir, records: 20)
        let r = try CLI.run(Self.setting("--model", to: "cifar-cnn", in: Self.trainArguments(dir)))
        #expect(r.status == 0, "stderr: \(r.stderr)")
        for needle in ["cifar-cnn on cifar-10/train", "conv1.weight", "conv2.weight", "dense1.weight", "dense2.bias",
                       "network", "diffusion", "input standardised with the training set's mean"] {
            #expect(r.stdout.contains(needle), "output lacks '\(needle)':\n\(r.stdout)")
        }
    }

    /// A layer list that does not fit CIFAR-10's images and classes is refused before anything runs,
    /// by `train` and by `sweep` alike, naming the layer and the shapes.
    @Test func aNetworkThatDoesNotFitColourImagesIsRefusedBeforeAnyJobRuns() throws {
        let (root, dir) = try Self.folder("cifar")
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.writeCIFAR(dir, records: 3)
        let model = "conv3x3:4,relu,maxpool2,dense:7"
        let r = try CLI.run(Self.setting("--model", to: model, in: Self.trainArguments(dir)))
        #expect(r.status == 64, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("3×32×32") && r.stderr.contains("dense:7"), "stderr: \(r.stderr)")
        let db = root.appendingPathComponent("sweep.sqlite").path
        let sweep = try CLI.run(["sweep", "--db", db, "--model", model, "--lr", "0.1", "--batch", "16",
                                 "--seeds", "1", "--local-workers", "1", "--data", dir, "--quiet"])
        #expect(sweep.status == 64 && sweep.stderr.contains("dense:7"), "sweep: \(sweep.status) \(sweep.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db), "no sweep may start")
        // Refused after parsing, each names its own command's usage, not the top level's.
        #expect(r.stderr.contains("Usage: thermosweep train <options>"), "stderr: \(r.stderr)")
        #expect(sweep.stderr.contains("Usage: thermosweep sweep <options>"), "stderr: \(sweep.stderr)")
    }

    /// A --data folder that does not exist, or holds no data set, is named as such (not as a
    /// missing Fashion-MNIST) with the files of every format.
    @Test func aDataFolderWithoutADataSetIsNamedAsSuch() throws {
        let (root, dir) = try Self.folder("empty")
        defer { try? FileManager.default.removeItem(at: root) }
        let empty = try CLI.run(Self.trainArguments(dir))
        #expect(empty.status == 64 && empty.stderr.contains("Error: no data set in \(dir): it holds none of"),
                "stderr: \(empty.stderr)")
        let missing = try CLI.run(Self.trainArguments(dir + "/nowhere"))
        #expect(missing.status == 64 && missing.stderr.contains("Error: no folder \(dir)/nowhere: give --data"),
                "stderr: \(missing.stderr)")
        #expect(missing.stderr.contains("train_x.npy") && missing.stderr.contains("data_batch_1.bin"))
    }

    @Test func badDataInputIsRefusedWithTheOffendingValue() throws {
        let (root, dir) = try Self.folder("digits")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try Self.writeGreyNumPy(dir, testLabels: (0..<100).map { $0 == 42 ? 12 : $0 % 10 })
        let label = try CLI.run(Self.trainArguments(dir))
        #expect(label.status == 64, "stderr: \(label.stderr)")
        #expect(label.stderr.contains("\(dir)/test_y.npy: label 12 at index 42 is outside 0..<10"), "stderr: \(label.stderr)")
        let format = try CLI.run(Self.trainArguments(dir) + ["--data-format", "jpeg"])
        #expect(format.status == 64 && format.stderr.contains("--data-format 'jpeg' is not a format: give one of idx|cifar10|npy"),
                "stderr: \(format.stderr)")
        let forced = try CLI.run(Self.trainArguments(dir) + ["--data-format", "cifar10"])
        #expect(forced.status == 64 && forced.stderr.contains("missing data_batch_1.bin"), "stderr: \(forced.stderr)")
    }

    /// A worker holds CIFAR-10's 60 000 images as bytes: 184 MB of pixels. The peak resident size
    /// of a process that loads a full-size CIFAR-10-shaped set (read with wait4 from the kernel)
    /// must stay under 300 MB, loading and statistics included.
    @Test func aFullSizeCIFARSetStaysUnder300MBResident() throws {
        let (root, dir) = try Self.folder("cifar-10-batches-bin")
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.writeCIFAR(dir, records: 10_000)
        // A short cell of lenet-4-8 on the colour images: loading, statistics, a warm start of a
        // hundredth of an epoch, the window and the test set's evaluation.
        let (status, maxRSS) = try Self.runMeasuringPeakRSS(Self.setting("--warm-epochs", to: "0.01",
                                                                         in: Self.trainArguments(root.path)))
        #expect(status == 0)
        let megabytes = Double(maxRSS) / 1_048_576
        print("peak resident size with a full-size CIFAR-10 set (60 000 RGB 32×32 images): \(String(format: "%.1f", megabytes)) MiB")
        #expect(megabytes < 300 && megabytes > 184 * 1_000_000 / 1_048_576, "peak RSS \(megabytes) MiB")
    }

    /// Runs the binary with `args` (standard output discarded) and returns its exit status and peak
    /// resident size in bytes (ru_maxrss of that one process, from wait4).
    ///
    /// A child's ru_maxrss counts the resident size of the process that spawned it: exec records
    /// the high-water mark of the address space it leaves, which after fork or vfork is the
    /// parent's. The test process holds hundreds of MB while other tests run, so the binary is
    /// started from a small python3 process instead (≈ 10 MB, which the figure then includes).
    static func runMeasuringPeakRSS(_ args: [String]) throws -> (status: Int32, maxRSS: Int) {
        let script = """
            import ctypes, os, sys
            pid = os.fork()
            if pid == 0:
                ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL: dies with this process
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                try:
                    os.execv(sys.argv[1], sys.argv[1:])
                except OSError as error:
                    print(error, file=sys.stderr)
                    os._exit(127)
            _, status, usage = os.wait4(pid, 0)
            print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)  # Linux reports kilobytes
            """
        let python = try #require(CLI.which("python3"), "python3 starts the measured process")
        let run = try CLI.run(["-c", script, CLI.binary.path] + args, executable: python)
        let fields = run.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(run.status == 0 && fields.count == 2, "python3: \(run.stdout)\(run.stderr)")
        return (Int32(fields[0]), fields[1])
    }
}
