// Layer gradients: the Double reference against central finite differences, then the fast
// Float32 layers (im2col + GEMM + fused pool, sample-major dense) against the reference.
import Foundation
import Kernels
import Testing
@testable import Trainer

/// Finite-difference tolerance for the Double reference (h = 1e-6: truncation ~1e-12, rounding ~1e-10).
private let fdTolerance = 1e-6
/// Fast Float32 layers against the Double reference, relative to the tensor's largest entry.
private let float32Tolerance = 1e-4

@Suite("Reference layers match finite differences")
struct ReferenceLayerGradientTests {
    @Test("conv: dx, dw, db", arguments: [(n: 2, c: 2, h: 6, w: 5, oc: 3, k: 3), (n: 1, c: 1, h: 4, w: 4, oc: 1, k: 2)])
    func conv(shape: (n: Int, c: Int, h: Int, w: Int, oc: Int, k: Int)) {
        let (n, c, h, w, oc, k) = shape
        let x = randomDoubles(n * c * h * w, seed: 1)
        let weight = randomDoubles(oc * c * k * k, seed: 2)
        let bias = randomDoubles(oc, seed: 3)
        let r = randomDoubles(n * oc * (h - k + 1) * (w - k + 1), seed: 4)
        func loss(_ x: [Double], _ weight: [Double], _ bias: [Double]) -> Double {
            zip(Ref.conv(x, n: n, c: c, h: h, w: w, weight: weight, bias: bias, oc: oc, k: k), r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let (dx, dw, db) = Ref.convBackward(x, dOut: r, n: n, c: c, h: h, w: w, weight: weight, oc: oc, k: k)
        let fdx = x.indices.map { centralDifference({ loss($0, weight, bias) }, at: x, index: $0) }
        let fdw = weight.indices.map { centralDifference({ loss(x, $0, bias) }, at: weight, index: $0) }
        let fdb = bias.indices.map { centralDifference({ loss(x, weight, $0) }, at: bias, index: $0) }
        #expect(relativeError(dx, fdx) < fdTolerance)
        #expect(relativeError(dw, fdw) < fdTolerance)
        #expect(relativeError(db, fdb) < fdTolerance)
    }

    @Test("max-pool 2×2 (even and odd sizes), ReLU")
    func poolAndReLU() {
        for (images, h, w) in [(3, 4, 6), (2, 5, 7)] {
            let x = randomDoubles(images * h * w, seed: 5)   // continuous values: no ties
            let r = randomDoubles(images * (h / 2) * (w / 2), seed: 6)
            let f: ([Double]) -> Double = { zip(Ref.maxPool($0, images: images, h: h, w: w), r).reduce(0) { $0 + $1.0 * $1.1 } }
            let dx = Ref.maxPoolBackward(x, dOut: r, images: images, h: h, w: w)
            let fd = x.indices.map { centralDifference(f, at: x, index: $0) }
            #expect(relativeError(dx, fd) < fdTolerance)
        }
        // ReLU away from its kink.
        let x = randomDoubles(40, seed: 7).map { $0 + ($0 > 0 ? 0.01 : -0.01) }
        let r = randomDoubles(40, seed: 8)
        let f: ([Double]) -> Double = { zip(Ref.relu($0), r).reduce(0) { $0 + $1.0 * $1.1 } }
        let fd = x.indices.map { centralDifference(f, at: x, index: $0) }
        #expect(relativeError(Ref.reluBackward(x, dOut: r), fd) < fdTolerance)
    }

    @Test("dense: dx, dw, db")
    func dense() {
        let (n, inputs, outputs) = (3, 5, 4)
        let x = randomDoubles(n * inputs, seed: 9)
        let weight = randomDoubles(outputs * inputs, seed: 10)
        let bias = randomDoubles(outputs, seed: 11)
        let r = randomDoubles(n * outputs, seed: 12)
        func loss(_ x: [Double], _ weight: [Double], _ bias: [Double]) -> Double {
            zip(Ref.dense(x, n: n, inputs: inputs, weight: weight, bias: bias, outputs: outputs), r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let (dx, dw, db) = Ref.denseBackward(x, dOut: r, n: n, inputs: inputs, weight: weight, outputs: outputs)
        #expect(relativeError(dx, x.indices.map { centralDifference({ loss($0, weight, bias) }, at: x, index: $0) }) < fdTolerance)
        #expect(relativeError(dw, weight.indices.map { centralDifference({ loss(x, $0, bias) }, at: weight, index: $0) }) < fdTolerance)
        #expect(relativeError(db, bias.indices.map { centralDifference({ loss(x, weight, $0) }, at: bias, index: $0) }) < fdTolerance)
    }

    @Test("softmax cross-entropy (mean over the batch)")
    func softmaxCE() {
        let (n, k) = (4, 10)
        let z = randomDoubles(n * k, seed: 13, in: -3...3)
        let labels: [Int32] = [0, 9, 3, 3]
        let (loss, dz) = Ref.softmaxCE(z, labels: labels, n: n, k: k)
        let fd = z.indices.map { centralDifference({ Ref.softmaxCE($0, labels: labels, n: n, k: k).loss }, at: z, index: $0) }
        #expect(relativeError(dz, fd) < fdTolerance)
        // Uniform logits: loss is ln K.
        #expect(abs(Ref.softmaxCE([Double](repeating: 2, count: k), labels: [5], n: 1, k: k).loss - log(10.0)) < 1e-12)
        #expect(loss > 0)
    }
}

@Suite("Fast layers match the reference")
struct FastLayerTests {
    typealias ConvShape = (n: Int, ic: Int, oc: Int, h: Int, w: Int, k: Int)

    static let convShapes: [ConvShape] = [
        (n: 1, ic: 1, oc: 3, h: 9, w: 9, k: 3),
        (n: 7, ic: 2, oc: 3, h: 11, w: 7, k: 3),     // odd sizes: 9×5 -> 4×2 with a row and column left out
        (n: 2, ic: 3, oc: 2, h: 12, w: 13, k: 5),
        (n: 3, ic: 8, oc: 16, h: 12, w: 12, k: 5),   // lenet-8-16 conv2
        (n: 2, ic: 1, oc: 4, h: 28, w: 28, k: 5),    // lenet-4-8 conv1: pooled rows of 12 (SIMD + tail)
        (n: 1, ic: 2, oc: 2, h: 36, w: 37, k: 3),    // pooled rows of 17
    ]

    /// Every shape directly; the 3×3 ones by Winograd too, with shapes of its own: cifar-cnn's conv2
    /// (7×7 tiles, 7 of 8 lanes), an even output (no dropped tile row), 10 and 18 tiles per row
    /// (groups of 8 + 2 and 8 + 8 + 2), and a 4×4 output.
    static let convCases: [(ConvShape, ConvAlgorithm)] =
        convShapes.map { ($0, .direct) } + (convShapes.filter { $0.k == 3 } + [
            (n: 3, ic: 16, oc: 8, h: 15, w: 15, k: 3),
            (n: 2, ic: 5, oc: 3, h: 10, w: 21, k: 3),
            (n: 5, ic: 3, oc: 4, h: 6, w: 6, k: 3),
        ]).map { ($0, .winograd) }

    @Test("conv block forward and backward", arguments: convCases)
    func convBlock(shape: ConvShape, algorithm: ConvAlgorithm) throws {
        let (n, ic, oc, h, w, k) = shape
        let spec = ConvSpec(geometry: ConvGeometry(channels: ic, height: h, width: w, kernelHeight: k, kernelWidth: k),
                            outChannels: oc)
        let offset = 3   // the block's ranges start inside a larger flat vector
        let block = ConvBlock(spec: spec, maxBatch: n + 2, parameterOffset: offset, needsInputGradient: true,
                              algorithm: algorithm)
        #expect(block.algorithm == algorithm)
        let total = offset + spec.weightCount + oc + 2
        let p = randomDoubles(total, seed: 21, in: -0.5...0.5).map { Float($0) }
        let parameters = Buffer(p)
        let gradients = Buffer(count: total)
        gradients.fill(.nan)   // must be overwritten in the block's ranges
        let x = randomDoubles(n * ic * h * w, seed: 22).map { Float($0) }   // (N, IC, H, W)
        let input = Buffer(count: ic * (n + 2) * h * w)
        input.copy(from: toChannelMajor(x, n: n, c: ic, size: h * w))
        block.forward(input: input, batch: n, parameters: parameters)

        let weight = p[block.weightRange].map(Double.init), bias = p[block.biasRange].map(Double.init)
        let xd = x.map(Double.init)
        let (oh, ow) = (h - k + 1, w - k + 1)
        let pre = Ref.conv(xd, n: n, c: ic, h: h, w: w, weight: weight, bias: bias, oc: oc, k: k)
        let act = Ref.relu(pre)
        let pooled = Ref.maxPool(act, images: n * oc, h: oh, w: ow)
        let pooledSize = spec.pooledHeight * spec.pooledWidth
        let fastOut = toSampleMajor(block.output.slice(0..<(oc * n * pooledSize)), n: n, c: oc, size: pooledSize)
        #expect(relativeError(fastOut.map(Double.init), pooled) < float32Tolerance)

        let r = randomDoubles(n * oc * pooledSize, seed: 23)
        let dOut = Buffer(count: oc * (n + 2) * pooledSize)
        dOut.copy(from: toChannelMajor(r.map { Float($0) }, n: n, c: oc, size: pooledSize))
        block.backward(outputGradient: dOut, batch: n, parameters: parameters, gradients: gradients)
        var d = Ref.maxPoolBackward(act, dOut: r.map { Double(Float($0)) }, images: n * oc, h: oh, w: ow)
        d = Ref.reluBackward(pre, dOut: d)
        let (dx, dw, db) = Ref.convBackward(xd, dOut: d, n: n, c: ic, h: h, w: w, weight: weight, oc: oc, k: k)
        #expect(relativeError(gradients.slice(block.weightRange).map(Double.init), dw) < float32Tolerance)
        #expect(relativeError(gradients.slice(block.biasRange).map(Double.init), db) < float32Tolerance)
        let dInput = try #require(block.inputGradient)
        let fastDx = toSampleMajor(dInput.slice(0..<(ic * n * h * w)), n: n, c: ic, size: h * w)
        #expect(relativeError(fastDx.map(Double.init), dx) < float32Tolerance)
        #expect(gradients[0].isNaN && gradients[total - 1].isNaN, "gradients outside the block's ranges were touched")

        // The same slice again with `accumulate` adds the same gradients once more.
        let once = gradients.slice(block.weightRange.lowerBound..<block.biasRange.upperBound)
        block.forward(input: input, batch: n, parameters: parameters)
        block.backward(outputGradient: dOut, batch: n, parameters: parameters, gradients: gradients, accumulate: true)
        let twice = gradients.slice(block.weightRange.lowerBound..<block.biasRange.upperBound)
        #expect(relativeError(twice.map(Double.init), once.map { 2 * Double($0) }) < float32Tolerance)
    }

    @Test("3×3 convs pick Winograd from 8 input channels and 1,000 input channels × output pixels")
    func winogradChoice() {
        func algorithm(channels: Int, side: Int = 15, kernel: Int = 3) -> ConvAlgorithm {
            let g = ConvGeometry(channels: channels, height: side, width: side, kernelHeight: kernel, kernelWidth: kernel)
            return ConvBlock(spec: ConvSpec(geometry: g, outChannels: 4), maxBatch: 1, parameterOffset: 0,
                             needsInputGradient: false).algorithm
        }
        #expect(algorithm(channels: 32) == .winograd)   // cifar-cnn's conv2
        #expect(algorithm(channels: 8) == .winograd)    // 8 × 169
        #expect(algorithm(channels: 7) == .direct)
        #expect(algorithm(channels: 3) == .direct)
        #expect(algorithm(channels: 32, kernel: 5) == .direct)
        #expect(algorithm(channels: 40, side: 7) == .winograd)   // 40 × 25
        #expect(algorithm(channels: 39, side: 7) == .direct)
    }

    @Test("dense layer forward and backward",
          arguments: [(n: 1, i: 7, o: 3, relu: true), (n: 7, i: 17, o: 5, relu: false),
                      (n: 4, i: 256, o: 10, relu: false), (n: 17, i: 33, o: 16, relu: true)])
    func dense(shape: (n: Int, i: Int, o: Int, relu: Bool)) {
        let (n, inputs, outputs, relu) = shape
        let spec = DenseSpec(inputs: inputs, outputs: outputs, relu: relu)
        let layer = DenseLayer(spec: spec, maxBatch: n + 1, parameterOffset: 2)
        let total = 2 + spec.weightCount + outputs
        let p = randomDoubles(total, seed: 31, in: -0.5...0.5).map { Float($0) }
        let parameters = Buffer(p)
        let gradients = Buffer(count: total)
        gradients.fill(.nan)
        let x = randomDoubles(n * inputs, seed: 32).map { Float($0) }
        let input = Buffer(count: (n + 1) * inputs)
        input.copy(from: x)
        layer.forward(input: input, batch: n, parameters: parameters)

        let weight = p[layer.weightRange].map(Double.init), bias = p[layer.biasRange].map(Double.init)
        let xd = x.map(Double.init)
        let pre = Ref.dense(xd, n: n, inputs: inputs, weight: weight, bias: bias, outputs: outputs)
        let out = relu ? Ref.relu(pre) : pre
        #expect(relativeError(layer.output.slice(0..<(n * outputs)).map(Double.init), out) < float32Tolerance)

        let r = randomDoubles(n * outputs, seed: 33).map { Float($0) }
        let dOut = Buffer(count: (n + 1) * outputs)
        dOut.copy(from: r)
        layer.backward(input: input, outputGradient: dOut, batch: n, parameters: parameters, gradients: gradients)
        var d = r.map(Double.init)
        if relu { d = Ref.reluBackward(pre, dOut: d) }
        let (dx, dw, db) = Ref.denseBackward(xd, dOut: d, n: n, inputs: inputs, weight: weight, outputs: outputs)
        #expect(relativeError(gradients.slice(layer.weightRange).map(Double.init), dw) < float32Tolerance)
        #expect(relativeError(gradients.slice(layer.biasRange).map(Double.init), db) < float32Tolerance)
        #expect(relativeError(layer.inputGradient.slice(0..<(n * inputs)).map(Double.init), dx) < float32Tolerance)
        #expect(gradients[0].isNaN && gradients[1].isNaN)
    }
}
