import Cell
import ArgumentParser
import Foundation
import Session
import Kernels
import Thermometer
import Trainer

/// `thermosweep bench`: single-thread training throughput, this core's FP32 peak and GEMM GFLOP/s.
///
/// Training rows time what `scripts/bench_reference.py` times for PyTorch: per step, gather a batch
/// from a pool of 4096 images (new random order per pass), forward, mean cross-entropy, backward,
/// plain SGD (η = 0.05). The images are those of `input(for:)`: synthetic 1×28×28 images, or seeded
/// random bytes of another shape. `+thermometer` rows add what the measurement window adds per step
/// (copy of θ, `Thermometer.record`, a new thermometer every 500 steps); noise-calibration probes
/// are not included. GFLOP/s counts `trainingFLOPsPerImage` per image; % peak divides it by
/// `PeakFLOPS`, measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure single-thread training throughput, FP32 peak and GEMM speed on this machine.")

    @Option(help: "Comma-separated built-in models (default: lenet-8-16, lenet-4-8, cnn-32-64).")
    var models: String?

    @Option(name: .customLong("model"),
            help: "A model to add: a built-in name or a layer list such as conv5x5:8,relu,maxpool2,dense:10 (repeatable).")
    var extraModels: [String] = []

    @Option(help: ArgumentHelp(
        "Input images CxHxW for every model, e.g. 3x32x32 (default: cifar-cnn 3x32x32; any other model "
            + "1x28x28, or 3x32x32 when it does not fit 1x28x28; as scripts/bench_reference.py).",
        valueName: "CxHxW"))
    var input: String?

    @Option(help: "Comma-separated batch sizes (default: per model, as scripts/bench_reference.py).")
    var batches: String?

    @Option(help: "Seconds per repetition.")
    var seconds: Double = 0.5

    @Option(help: "Repetitions per row (the median is reported).")
    var repetitions: Int = 5

    @Flag(help: "Skip the GEMM rows.")
    var noGemm = false

    @Flag(help: "Print one JSON record (format thermosweep-bench/1).")
    var json = false

    static let defaultBatches: [ModelKind: [Int]] = [
        .lenet816: [8, 16, 32, 64, 128, 256], .lenet48: [8, 32, 128], .cnn3264: [16, 64, 256], .cifarCNN: [32, 128],
    ]
    /// Models and batches whose measurement overhead is reported (`+thermometer` rows).
    static let thermometerBatches: [ModelKind: Set<Int>] = [.lenet816: [8, 32, 128]]

    func validate() throws {
        guard seconds > 0 && seconds <= 60 else { throw ValidationError("--seconds \(seconds): give a value in (0, 60].") }
        guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions \(repetitions): give 1 to 100.") }
        _ = try selectedInput()
        _ = try selectedModels()
        _ = try selectedBatches()
    }

    func selectedModels() throws -> [ModelKind] {
        var selected: [ModelKind] = []
        if let models {
            guard !models.isEmpty else { throw ValidationError("--models is empty: give model names separated by commas.") }
            selected = try models.split(separator: ",", omittingEmptySubsequences: false).map { name in
                guard let kind = ModelKind.builtIns.first(where: { $0.rawValue == name }) else {
                    throw ValidationError("unknown model '\(name)' in --models: choose from \(ModelKind.names) "
                                          + "(give a layer list with --model).")
                }
                return kind
            }
        } else if extraModels.isEmpty {
            selected = [.lenet816, .lenet48, .cnn3264]
        }
        for text in extraModels {
            do { selected.append(try ModelKind(parsing: text)) } catch { throw ValidationError("--model: \(error)") }
        }
        let given = try selectedInput()
        for model in selected {
            let shape = Self.input(for: model, given: given)
            do { try model.validate(channels: shape.channels, height: shape.height, width: shape.width, classes: 10) } catch {
                throw ValidationError("\(error) (bench times \(model) on \(shape) images of 10 classes"
                                      + (given == nil ? "; give other ones with --input CxHxW)" : ")"))
            }
        }
        return selected
    }

    /// The most values per image `--input` takes (the pool of 4096 images stays under 300 MB).
    static let maxInputValues = 16_384

    /// `--input CxHxW`, or nil when not given.
    func selectedInput() throws -> InputShape? {
        guard let input else { return nil }
        let parts = input.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 3, let c = parts[0], let h = parts[1], let w = parts[2], c >= 1, h >= 1, w >= 1 else {
            throw ValidationError("--input '\(input)': give channels, height and width as CxHxW, e.g. 3x32x32.")
        }
        let values = [c, h, w].reduce(1) { product, n in
            let (next, overflow) = product.multipliedReportingOverflow(by: n)
            return overflow ? Int.max : next
        }
        guard values <= Self.maxInputValues else {
            throw ValidationError("--input '\(input)' has \(values == Int.max ? "too many" : "\(values)") values per "
                                  + "image: give at most \(Self.maxInputValues), e.g. 3x64x64.")
        }
        return InputShape(channels: c, height: h, width: w)
    }

    /// An image shape C×H×W.
    struct InputShape: Hashable, CustomStringConvertible {
        var channels, height, width: Int
        static let mnist = InputShape(channels: 1, height: 28, width: 28)
        static let cifar = InputShape(channels: 3, height: 32, width: 32)
        /// `3x32x32`, as `--input` takes it.
        var description: String { "\(channels)x\(height)x\(width)" }
    }

    /// The images a model is timed on (scripts/bench_reference.py uses the same rule): `given`
    /// (--input) when set; 3×32×32 for cifar-cnn; otherwise 1×28×28 when the model fits it, else 3×32×32.
    static func input(for model: ModelKind, given: InputShape?) -> InputShape {
        if let given { return given }
        if model == .cifarCNN { return .cifar }
        let mnist = InputShape.mnist
        let fits = (try? model.validate(channels: mnist.channels, height: mnist.height, width: mnist.width,
                                        classes: 10)) != nil
        return fits ? mnist : .cifar
    }

    /// 4096 images of `shape` with 10 classes: the synthetic Fashion-MNIST stand-in for 1×28×28,
    /// seeded random bytes otherwise.
    static func pool(_ shape: InputShape) -> Dataset {
        let count = 4096
        if shape == .mnist { return SyntheticDataset.make(seed: 1, count: count) }
        var rng = SeededRNG(seed: 1)
        let pixels = (0..<(count * shape.channels * shape.height * shape.width)).map { _ in
            UInt8(truncatingIfNeeded: rng.next())
        }
        let labels = (0..<count).map { _ in Int32(rng.int(below: 10)) }
        return Dataset(name: "random/\(shape)", count: count, channels: shape.channels, rows: shape.height,
                       columns: shape.width, classes: 10, pixels: pixels, labels: labels,
                       contentHash: "random-\(shape)-seed-1")
    }

    func selectedBatches() throws -> [Int]? {
        guard let batches else { return nil }
        guard !batches.isEmpty else { throw ValidationError("--batches is empty: give batch sizes separated by commas.") }
        return try batches.split(separator: ",", omittingEmptySubsequences: false).map { text in
            guard let b = Int(text), (1...CellLimits.maxBatchSize).contains(b) else {
                throw ValidationError("batch '\(text)' in --batches: give whole numbers from 1 to \(CellLimits.maxBatchSize).")
            }
            return b
        }
    }

    struct Row: Codable {
        var model: String
        /// CxHxW of the images.
        var input: String
        var parameters: Int, batch: Int
        var mode: String, images_per_s: Double
        var repetitions: Int
        var spread: [Double]
        var cpu_share: Double
        /// Training FLOPs per image (`trainingFLOPsPerImage`).
        var flops_per_image: Int
        /// images/s × flops_per_image, in 10⁹ per second.
        var gflops: Double
        /// gflops as a percentage of `Record.peak_gflops`.
        var peak_percent: Double
    }

    struct GEMMRow: Codable {
        var shape: String
        var gflops: Double
    }

    struct Record: Codable {
        var format = "thermosweep-bench/1"
        var framework: String
        var threads = 1
        /// Single-core FP32 peak measured by `PeakFLOPS` (independent vector FMA chains).
        var peak_gflops: Double
        var rows: [Row]
        var gemm: [GEMMRow]
    }

    /// What the training rows' GFLOP/s and % peak columns count, for the legend.
    static let legend = """
        GFLOP/s: images/s × training FLOPs per image: forward conv 2·K·K·C·OC·OH·OW and
        dense 2·in·out, ×3 for forward, weight and input gradient, ×2 for the first
        layer (its input needs no gradient); activations and pooling not counted.
        A 3×3 conv that runs by Winograd F(2×2, 3×3) (README, "Networks") does about 4
        multiplications per output and input channel instead of 9; it counts as 9.
        % peak: GFLOP/s / peak. spread: (max − min) / median of the repetitions.
        """

    func run() throws {
        let framework = "thermosweep \(ThermoSweep.version)"
        let peak = PeakFLOPS.measure(seconds: min(seconds, 0.2), repetitions: repetitions)
        let given = try selectedInput()
        let models = try selectedModels()
        if !json {
            print("framework: \(framework)")
            print("cpu:       \(cpuModel())")
            print("threads:   1")
            print("timing:    median of \(repetitions) repetitions of >= \(seconds) s after a warm-up")
            print("peak:      \(Format.fixed(peak.gflops, digits: 1)) GFLOP/s FP32 (\(PeakFLOPS.chains) chains of "
                  + "\(PeakFLOPS.lanes)-lane \(PeakFLOPS.operation))" + (peak.cpuShare < 0.9 ? ", cpu \(percent(peak.cpuShare))" : ""))
            print("")
            print(modelTable(models, given: given))
            print("")
        }
        var rows: [Row] = []
        var table = TextTable(["model", "batch", "mode", "images/s", "spread", "cpu", "GFLOP/s", "% peak"],
                              leftAligned: [0, 2])
        let explicit = try selectedBatches()
        for model in models {
            for batch in explicit ?? Self.defaultBatches[model, default: [32]] {
                var modes = [false]
                if Self.thermometerBatches[model]?.contains(batch) == true { modes.append(true) }
                for withThermometer in modes {
                    let row = measure(model: model, input: Self.input(for: model, given: given), batch: batch,
                                      thermometer: withThermometer, peak: peak.gflops)
                    rows.append(row)
                    table.add([label(model, in: models), "\(row.batch)", row.mode, Format.grouped(row.images_per_s),
                               percent((row.spread[1] - row.spread[0]) / row.images_per_s), percent(row.cpu_share),
                               Format.fixed(row.gflops, digits: 1), Format.fixed(row.peak_percent, digits: 0)])
                }
            }
        }
        var gemmRows: [GEMMRow] = []
        if !noGemm {
            for (ta, tb, label) in [(Transpose.none, Transpose.none, "NN"), (.none, .transposed, "NT"),
                                    (.transposed, .none, "TN"), (.transposed, .transposed, "TT")] {
                let g = measureGEMM(m: 512, n: 512, k: 512, transA: ta, transB: tb, repetitions: 21)
                gemmRows.append(GEMMRow(shape: "512x512x512 \(label)", gflops: g))
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let record = Record(framework: framework, peak_gflops: peak.gflops, rows: rows, gemm: gemmRows)
            print(String(decoding: try encoder.encode(record), as: UTF8.self))
            return
        }
        print(table.render())
        print("\n" + Self.legend)
        if rows.contains(where: { $0.cpu_share < 0.9 }) || peak.cpuShare < 0.9 {
            print("\n(cpu < 90 %): other processes took the core while timing; those rows understate\nthe speed.")
        }
        if !gemmRows.isEmpty {
            print("")
            var g = TextTable(["gemm", "GFLOP/s"])
            for r in gemmRows { g.add([r.shape, Format.fixed(r.gflops, digits: 1)]) }
            print(g.render())
        }
    }

    /// `42 %`.
    func percent(_ fraction: Double) -> String { "\(Int((100 * fraction).rounded())) %" }

    /// A model's name in the table: a built-in name, or `list1`, `list2`, ... for layer lists
    /// (spelled out in the model table above it).
    func label(_ model: ModelKind, in models: [ModelKind]) -> String {
        if model.isBuiltIn { return model.rawValue }
        let lists = models.filter { !$0.isBuiltIn }
        return "list\((lists.firstIndex(of: model) ?? 0) + 1)"
    }

    /// The models with their inputs, parameter counts and training FLOPs per image; each layer list
    /// spelled out on its own line under its label.
    func modelTable(_ models: [ModelKind], given: InputShape?) -> String {
        var table = TextTable(["model", "input", "parameters", "MFLOP/image"])
        var lists: [String] = []
        for model in models where !table.rows.contains(where: { $0[0] == label(model, in: models) }) {
            let shape = Self.input(for: model, given: given)
            guard let arch = try? model.architecture(channels: shape.channels, height: shape.height,
                                                     width: shape.width, classes: 10) else { continue }
            table.add([label(model, in: models), "\(shape)", Format.grouped(Double(arch.parameterCount)),
                       Format.fixed(Double(arch.flopsPerSample) * 1e-6, digits: 2)])
            if !model.isBuiltIn { lists.append("\(label(model, in: models)): \(model.rawValue)") }
        }
        return ([table.render()] + lists).joined(separator: "\n")
    }

    func measure(model: ModelKind, input: InputShape, batch: Int, thermometer withThermometer: Bool,
                 peak: Double) -> Row {
        // selectedModels() checked that the model fits its input.
        let pool = Self.pool(input)
        guard let network = try? Network(model: model, data: pool, seed: 1, maxBatch: batch) else {
            preconditionFailure("model \(model) does not fit its bench images \(input)")
        }
        let sgd = SGD(config: SGDConfig(learningRate: 0.05), parameterCount: network.parameterCount)
        var sampler = BatchSampler(count: pool.count, batchSize: batch, mode: .shuffle, seed: 2)
        var indices = [Int]()
        let before = Buffer(count: network.parameterCount)
        let window = 500
        func newThermometer() -> Thermometer? {
            guard withThermometer else { return nil }
            return try? Thermometer(groups: network.groups,
                                    config: ThermometerConfig(learningRate: 0.05, batchSize: batch, measureSteps: window))
        }
        var thermometer = newThermometer()
        func step() {
            sampler.next(into: &indices)
            network.loadBatch(pool, indices: indices)
            let (loss, _) = network.forwardBackward()
            if let t = thermometer {
                before.copy(from: network.parameters, count: network.parameterCount)
                sgd.step(network)
                t.record(parameters: before, update: sgd.update, gradient: network.gradients, loss: loss)
                if t.recordedSteps == window {
                    _ = t.finish()
                    thermometer = newThermometer()
                }
            } else {
                sgd.step(network)
            }
        }
        let (rates, share) = Self.time(repetitions: repetitions, seconds: seconds, warmup: .milliseconds(200)) {
            step()
            return Double(batch)
        }
        let rate = rates[rates.count / 2], flops = network.architecture.flopsPerSample
        let gflops = rate * Double(flops) * 1e-9
        return Row(model: model.rawValue, input: "\(input)", parameters: network.parameterCount, batch: batch,
                   mode: withThermometer ? "+thermometer" : "train", images_per_s: rate, repetitions: repetitions,
                   spread: [rates[0], rates[rates.count - 1]], cpu_share: share, flops_per_image: flops,
                   gflops: gflops, peak_percent: 100 * gflops / peak)
    }

    /// Rates of `work` (the units done per call, per second): `repetitions` timings of at least
    /// `seconds` each, sorted, after a warm-up of at least 3 calls and `warmup`; and the share of
    /// a core the process got meanwhile.
    static func time(repetitions: Int, seconds: Double, warmup: Duration,
                     _ work: () -> Double) -> (rates: [Double], cpuShare: Double) {
        let clock = ContinuousClock()
        let warmupStart = clock.now
        var warmCalls = 0
        while warmCalls < 3 || clock.now - warmupStart < warmup {
            _ = work()
            warmCalls += 1
        }
        var rates: [Double] = []
        let cpuStart = cpuSeconds(), wallStart = clock.now
        for _ in 0..<repetitions {
            var units = 0.0
            let start = clock.now
            var elapsed = 0.0
            repeat {
                units += work()
                elapsed = (clock.now - start) / .seconds(1)
            } while elapsed < seconds
            rates.append(units / elapsed)
        }
        let share = (cpuSeconds() - cpuStart) / ((clock.now - wallStart) / .seconds(1))
        return (rates.sorted(), share)
    }

    /// CPU seconds (user + system) this process has used.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
    }

    func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }
}
