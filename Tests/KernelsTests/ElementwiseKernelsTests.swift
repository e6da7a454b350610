import Cell
// Bias, ReLU, reductions, softmax cross-entropy, SGD and batch gathering against their references.
import Foundation
import Kernels
import Testing

@Suite("Elementwise kernels")
struct ElementwiseKernelsTests {
    static let shapes: [(Int, Int)] = [(1, 1), (1, 7), (7, 17), (17, 1), (3, 128), (17, 33)]

    @Test("bias add with and without ReLU", arguments: shapes)
    func bias(shape: (Int, Int)) {
        let (rows, columns) = shape
        for relu in [false, true] {
            let x = randomTestBuffer(rows * columns, seed: 1), y = Buffer(x.array)
            let b = randomTestBuffer(columns + 1, seed: 2)
            addBias(x, rows: rows, columns: columns, bias: b, biasOffset: 1, relu: relu)
            referenceAddBias(y, rows: rows, columns: columns, bias: b, biasOffset: 1, relu: relu)
            #expect(x.array == y.array)
        }
    }

    @Test("ReLU backward", arguments: [1, 7, 17, 100])
    func reluBack(count: Int) {
        let a = randomTestBuffer(count, seed: 3), g = randomTestBuffer(count, seed: 4), h = Buffer(g.array)
        a[0] = 0   // the kink counts as inactive
        reluBackward(activation: a, gradient: g, count: count)
        referenceReluBackward(activation: a, gradient: h, count: count)
        #expect(g.array == h.array)
        #expect(g[0] == 0)
    }

    @Test("row and column sums", arguments: shapes + [(8, 4608), (16, 1)])
    func sums(shape: (Int, Int)) {
        let (rows, columns) = shape
        let x = randomTestBuffer(rows * columns, seed: 5)
        let a = Buffer(count: rows + 2), b = Buffer(count: rows + 2)
        a.fill(.nan)
        rowSums(x, rows: rows, columns: columns, into: a, offset: 2)
        referenceRowSums(x, rows: rows, columns: columns, into: b, offset: 2)
        #expect(testRelativeError(a.slice(2..<(rows + 2)), b.slice(2..<(rows + 2))) < 1e-5)
        let c = Buffer(count: columns), d = Buffer(count: columns)
        c.fill(.nan)
        columnSums(x, rows: rows, columns: columns, into: c, offset: 0)
        referenceColumnSums(x, rows: rows, columns: columns, into: d, offset: 0)
        #expect(testRelativeError(c.array, d.array) < 1e-5)
        // accumulate adds to what is there.
        rowSums(x, rows: rows, columns: columns, into: a, offset: 2, accumulate: true)
        referenceRowSums(x, rows: rows, columns: columns, into: b, offset: 2, accumulate: true)
        #expect(testRelativeError(a.slice(2..<(rows + 2)), b.slice(2..<(rows + 2))) < 1e-5)
        columnSums(x, rows: rows, columns: columns, into: c, offset: 0, accumulate: true)
        referenceColumnSums(x, rows: rows, columns: columns, into: d, offset: 0, accumulate: true)
        #expect(testRelativeError(c.array, d.array) < 1e-5)
        let once = Buffer(count: columns)
        columnSums(x, rows: rows, columns: columns, into: once, offset: 0)
        #expect(testRelativeError(c.array, once.array.map { 2 * $0 }) < 1e-5)
    }

    @Test("softmax cross-entropy: loss, correct count and gradient", arguments: [(1, 10), (7, 10), (17, 3), (5, 1)])
    func softmax(shape: (Int, Int)) {
        let (n, k) = shape
        var rng = SplitMix64(seed: 7)
        let labels = (0..<n).map { _ in Int32(rng.next() % UInt64(k)) }
        for scale: Float in [1, 1000] {   // 1000: exp would overflow without the max shift
            let logits = randomTestBuffer(n * k, seed: 8)
            for i in 0..<(n * k) { logits[i] *= scale }
            let g = Buffer(count: n * k), gRef = Buffer(count: n * k)
            let fast = softmaxCrossEntropy(logits: logits, labels: labels, batch: n, classes: k, gradient: g)
            let ref = referenceSoftmaxCrossEntropy(logits: logits, labels: labels, batch: n, classes: k, gradient: gRef)
            #expect(abs(fast.loss - ref.loss) <= 1e-5 * max(ref.loss, 1e-3))
            #expect(fast.correct == ref.correct)
            #expect(testRelativeError(g.array, gRef.array) < 1e-5)
            #expect(g.array.allSatisfy { $0.isFinite })
            let noGradient = softmaxCrossEntropy(logits: logits, labels: labels, batch: n, classes: k, gradient: nil)
            #expect(noGradient.loss == fast.loss && noGradient.correct == fast.correct)
            // The gradient of each row sums to 0: probabilities sum to 1.
            for i in 0..<n {
                let rowSum = (0..<k).reduce(Float(0)) { $0 + g[i * k + $1] }
                #expect(abs(rowSum) < 1e-6)
            }
        }
        // A slice of a larger batch: labels from an offset, gradient scaled by 1 / whole batch.
        let logits = randomTestBuffer(n * k, seed: 9)
        let padded = [Int32](repeating: 0, count: 3) + labels
        let g = Buffer(count: n * k), gRef = Buffer(count: n * k)
        let fast = softmaxCrossEntropy(logits: logits, labels: padded, labelOffset: 3, batch: n, classes: k,
                                       gradient: g, gradientScale: 0.125)
        let ref = referenceSoftmaxCrossEntropy(logits: logits, labels: labels, batch: n, classes: k, gradient: gRef)
        #expect(abs(fast.loss - ref.loss) <= 1e-5 * max(ref.loss, 1e-3) && fast.correct == ref.correct)
        #expect(testRelativeError(g.array, gRef.array.map { $0 * Float(n) * 0.125 }) < 1e-5)
        // Ten equal logits: loss ln 10; label 0 is the first maximum, so it counts as correct.
        let flat = Buffer(count: 10)
        let uniform = softmaxCrossEntropy(logits: flat, labels: [0], batch: 1, classes: 10, gradient: nil)
        #expect(abs(uniform.loss - log(10)) < 1e-6 && uniform.correct == 1)
    }

    @Test("SGD step, plain and momentum", arguments: [1, 7, 17, 5994])
    func sgd(count: Int) {
        for momentum: Float in [0, 0.9] {
            let theta = randomTestBuffer(count, seed: 9), thetaRef = Buffer(theta.array)
            let v = randomTestBuffer(count, seed: 10), vRef = Buffer(v.array)
            let u = Buffer(count: count), uRef = Buffer(count: count)
            for step in 0..<2 {
                let g = randomTestBuffer(count, seed: 11 + UInt64(step))
                let before = theta.array
                sgdStep(parameters: theta, gradients: g, velocity: v, update: u, count: count,
                        learningRate: 0.05, momentum: momentum)
                referenceSGDStep(parameters: thetaRef, gradients: g, velocity: vRef, update: uRef, count: count,
                                 learningRate: 0.05, momentum: momentum)
                #expect(theta.array == thetaRef.array && u.array == uRef.array && v.array == vRef.array)
                #expect((0..<count).allSatisfy { theta[$0] == before[$0] + u[$0] })
            }
        }
    }

    @Test("gather and copy pixel rows through the lookup table", arguments: [1, 7, 17])
    func gatherPixels(rowLength: Int) {
        let pixels = (0..<(5 * rowLength)).map { UInt8(($0 * 37 + 11) % 256) }
        let lookup = (0..<256).map { Float($0) * 0.5 - 3 }
        let dst = Buffer(count: 3 * rowLength + 2)
        dst.fill(.nan)
        gatherPixelRows(pixels, lookup: lookup, rowLength: rowLength, rows: [4, 0, 4], into: dst, offset: 1)
        #expect(dst.slice(1..<(1 + 3 * rowLength))
                == referenceGatherPixelRows(pixels, lookup: lookup, rowLength: rowLength, rows: [4, 0, 4]))
        #expect(dst[0].isNaN && dst[3 * rowLength + 1].isNaN, "nothing outside the rows is written")
        copyPixelRows(pixels, lookup: lookup, rowLength: rowLength, range: 1..<4, into: dst)
        #expect(dst.slice(0..<(3 * rowLength))
                == referenceGatherPixelRows(pixels, lookup: lookup, rowLength: rowLength, rows: [1, 2, 3]))
    }
}
