// Training end to end: determinism of SGD runs and that a network learns a learnable task.
import Cell
import Kernels
import Testing
@testable import Trainer

/// Ten random class prototypes plus Gaussian noise of standard deviation `noise` (in units of the
/// prototypes' spread, 40 pixel levels), as pixel bytes.
func prototypeDataset(count: Int, noise: Double, seed: UInt64) -> Dataset {
    var rng = SeededRNG(seed: seed)
    let prototypes = (0..<(10 * 784)).map { _ in rng.normal() }
    var pixels: [UInt8] = []
    pixels.reserveCapacity(count * 784)
    var labels: [Int32] = []
    for _ in 0..<count {
        let label = rng.int(below: 10)
        labels.append(Int32(label))
        for p in 0..<784 {
            let level = 128 + 40 * (prototypes[label * 784 + p] + noise * rng.normal())
            pixels.append(UInt8(min(255, max(0, level.rounded()))))
        }
    }
    return Dataset(name: "prototypes/seed=\(seed)", count: count, rows: 28, columns: 28, classes: 10,
                   pixels: pixels, labels: labels, contentHash: "prototypes-\(seed)")
}

/// Runs `steps` SGD steps on batches drawn with replacement from `data`.
func train(_ net: Network, _ sgd: SGD, on data: Dataset, steps: Int, batch: Int, seed: UInt64) {
    var rng = SeededRNG(seed: seed, stream: 7)
    var indices = [Int](repeating: 0, count: batch)
    for _ in 0..<steps {
        for k in 0..<batch { indices[k] = rng.int(below: data.count) }
        net.loadBatch(data, indices: indices)
        _ = net.forwardBackward()
        sgd.step(net)
    }
}

@Suite("Network training")
struct NetworkTrainingTests {
    @Test("same seed, same batches: bit-identical parameters after 20 steps", arguments: [Float(0), 0.9])
    func determinism(momentum: Float) {
        let data = randomDataset(count: 40, seed: 5)
        let config = SGDConfig(learningRate: 0.05, momentum: momentum)
        var runs: [[Float]] = []
        for _ in 0..<2 {
            let net = Network(model: .lenet48, seed: 77, maxBatch: 8)
            train(net, SGD(config: config, parameterCount: net.parameterCount), on: data, steps: 20, batch: 4, seed: 1)
            runs.append(net.snapshot())
        }
        #expect(runs[0] == runs[1])
        #expect(runs[0] != Network(model: .lenet48, seed: 77, maxBatch: 8).snapshot())
        #expect(runs[0].allSatisfy { $0.isFinite })
    }

    @Test("lenet-4-8 learns class prototypes")
    func learns() {
        #if DEBUG
        let (count, steps, batch) = (64, 40, 8)
        let required = 0.7   // loss must fall below this fraction of the initial loss
        #else
        let (count, steps, batch) = (512, 300, 32)
        let required = 0.2
        #endif
        let data = prototypeDataset(count: count, noise: 1.0, seed: 3)
        let net = Network(model: .lenet48, seed: 4, maxBatch: batch)
        let initial = net.evaluate(data)
        train(net, SGD(config: SGDConfig(learningRate: 0.05), parameterCount: net.parameterCount),
              on: data, steps: steps, batch: batch, seed: 2)
        let final = net.evaluate(data)
        #expect(final.loss < required * initial.loss, "loss \(initial.loss) -> \(final.loss)")
        #expect(final.accuracy > initial.accuracy)
    }
}
