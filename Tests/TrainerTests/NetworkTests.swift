// The whole network: shapes and counts, initialisation, gradients against finite differences of
// the Double reference model and against that model's backward pass, batching, checkpoints.
import Cell
import Foundation
import Kernels
import Testing
@testable import Trainer

/// `count` random 28×28 images (uniform pixel bytes) with random labels.
func randomDataset(count: Int, seed: UInt64) -> Dataset {
    var rng = SeededRNG(seed: seed)
    let pixels = (0..<(count * 784)).map { _ in UInt8(rng.int(below: 256)) }
    let labels = (0..<count).map { _ in Int32(rng.int(below: 10)) }
    return Dataset(name: "random/seed=\(seed)", count: count, rows: 28, columns: 28, classes: 10,
                   pixels: pixels, labels: labels, contentHash: "random-\(seed)")
}

@Suite("Network")
struct NetworkTests {
    @Test("parameter counts and groups")
    func counts() {
        #expect(ModelKind.lenet816.architecture.parameterCount == 5_994)
        #expect(ModelKind.lenet48.architecture.parameterCount == 2_202)
        // 32·9+32 + 64·32·9+64 + 1600·128+128 + 128·10+10
        #expect(ModelKind.cnn3264.architecture.parameterCount == 225_034)
        let net = Network(model: .lenet816, seed: 1, maxBatch: 4)
        #expect(net.parameterCount == 5_994 && net.gradients.count == 5_994)
        #expect(net.groups.map(\.name) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                           "dense1.weight", "dense1.bias"])
        #expect(net.groups.map(\.count) == [200, 8, 3_200, 16, 2_560, 10])
        #expect(net.groups.map(\.filterCount) == [8, 0, 16, 0, 0, 0])
        // Groups tile the flat vector in order.
        #expect(zip(net.groups.dropLast(), net.groups.dropFirst()).allSatisfy { $0.range.upperBound == $1.range.lowerBound })
        #expect(net.groups.first?.range.lowerBound == 0 && net.groups.last?.range.upperBound == 5_994)
        let cnn = ModelKind.cnn3264.architecture
        #expect(cnn.groups.map(\.name).suffix(4) == ["dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"])
        #expect(cnn.denses[0].inputs == 1_600)
    }

    @Test("default slice sizes")
    func slices() {
        #expect(Network.defaultSliceSize(for: ModelKind.lenet816.architecture) == 32)
        #expect(Network.defaultSliceSize(for: ModelKind.cnn3264.architecture) == 16)
        #expect(Network(model: .lenet816, seed: 1, maxBatch: 8).sliceSize == 8)
        #expect(Network(model: .cnn3264, seed: 1, maxBatch: 256).convs[1].maxBatch == 16)
    }

    @Test("FLOPs per training step")
    func flops() {
        // lenet-8-16: conv1 fwd + dW 2·(2·8·25·576), conv2 3·(2·16·200·64), dense 3·(2·10·256).
        #expect(ModelKind.lenet816.architecture.flopsPerSample == 2 * 230_400 + 3 * 409_600 + 3 * 5_120)
        #expect(ModelKind.cnn3264.architecture.flopsPerSample
                == 2 * (2 * 32 * 9 * 676) + 3 * (2 * 64 * 288 * 121) + 3 * (2 * 128 * 1600) + 3 * (2 * 10 * 128))
    }

    @Test("He-normal init: seeded, zero biases, std √(2/fan_in)")
    func initialisation() {
        let a = Network(model: .lenet816, seed: 42, maxBatch: 1)
        let b = Network(model: .lenet816, seed: 42, maxBatch: 8)
        let c = Network(model: .lenet816, seed: 43, maxBatch: 1)
        #expect(a.snapshot() == b.snapshot())
        #expect(a.snapshot() != c.snapshot())
        for group in a.groups {
            let values = a.parameters.slice(group.range)
            if group.name.hasSuffix("bias") {
                #expect(values.allSatisfy { $0 == 0 })
            } else {
                let fanIn = group.name == "conv1.weight" ? 25 : group.name == "conv2.weight" ? 200 : 256
                let variance = values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(values.count)
                // The sample variance of n normal draws has relative SE √(2/n) (≤ 0.1 here).
                #expect(abs(variance * Double(fanIn) / 2 - 1) < 4 * (2.0 / Double(values.count)).squareRoot(),
                        "\(group.name): variance \(variance)")
            }
        }
    }

    @Test("reference model gradient of lenet-4-8 matches finite differences")
    func referenceModelFiniteDifferences() {
        let arch = ModelKind.lenet48.architecture
        let model = ReferenceModel(architecture: arch)
        let n = 2
        let data = randomDataset(count: n, seed: 3)
        let images = (0..<n).flatMap { data.image($0).map(Double.init) }
        let net = Network(model: .lenet48, seed: 5, maxBatch: n)
        // Non-zero biases so their gradients are exercised through every ReLU.
        var p = net.snapshot().map(Double.init)
        for group in arch.groups where group.name.hasSuffix("bias") {
            for i in group.range { p[i] = 0.05 * Double(i % 7) - 0.1 }
        }
        let (_, grad) = model.lossAndGradient(parameters: p, images: images, labels: data.labels, n: n)
        let f: ([Double]) -> Double = { model.loss(parameters: $0, images: images, labels: data.labels, n: n) }
        // Every coordinate in release; in debug every group's first and last few plus a stride.
        #if DEBUG
        let indices = arch.groups.flatMap { g in
            Array(g.range.prefix(3)) + Array(g.range.suffix(2)) + Array(stride(from: g.range.lowerBound, to: g.range.upperBound, by: 97))
        }
        #else
        let indices = Array(p.indices)
        #endif
        let fd = indices.map { centralDifference(f, at: p, index: $0) }
        let analytic = indices.map { grad[$0] }
        #expect(relativeError(analytic, fd) < 1e-6)
        // Directional derivatives along random directions cover all coordinates at once.
        for seed in 0..<3 {
            let v = randomDoubles(p.count, seed: 100 + UInt64(seed))
            let h = 1e-6
            let plus = zip(p, v).map { $0 + h * $1 }, minus = zip(p, v).map { $0 - h * $1 }
            let directional = (f(plus) - f(minus)) / (2 * h)
            let dot = zip(grad, v).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(abs(directional - dot) <= 1e-6 * max(abs(dot), 1e-3))
        }
    }

    @Test("fast network gradient matches the reference model (whole batch and in slices of 2, 2, 1)",
          arguments: [(ModelKind.lenet48, 32), (.lenet816, 32), (.lenet48, 2)])
    func fastMatchesReference(model kind: ModelKind, sliceSize: Int) {
        let n = 5
        let data = randomDataset(count: 9, seed: 11)
        let net = Network(model: kind, seed: 12, maxBatch: 8, sliceSize: sliceSize)
        #expect(net.sliceSize == min(sliceSize, 8))
        // Non-zero biases.
        for group in net.groups where group.name.hasSuffix("bias") {
            for i in group.range { net.parameters[i] = 0.02 * Float(i % 5) - 0.04 }
        }
        let indices = [8, 0, 3, 3, 6]
        net.loadBatch(data, indices: indices)
        net.gradients.fill(.nan)
        let (loss, correct) = net.forwardBackward()
        let images = indices.flatMap { i in data.image(i).map(Double.init) }
        let labels = indices.map { data.labels[$0] }
        let reference = ReferenceModel(architecture: kind.architecture)
        let (refLoss, refGrad) = reference.lossAndGradient(parameters: net.snapshot().map(Double.init),
                                                           images: images, labels: labels, n: n)
        #expect(abs(loss - refLoss) < 1e-5 * refLoss)
        #expect(correct >= 0 && correct <= n)
        for group in net.groups {
            let fast = net.gradients.slice(group.range).map(Double.init)
            let ref = Array(refGrad[group.range])
            #expect(relativeError(fast, ref) < 1e-4, "\(group.name)")
        }
        // forward() gives the same loss without touching gradients.
        let before = net.gradients.array
        let (loss2, correct2) = net.forward()
        #expect(loss2 == loss && correct2 == correct)
        #expect(net.gradients.array == before)
    }

    @Test("results do not depend on maxBatch or on what was loaded before")
    func batchIndependence() {
        let data = randomDataset(count: 20, seed: 21)
        let small = Network(model: .lenet48, seed: 9, maxBatch: 7)
        let large = Network(model: .lenet48, seed: 9, maxBatch: 17)
        large.loadBatch(data, indices: Array(0..<17))
        _ = large.forwardBackward()
        for batch in [[4], [1, 2, 3, 4, 5, 6, 7], [19, 0, 5]] {
            small.loadBatch(data, indices: batch)
            large.loadBatch(data, indices: batch)
            let a = small.forwardBackward(), b = large.forwardBackward()
            #expect(a.loss == b.loss && a.correct == b.correct)
            #expect(small.gradients.array == large.gradients.array)
        }
        // Slices of 3 give the same loss and gradients up to Float32 summation order.
        let sliced = Network(model: .lenet48, seed: 9, maxBatch: 17, sliceSize: 3)
        #expect(sliced.convs[0].maxBatch == 3)
        let batch = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
        sliced.loadBatch(data, indices: batch)
        large.loadBatch(data, indices: batch)
        let a = sliced.forwardBackward(), b = large.forwardBackward()
        #expect(abs(a.loss - b.loss) <= 1e-6 * b.loss && a.correct == b.correct)
        #expect(relativeError(sliced.gradients.array.map(Double.init), large.gradients.array.map(Double.init)) < 1e-5)
        let c = sliced.forward()
        #expect(c.loss == a.loss && c.correct == a.correct)
    }

    @Test("evaluate: whole set in order, any batch size")
    func evaluate() {
        let data = randomDataset(count: 11, seed: 31)
        let net = Network(model: .lenet48, seed: 1, maxBatch: 4)
        let (loss, accuracy) = net.evaluate(data)
        let (loss1, accuracy1) = net.evaluate(data, batchSize: 1)
        #expect(abs(loss - loss1) < 1e-6 * loss)
        #expect(accuracy == accuracy1)
        // Against per-sample forward passes.
        var sum = 0.0
        var correct = 0
        for i in 0..<data.count {
            net.loadBatch(data, indices: [i])
            let (l, c) = net.forward()
            sum += l
            correct += c
        }
        #expect(abs(sum / 11 - loss) < 1e-6 * loss)
        #expect(accuracy == Double(correct) / 11)
        #expect(loss.isFinite && loss > 0)
    }

    @Test("snapshot, restore and checkpoint bytes round-trip")
    func checkpoint() throws {
        let a = Network(model: .lenet48, seed: 1, maxBatch: 2)
        let b = Network(model: .lenet48, seed: 2, maxBatch: 2)
        let bytes = try Checkpoint(a).encoded()
        let decoded = try Checkpoint.decode(bytes)
        #expect(decoded.model == .lenet48 && decoded.formatVersion == Checkpoint.formatVersion)
        try b.restore(decoded)
        #expect(b.snapshot() == a.snapshot())   // bit-identical through JSON
        #expect(throws: CheckpointError.sizeMismatch(model: "lenet-4-8", expected: 2_202, got: 3)) {
            try b.restore([1, 2, 3])
        }
        let other = Network(model: .lenet816, seed: 1, maxBatch: 1)
        #expect(throws: CheckpointError.modelMismatch(expected: "lenet-8-16", got: "lenet-4-8")) {
            try other.restore(decoded)
        }
        // A corrupted size or version is refused with a clear error (the size by the network it
        // is restored into: the count depends on the data's image shape).
        let truncated = try Checkpoint.decode(try Checkpoint(model: .lenet48, parameters: [0.5]).encoded())
        #expect(throws: CheckpointError.sizeMismatch(model: "lenet-4-8", expected: 2_202, got: 1)) {
            try b.restore(truncated)
        }
        let text = try #require(String(data: bytes, encoding: .utf8))
        let future = Data(text.replacingOccurrences(of: "\"formatVersion\":1", with: "\"formatVersion\":99").utf8)
        #expect(throws: CheckpointError.unsupportedVersion(found: 99, supported: 1)) { try Checkpoint.decode(future) }
        #expect(CheckpointError.sizeMismatch(model: "lenet-4-8", expected: 2_202, got: 3).description.contains("2202"))
    }
}
