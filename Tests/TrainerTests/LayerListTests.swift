// Layer lists: every layer kind, on 1- and 3-channel inputs of awkward sizes, and random whole
// lists, checked against central finite differences of a plain Double model that reads the list
// layer by layer in PyTorch's (N, C, H, W) layout (no fusion, no im2col, no channel-major
// batches); built-in names against their lists, bit for bit.
import Cell
import Foundation
import Kernels
import Testing
@testable import Trainer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The mean cross-entropy of a layer list in Double, straight from its definition.
struct ListReference {
    let layers: [PlacedLayer]
    let classes: Int

    /// Loss of `images` (N × C·H·W, each channel-major) with `labels` under parameters `p`.
    func loss(parameters p: [Double], images: [Double], labels: [Int32], n: Int) -> Double {
        var offset = 0
        func take(_ count: Int) -> [Double] {
            defer { offset += count }
            return Array(p[offset..<(offset + count)])
        }
        var x = images
        for layer in layers {
            switch (layer.layer, layer.input) {
            case let (.conv(k, oc, same), .image(c, h, w)):
                let weight = take(layer.weightCount), bias = take(layer.biasCount)
                let before = same ? (k - 1) / 2 : 0, after = same ? k - 1 - before : 0
                let (ph, pw) = (h + before + after, w + before + after)
                var padded = [Double](repeating: 0, count: n * c * ph * pw)
                for m in 0..<(n * c) {
                    for y in 0..<h { for q in 0..<w { padded[(m * ph + y + before) * pw + q + before] = x[(m * h + y) * w + q] } }
                }
                x = Ref.conv(padded, n: n, c: c, h: ph, w: pw, weight: weight, bias: bias, oc: oc, k: k)
            case (.relu, _):
                x = x.map { max($0, 0) }
            case (.tanh, _):
                x = x.map { Foundation.tanh($0) }
            case let (.maxPool(k), .image(c, h, w)), let (.avgPool(k), .image(c, h, w)):
                let isMax: Bool
                if case .maxPool = layer.layer { isMax = true } else { isMax = false }
                let (oh, ow) = (h / k, w / k)
                var out = [Double](repeating: 0, count: n * c * oh * ow)
                for m in 0..<(n * c) {
                    for i in 0..<oh {
                        for j in 0..<ow {
                            var window: [Double] = []
                            for dy in 0..<k { for dx in 0..<k { window.append(x[(m * h + i * k + dy) * w + j * k + dx]) } }
                            out[(m * oh + i) * ow + j] = isMax ? window.max()! : window.reduce(0, +) / Double(k * k)
                        }
                    }
                }
                x = out
            case let (.dense(outputs), input):
                let weight = take(layer.weightCount), bias = take(layer.biasCount)
                x = Ref.dense(x, n: n, inputs: input.count, weight: weight, bias: bias, outputs: outputs)
            default:
                preconditionFailure("layer \(layer.layer) on \(layer.input)")
            }
        }
        return Ref.softmaxCE(x, labels: labels, n: n, k: classes).loss
    }
}

/// `count` random C×H×W images (uniform bytes) with random labels of `classes` classes.
func randomImages(count: Int, channels: Int, height: Int, width: Int, classes: Int, seed: UInt64) -> Dataset {
    var rng = SeededRNG(seed: seed)
    let pixels = (0..<(count * channels * height * width)).map { _ in UInt8(rng.int(below: 256)) }
    let labels = (0..<count).map { _ in Int32(rng.int(below: classes)) }
    return Dataset(name: "random/\(channels)x\(height)x\(width)/seed=\(seed)", count: count, channels: channels,
                   rows: height, columns: width, classes: classes, pixels: pixels, labels: labels,
                   contentHash: "random-\(channels)-\(height)-\(width)-\(seed)")
}

/// A random layer list that fits C×H×W images of `classes` classes.
func randomLayerList(_ rng: inout SeededRNG, channels: Int, height: Int, width: Int, classes: Int) -> ModelKind {
    var layers: [Layer] = []
    var (h, w) = (height, width)
    for _ in 0..<(1 + rng.int(below: 2)) {
        let k = 1 + rng.int(below: 3)
        let same = rng.int(below: 2) == 0
        guard same || (k <= h && k <= w) else { continue }
        layers.append(.conv(kernel: k, channels: 1 + rng.int(below: 4), same: same))
        if !same { (h, w) = (h - k + 1, w - k + 1) }
        switch rng.int(below: 3) {
        case 0: layers.append(.relu)
        case 1: layers.append(.tanh)
        default: break
        }
        let pool = 2 + rng.int(below: 2)
        if pool <= h && pool <= w && rng.int(below: 3) > 0 {
            layers.append(rng.int(below: 2) == 0 ? .maxPool(pool) : .avgPool(pool))
            (h, w) = (h / pool, w / pool)
        }
    }
    if rng.int(below: 2) == 0 {
        layers.append(.dense(2 + rng.int(below: 6)))
        layers.append(rng.int(below: 2) == 0 ? .relu : .tanh)
    }
    layers.append(.dense(classes))
    return ModelKind(layers: layers)
}

@Suite("Layer lists")
struct LayerListTests {
    /// Sets random parameters (biases too), runs one batch in slices of 2 (so slicing and the
    /// multi-channel input transpose are covered), and compares the loss and every parameter
    /// gradient with the Double reference and its central differences.
    func checkAgainstFiniteDifferences(_ model: ModelKind, channels: Int, height: Int, width: Int,
                                       classes: Int = 3, seed: UInt64) throws {
        let n = 5
        let data = randomImages(count: n, channels: channels, height: height, width: width, classes: classes,
                                seed: seed)
        let net = try Network(model: model, data: data, seed: seed, maxBatch: n, sliceSize: 2)
        let p = randomDoubles(net.parameterCount, seed: seed + 100, in: -0.5...0.5)
        net.parameters.copy(from: p.map { Float($0) })
        net.loadBatch(data, range: 0..<n)
        let (loss, _) = net.forwardBackward()

        let arch = net.architecture
        let reference = ListReference(layers: arch.layers, classes: classes)
        let pd = net.parameters.array.map(Double.init)
        let images = (0..<n).flatMap { data.image($0).map(Double.init) }
        let labels = Array(data.labels[0..<n])
        let f = { (q: [Double]) in reference.loss(parameters: q, images: images, labels: labels, n: n) }
        let refLoss = f(pd)
        #expect(abs(loss - refLoss) <= 1e-5 * max(1, abs(refLoss)), "\(model): loss \(loss) vs \(refLoss)")
        let numeric = (0..<pd.count).map { centralDifference(f, at: pd, index: $0, h: 1e-5) }
        let gradient = net.gradients.array.map(Double.init)
        for group in net.groups {
            let error = relativeError(Array(gradient[group.range]), Array(numeric[group.range]))
            #expect(error < 2e-3, "\(model) on \(channels)×\(height)×\(width): \(group.name) off by \(error)")
        }
    }

    static let kinds: [(String, Int, Int, Int)] = [
        ("conv3x3:4,dense:3", 1, 7, 5),
        ("conv3x3:4,dense:3", 3, 6, 9),
        ("conv2x2:3:same,dense:3", 3, 5, 6),
        ("conv3x3:2:same,relu,dense:3", 1, 7, 6),
        ("conv5x5:2:same,tanh,dense:3", 3, 5, 7),
        ("conv3x3:3,relu,maxpool2,dense:3", 3, 9, 8),          // the fused stage
        ("conv1x1:3,maxpool3,dense:3", 3, 8, 7),
        ("conv2x2:2,avgpool2,dense:3", 1, 7, 9),
        ("avgpool3,tanh,dense:3", 3, 7, 8),
        ("maxpool2,dense:4,relu,dense:3", 1, 5, 7),
        ("dense:6,tanh,dense:3", 3, 3, 5),
        ("conv3x3:3,relu,maxpool2,conv2x2:4,relu,maxpool2,dense:5,relu,dense:3", 3, 11, 10),
        // A conv after another layer: its input gradient (col2im into the padded image, cropped).
        ("conv3x3:2,tanh,conv3x3:3:same,dense:3", 3, 7, 6),
        ("conv2x2:2,relu,conv4x4:2:same,avgpool3,dense:3", 1, 9, 8),   // even kernel, pool drops an edge
        ("avgpool2,conv2x2:2,dense:3", 3, 7, 5),                          // avg pool dropping a row, 3 channels
        ("dense:4,relu,dense:3", 1, 5, 7),                                 // flatten of the raw input
        // 3×3 convs on 32 channels run by Winograd, with their input gradient: fused (7×6
        // outputs: a dropped tile row), padded and unpadded without a pool after them (7×5 and
        // 8×7 outputs: every output and its gradient seen, a dropped tile column).
        ("conv1x1:32,conv3x3:3,relu,maxpool2,dense:3", 3, 9, 8),
        ("conv1x1:32,tanh,conv3x3:2:same,dense:3", 1, 7, 5),
        ("conv1x1:32,conv3x3:2,dense:3", 1, 10, 9),
    ]

    @Test("every layer kind against finite differences", arguments: kinds.indices)
    func layerKind(_ index: Int) throws {
        let (list, c, h, w) = Self.kinds[index]
        try checkAgainstFiniteDifferences(try ModelKind(parsing: list), channels: c, height: h, width: w,
                                          seed: UInt64(index + 1))
    }

    @Test("the 32-channel 3×3 convs above run by Winograd, the others directly")
    func winogradInLists() throws {
        func algorithms(_ list: String, channels: Int, height: Int, width: Int) throws -> [ConvAlgorithm] {
            let data = randomImages(count: 2, channels: channels, height: height, width: width, classes: 3, seed: 1)
            let net = try Network(model: try ModelKind(parsing: list), data: data, seed: 1, maxBatch: 2)
            return net.layers.compactMap { ($0 as? ConvBlock)?.algorithm ?? ($0 as? ConvLayer)?.product.algorithm }
        }
        #expect(try algorithms("conv1x1:32,conv3x3:3,relu,maxpool2,dense:3", channels: 3, height: 9, width: 8)
                == [.direct, .winograd])
        #expect(try algorithms("conv1x1:32,tanh,conv3x3:2:same,dense:3", channels: 1, height: 7, width: 5)
                == [.direct, .winograd])
        #expect(try algorithms("conv1x1:32,conv3x3:2,dense:3", channels: 1, height: 10, width: 9)
                == [.direct, .winograd])
        #expect(try algorithms("conv3x3:32,relu,maxpool2,conv3x3:64,relu,maxpool2,dense:3", channels: 3,
                               height: 32, width: 32) == [.direct, .winograd])
    }

    @Test("random whole layer lists against finite differences")
    func randomLists() throws {
        var rng = SeededRNG(seed: 2024)
        for trial in 0..<8 {
            let c = rng.int(below: 2) == 0 ? 1 : 3
            let (h, w) = (4 + rng.int(below: 6), 4 + rng.int(below: 6))
            let model = randomLayerList(&rng, channels: c, height: h, width: w, classes: 3)
            try checkAgainstFiniteDifferences(model, channels: c, height: h, width: w, seed: UInt64(50 + trial))
        }
    }

    @Test("a built-in name and its layer list train bit for bit alike", arguments: [ModelKind.lenet816, .cnn3264])
    func builtInEqualsItsList(_ builtIn: ModelKind) throws {
        let list = try ModelKind(parsing: builtIn.layerList)
        #expect(list.rawValue == builtIn.layerList && list != builtIn && !list.isBuiltIn)
        #expect(list.architecture.stages == builtIn.architecture.stages)
        let data = randomDataset(count: 64, seed: 3)
        let a = try Network(model: builtIn, data: data, seed: 9, maxBatch: 24)
        let b = try Network(model: list, data: data, seed: 9, maxBatch: 24)
        #expect(a.groups == b.groups)
        let sgdA = SGD(config: SGDConfig(learningRate: 0.05, momentum: 0.9), parameterCount: a.parameterCount)
        let sgdB = SGD(config: SGDConfig(learningRate: 0.05, momentum: 0.9), parameterCount: b.parameterCount)
        for step in 0..<3 {
            let indices = (0..<24).map { (step * 24 + $0 * 7) % 64 }
            a.loadBatch(data, indices: indices)
            b.loadBatch(data, indices: indices)
            let (la, _) = a.forwardBackward(), (lb, _) = b.forwardBackward()
            #expect(la.bitPattern == lb.bitPattern)
            sgdA.step(a)
            sgdB.step(b)
        }
        #expect(a.snapshot().map(\.bitPattern) == b.snapshot().map(\.bitPattern))
    }

    @Test("the built-in models keep their fused stages and sizes; cifar-cnn on 3×32×32")
    func builtInShapes() throws {
        let lenet = ModelKind.lenet816.architecture
        #expect(lenet.stages.count == 4)
        #expect(lenet.stages.filter { if case .convBlock = $0 { true } else { false } }.count == 2)
        let cifar = try ModelKind.cifarCNN.architecture(channels: 3, height: 32, width: 32, classes: 10)
        #expect(cifar.parameterCount == 315_722)
        // conv1 fwd + dW, conv2, dense1, dense2 fwd + dW + dX: ≈ 24 MFLOP per training image.
        #expect(cifar.flopsPerSample == 2 * (2 * 32 * 27 * 900) + 3 * (2 * 64 * 288 * 169) + 3 * (2 * 128 * 2304)
                + 3 * (2 * 10 * 128))
        #expect(abs(Double(cifar.flopsPerSample) / 24e6 - 1) < 0.03)
        #expect(cifar.groups.map(\.name) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                             "dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"])
        // The 3-channel first conv runs the fused im2col + GEMM stage.
        guard case .convBlock(let first) = cifar.stages[0] else { Issue.record("conv1 not fused"); return }
        #expect(first.geometry.channels == 3 && first.geometry.patchSize == 27)
    }

    @Test("3-channel batches: loaded channel by channel, sliced samples see the same input")
    func threeChannelSlices() throws {
        let data = randomImages(count: 7, channels: 3, height: 10, width: 9, classes: 4, seed: 11)
        let model = try ModelKind(parsing: "conv3x3:4,relu,maxpool2,dense:4")
        let whole = try Network(model: model, data: data, seed: 2, maxBatch: 7, sliceSize: 7)
        let sliced = try Network(model: model, data: data, seed: 2, maxBatch: 7, sliceSize: 3)
        whole.loadBatch(data, indices: [6, 0, 3, 3, 1, 5, 2])
        sliced.loadBatch(data, indices: [6, 0, 3, 3, 1, 5, 2])
        let (lw, cw) = whole.forwardBackward(), (ls, cs) = sliced.forwardBackward()
        #expect(abs(lw - ls) < 1e-6 && cw == cs)
        #expect(relativeError(sliced.gradients.array.map(Double.init), whole.gradients.array.map(Double.init)) < 1e-5)
        // Image 6 as the network reads it: byte p of channel c through lookup[c·256 + p].
        let lookup = data.pixelLookup
        #expect(lookup.count == 3 * 256)
        let plane = 10 * 9
        let expected = (0..<(3 * plane)).map { j in lookup[(j / plane) * 256 + Int(data.pixels[6 * 3 * plane + j])] }
        #expect(Array(whole.input.array[0..<(3 * plane)]) == expected)
        #expect(data.image(6) == expected)
    }
}
