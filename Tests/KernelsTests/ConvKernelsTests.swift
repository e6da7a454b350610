// im2col, col2im, fused pool and flatten kernels against their plain references.
import Cell
import Kernels
import Testing


/// A buffer of `count` random values in [-1, 1) (or small integers, which make ties, if `integers`).
func randomTestBuffer(_ count: Int, seed: UInt64, integers: Bool = false) -> Buffer {
    var rng = SplitMix64(seed: seed)
    let b = Buffer(count: count)
    for i in 0..<count { b[i] = integers ? Float(Int(rng.next() % 5) - 2) : rng.float() }
    return b
}

/// Largest |a − b| over the largest |b|.
func testRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(b.map { abs($0) }.max() ?? 0, 1e-30)
    return (zip(a, b).map { abs($0 - $1) }.max() ?? 0) / scale
}

@Suite("Conv kernels")
struct ConvKernelsTests {
    // (IC, N, H, W, KH, KW)
    static let geometries: [(Int, Int, Int, Int, Int, Int)] = [
        (1, 1, 1, 1, 1, 1), (1, 1, 5, 5, 5, 5), (1, 7, 28, 28, 5, 5), (3, 2, 7, 9, 3, 2),
        (2, 1, 17, 17, 1, 1), (8, 3, 12, 12, 5, 5), (1, 17, 7, 7, 3, 3), (2, 2, 20, 40, 3, 3),
    ]

    @Test("im2col and col2im match their references; col2im is im2col's adjoint", arguments: geometries)
    func im2colCol2im(shape: (Int, Int, Int, Int, Int, Int)) {
        let (ic, n, h, w, kh, kw) = shape
        let g = ConvGeometry(channels: ic, height: h, width: w, kernelHeight: kh, kernelWidth: kw)
        let input = randomTestBuffer(ic * n * h * w + 3, seed: 1)
        let colCount = g.patchSize * n * g.outputPixels
        let fast = Buffer(count: colCount + 5), ref = Buffer(count: colCount + 5)
        fast.fill(.nan); ref.fill(.nan)
        im2col(input, g, batch: n, into: fast)
        referenceIm2col(input, g, batch: n, into: ref)
        #expect(fast.slice(0..<colCount) == ref.slice(0..<colCount))
        #expect(fast[colCount].isNaN, "im2col wrote past its matrix")
        // The same patches read from an offset inside a larger buffer.
        let shifted = Buffer(count: ic * n * h * w + 3)
        shifted.copy(from: input, sourceOffset: 0, to: 3, count: ic * n * h * w)
        let fromOffset = Buffer(count: colCount)
        im2col(shifted, inputOffset: 3, g, batch: n, into: fromOffset)
        #expect(fromOffset.array == ref.slice(0..<colCount))
        referenceIm2col(shifted, inputOffset: 3, g, batch: n, into: fromOffset)
        #expect(fromOffset.array == ref.slice(0..<colCount))

        let col = randomTestBuffer(colCount, seed: 2)
        let back = Buffer(count: ic * n * h * w), backRef = Buffer(count: ic * n * h * w)
        back.fill(.nan)   // must be overwritten, not accumulated into
        col2im(col, g, batch: n, into: back)
        referenceCol2im(col, g, batch: n, into: backRef)
        #expect(testRelativeError(back.array, backRef.array) < 1e-6)

        // <im2col(x), c> = <x, col2im(c)>
        var lhs = 0.0, rhs = 0.0
        for i in 0..<colCount { lhs += Double(fast[i]) * Double(col[i]) }
        for i in 0..<(ic * n * h * w) { rhs += Double(input[i]) * Double(back[i]) }
        #expect(abs(lhs - rhs) <= 1e-5 * max(abs(lhs), 1))
    }

    // (C, N, H, W)
    static let poolShapes: [(Int, Int, Int, Int)] = [
        (1, 1, 2, 2), (3, 7, 17, 17), (2, 1, 24, 24), (8, 3, 11, 11), (1, 2, 7, 33), (2, 17, 3, 2), (1, 1, 5, 1 + 2 * 17),
    ]

    @Test("max-pool with bias and ReLU, forward and backward, match their references", arguments: poolShapes)
    func pool(shape: (Int, Int, Int, Int)) {
        let (c, n, h, w) = shape
        let (ph, pw) = (h / 2, w / 2)
        let outCount = c * n * ph * pw
        for integers in [false, true] {   // integers: many ties, which must break the same way
            let pre = randomTestBuffer(c * n * h * w, seed: 3, integers: integers)
            let bias = randomTestBuffer(c + 2, seed: 4)
            let out = Buffer(count: outCount), codes = Buffer(count: outCount)
            let outRef = Buffer(count: outCount), codesRef = Buffer(count: outCount)
            maxPoolBiasReLU(pre, channels: c, batch: n, height: h, width: w, bias: bias, biasOffset: 2,
                            into: out, codes: codes)
            referenceMaxPoolBiasReLU(pre, channels: c, batch: n, height: h, width: w, bias: bias, biasOffset: 2,
                                     into: outRef, codes: codesRef)
            #expect(out.array == outRef.array)
            #expect(codes.array == codesRef.array)
            #expect(out.array.allSatisfy { $0 >= 0 })
            // An output is 0 exactly where ReLU cut it off, and then no window element gets a gradient.
            #expect(zip(out.array, codes.array).allSatisfy { ($0 == 0) == ($1 == poolCodeInactive) })

            let dOut = randomTestBuffer(outCount, seed: 5)
            let dPre = Buffer(count: c * n * h * w), dPreRef = Buffer(count: c * n * h * w)
            dPre.fill(.nan)   // every element, including those outside all windows, is overwritten
            maxPoolBiasReLUBackward(dOut, codes: codes, channels: c, batch: n, height: h, width: w, into: dPre)
            referenceMaxPoolBiasReLUBackward(dOut, codes: codesRef, channels: c, batch: n, height: h, width: w,
                                             into: dPreRef)
            #expect(dPre.array == dPreRef.array)
        }
    }

    @Test("pooling keeps NaN visible")
    func poolNaN() {
        let pre = Buffer([1, 2, 3, 4, .nan, .nan, .nan, .nan])   // (1, 2, 2, 2)
        let bias = Buffer([-100])
        let out = Buffer(count: 2), codes = Buffer(count: 2)
        maxPoolBiasReLU(pre, channels: 1, batch: 2, height: 2, width: 2, bias: bias, biasOffset: 0, into: out, codes: codes)
        #expect(out[0] == 0 && codes[0] == poolCodeInactive)
        #expect(out[1].isNaN)
    }

    @Test("flatten between channel-major and sample-major", arguments: [(1, 1, 1), (16, 7, 16), (3, 17, 25), (2, 5, 7)])
    func flatten(shape: (Int, Int, Int)) {
        let (c, n, s) = shape
        let src = randomTestBuffer(c * n * s, seed: 6)
        let a = Buffer(count: c * n * s), b = Buffer(count: c * n * s)
        channelMajorToSampleMajor(src, channels: c, batch: n, size: s, into: a)
        referenceChannelMajorToSampleMajor(src, channels: c, batch: n, size: s, into: b)
        #expect(a.array == b.array)
        let back = Buffer(count: c * n * s), backRef = Buffer(count: c * n * s)
        sampleMajorToChannelMajor(a, channels: c, batch: n, size: s, into: back)
        referenceSampleMajorToChannelMajor(a, channels: c, batch: n, size: s, into: backRef)
        #expect(back.array == src.array && backRef.array == src.array)
        // Sample i's features are (channel 0 pixels, channel 1 pixels, ...), PyTorch's flatten order.
        if c > 1 && n > 1 { #expect(a[1 * c * s + s] == src[(1 * n + 1) * s]) }
    }
}
