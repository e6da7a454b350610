import Cell
import ArgumentParser
import Foundation
import Session
import Kernels
import Thermometer
import Trainer

/// `thermosweep bench`: single-thread training throughput and GEMM GFLOP/s on this machine.
///
/// Training rows time what `scripts/bench_reference.py` times for PyTorch: per step, gather a batch
/// from a pool of 4096 synthetic 28×28 images (new random order per pass), forward, mean
/// cross-entropy, backward, plain SGD (η = 0.05). `+thermometer` rows add what the measurement
/// window adds per step (copy of θ, `Thermometer.record`, a new thermometer every 500 steps);
/// noise-calibration probes are not included.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure single-thread training throughput and GEMM speed on this machine.")

    @Option(help: "Comma-separated built-in models (default: lenet-8-16, lenet-4-8, cnn-32-64).")
    var models: String?

    @Option(name: .customLong("model"),
            help: "A model to add: a built-in name or a layer list such as conv5x5:8,relu,maxpool2,dense:10 (repeatable).")
    var extraModels: [String] = []

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
        .lenet816: [8, 16, 32, 64, 128, 256], .lenet48: [8, 32, 128], .cnn3264: [16, 64, 256],
    ]
    /// Models and batches whose measurement overhead is reported (`+thermometer` rows).
    static let thermometerBatches: [ModelKind: Set<Int>] = [.lenet816: [8, 32, 128]]

    func validate() throws {
        guard seconds > 0 && seconds <= 60 else { throw ValidationError("--seconds \(seconds): give a value in (0, 60].") }
        guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions \(repetitions): give 1 to 100.") }
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
            let model: ModelKind
            do { model = try ModelKind(parsing: text) } catch { throw ValidationError("--model: \(error)") }
            _ = try Self.pool(for: model)
            selected.append(model)
        }
        return selected
    }

    /// The images a model is timed on: 4096 synthetic 1×28×28 images, or, for a model that needs
    /// other inputs (cifar-cnn), 4096 seeded random 3×32×32 images of 10 classes.
    static func pool(for model: ModelKind) throws -> Dataset {
        if (try? model.architecture(channels: 1, height: 28, width: 28, classes: 10)) != nil {
            return SyntheticDataset.make(seed: 1, count: 4096)
        }
        do { _ = try model.architecture(channels: 3, height: 32, width: 32, classes: 10) } catch {
            throw ValidationError("--model: \(error) (bench times models on 1×28×28 or 3×32×32 images of 10 classes)")
        }
        var rng = SeededRNG(seed: 1)
        let count = 4096, size = 3 * 32 * 32
        let pixels = (0..<(count * size)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let labels = (0..<count).map { _ in Int32(rng.int(below: 10)) }
        return Dataset(name: "random/3x32x32", count: count, channels: 3, rows: 32, columns: 32, classes: 10,
                       pixels: pixels, labels: labels, contentHash: "random-3x32x32-seed-1")
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
        var batch: Int
        var mode: String
        var images_per_s: Double
        var repetitions: Int
        var spread: [Double]
        var cpu_share: Double
    }

    struct GEMMRow: Codable {
        var shape: String
        var gflops: Double
    }

    struct Record: Codable {
        var format = "thermosweep-bench/1"
        var framework: String
        var threads = 1
        var rows: [Row]
        var gemm: [GEMMRow]
    }

    func run() throws {
        let framework = "thermosweep \(ThermoSweep.version)"
        if !json {
            print("framework: \(framework)")
            print("cpu:       \(cpuModel())")
            print("threads:   1")
            print("timing:    median of \(repetitions) repetitions of >= \(seconds) s after a warm-up\n")
        }
        var rows: [Row] = []
        var table = TextTable(["model", "batch", "mode", "images/s", "min–max", "cpu"], leftAligned: [0, 2])
        let explicit = try selectedBatches()
        for model in try selectedModels() {
            for batch in explicit ?? Self.defaultBatches[model, default: [32]] {
                var modes = [false]
                if Self.thermometerBatches[model]?.contains(batch) == true { modes.append(true) }
                for withThermometer in modes {
                    let row = measure(model: model, batch: batch, thermometer: withThermometer)
                    rows.append(row)
                    table.add([row.model, "\(row.batch)", row.mode, Format.grouped(row.images_per_s),
                               "\(Format.grouped(row.spread[0]))–\(Format.grouped(row.spread[1]))",
                               "\(Int((100 * row.cpu_share).rounded())) %"])
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
            encoder.outputFormatting = [.sortedKeys]
            let record = Record(framework: framework, rows: rows, gemm: gemmRows)
            print(String(decoding: try encoder.encode(record), as: UTF8.self))
            return
        }
        print(table.render())
        if rows.contains(where: { $0.cpu_share < 0.9 }) {
            print("\n(cpu < 90 %): other processes took the core while timing; those rows understate the speed.")
        }
        if !gemmRows.isEmpty {
            print("")
            var g = TextTable(["gemm", "GFLOP/s"])
            for r in gemmRows { g.add([r.shape, Format.fixed(r.gflops, digits: 1)]) }
            print(g.render())
        }
    }

    func measure(model: ModelKind, batch: Int, thermometer withThermometer: Bool) -> Row {
        // selectedModels() checked that the model fits its pool.
        guard let pool = try? Self.pool(for: model),
              let network = try? Network(model: model, data: pool, seed: 1, maxBatch: batch) else {
            preconditionFailure("model \(model) does not fit its bench images")
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
        let clock = ContinuousClock()
        let warmup = clock.now
        var warmSteps = 0
        while warmSteps < 3 || clock.now - warmup < .milliseconds(200) { step(); warmSteps += 1 }

        var rates: [Double] = []
        let cpuStart = cpuSeconds(), wallStart = clock.now
        for _ in 0..<repetitions {
            var steps = 0
            let start = clock.now
            var elapsed = 0.0
            repeat {
                step()
                steps += 1
                elapsed = (clock.now - start) / .seconds(1)
            } while elapsed < seconds
            rates.append(Double(batch * steps) / elapsed)
        }
        let share = (cpuSeconds() - cpuStart) / ((clock.now - wallStart) / .seconds(1))
        rates.sort()
        return Row(model: model.rawValue, batch: batch, mode: withThermometer ? "+thermometer" : "train",
                   images_per_s: rates[rates.count / 2], repetitions: repetitions,
                   spread: [rates[0], rates[rates.count - 1]], cpu_share: share)
    }

    func cpuSeconds() -> Double {
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
