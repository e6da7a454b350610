// Convolution and pooling kernels over channel-major batches.
//
// Activations are stored (C, N, H, W): channel-major over the whole batch, so one convolution layer
// is one GEMM over the batch, Out[OC × N·OH·OW] = W[OC × IC·KH·KW] · Col[IC·KH·KW × N·OH·OW].
// Each fast kernel has a plain `reference…` version beside it that the tests compare with.

/// The shape of a valid (no padding, stride 1) convolution over a channel-major batch.
public struct ConvGeometry: Sendable, Hashable, Codable {
    /// Input channels IC.
    public let channels: Int
    public let height: Int
    public let width: Int
    public let kernelHeight: Int
    public let kernelWidth: Int

    public init(channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int) {
        precondition(channels > 0 && kernelHeight > 0 && kernelWidth > 0
                     && height >= kernelHeight && width >= kernelWidth,
                     "bad conv geometry: \(channels)×\(height)×\(width), kernel \(kernelHeight)×\(kernelWidth)")
        (self.channels, self.height, self.width, self.kernelHeight, self.kernelWidth)
            = (channels, height, width, kernelHeight, kernelWidth)
    }

    public var outHeight: Int { height - kernelHeight + 1 }
    public var outWidth: Int { width - kernelWidth + 1 }
    /// Rows of the column matrix: IC·KH·KW (the fan-in of one output).
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// OH·OW: columns of the column matrix per sample.
    public var outputPixels: Int { outHeight * outWidth }
    /// H·W: elements of one input channel of one sample.
    public var inputPixels: Int { height * width }
}

// MARK: - im2col

/// Unfolds patches: input (IC, N, H, W) -> col [IC·KH·KW × N·OH·OW], row (ic, kh, kw), column (n, oh, ow).
/// `inputOffset` is where the input tensor starts in `input` (a slice of samples of a larger
/// single-channel batch).
public func im2col(_ input: Buffer, inputOffset: Int = 0, _ g: ConvGeometry, batch n: Int, into col: Buffer) {
    let (oh, ow) = (g.outHeight, g.outWidth)
    let columns = n * oh * ow
    precondition(n >= 0 && inputOffset >= 0 && input.count >= inputOffset + g.channels * n * g.inputPixels
                 && col.count >= g.patchSize * columns, "im2col: buffers too small for batch \(n) of \(g)")
    let src = UnsafePointer(input.base + inputOffset), dst = col.base
    for ic in 0..<g.channels {
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let row = (ic * g.kernelHeight + kh) * g.kernelWidth + kw
                var d = dst + row * columns
                for s in 0..<n {
                    // For fixed (ic, kh, kw, s) the patch values form an OH × OW window of the image.
                    var p = src + ((ic * n + s) * g.height + kh) * g.width + kw
                    for _ in 0..<oh {
                        VectorAccess.copy(p, d, ow)
                        p += g.width
                        d += ow
                    }
                }
            }
        }
    }
}

/// Plain version of `im2col`.
public func referenceIm2col(_ input: Buffer, inputOffset: Int = 0, _ g: ConvGeometry, batch n: Int, into col: Buffer) {
    let (oh, ow) = (g.outHeight, g.outWidth)
    let columns = n * oh * ow
    for ic in 0..<g.channels {
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let row = (ic * g.kernelHeight + kh) * g.kernelWidth + kw
                for s in 0..<n {
                    for y in 0..<oh {
                        for x in 0..<ow {
                            col[row * columns + (s * oh + y) * ow + x] =
                                input[inputOffset + ((ic * n + s) * g.height + y + kh) * g.width + x + kw]
                        }
                    }
                }
            }
        }
    }
}

// MARK: - col2im

/// Folds patch gradients back: col [IC·KH·KW × N·OH·OW] -> input (IC, N, H, W), overwritten with
/// the sum of every patch entry that read each input element.
public func col2im(_ col: Buffer, _ g: ConvGeometry, batch n: Int, into input: Buffer) {
    let (oh, ow) = (g.outHeight, g.outWidth)
    let columns = n * oh * ow
    let pixels = g.inputPixels
    precondition(n >= 0 && input.count >= g.channels * n * pixels && col.count >= g.patchSize * columns,
                 "col2im: buffers too small for batch \(n) of \(g)")
    let src = UnsafePointer(col.base), dst = input.base
    for ic in 0..<g.channels {
        // The N images of channel ic (N·H·W floats, in L1 or L2) take the KH·KW column rows one
        // after the other, each read front to back: the reads stream, the adds stay in cache.
        // Every input element still sums its (kh, kw) terms in the reference's order.
        let images = dst + ic * n * pixels
        images.update(repeating: 0, count: n * pixels)
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let row = (ic * g.kernelHeight + kh) * g.kernelWidth + kw
                var c = src + row * columns
                for s in 0..<n {
                    var d = images + s * pixels + kh * g.width + kw
                    for _ in 0..<oh {
                        VectorAccess.add(c, d, ow)
                        c += ow
                        d += g.width
                    }
                }
            }
        }
    }
}

/// Plain version of `col2im`.
public func referenceCol2im(_ col: Buffer, _ g: ConvGeometry, batch n: Int, into input: Buffer) {
    let (oh, ow) = (g.outHeight, g.outWidth)
    let columns = n * oh * ow
    for i in 0..<(g.channels * n * g.inputPixels) { input[i] = 0 }
    for ic in 0..<g.channels {
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let row = (ic * g.kernelHeight + kh) * g.kernelWidth + kw
                for s in 0..<n {
                    for y in 0..<oh {
                        for x in 0..<ow {
                            input[((ic * n + s) * g.height + y + kh) * g.width + x + kw] +=
                                col[row * columns + (s * oh + y) * ow + x]
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Max-pool 2×2 with bias and ReLU

/// Code stored for a pooled output that ReLU set to zero (no gradient flows back).
public let poolCodeInactive: Float = -1

/// out (C, N, H/2, W/2) = ReLU(max over each 2×2 window of pre (C, N, H, W) + bias[c]), floor for odd
/// sizes. Because bias is constant per channel and ReLU is monotone, this equals
/// maxpool(ReLU(pre + bias)). `codes` (same shape as out) records the winner of each window as
/// 2·row + column (first maximum in row-major order), or `poolCodeInactive` where the output is 0;
/// the backward pass needs nothing else. NaN propagates to the output.
public func maxPoolBiasReLU(_ pre: Buffer, channels c: Int, batch n: Int, height h: Int, width w: Int,
                            bias: Buffer, biasOffset: Int, into out: Buffer, codes: Buffer) {
    let (ph, pw) = (h / 2, w / 2)
    precondition(pre.count >= c * n * h * w && out.count >= c * n * ph * pw && codes.count >= c * n * ph * pw
                 && biasOffset >= 0 && biasOffset + c <= bias.count,
                 "maxPoolBiasReLU: buffers too small for \(c)×\(n)×\(h)×\(w)")
    let src = UnsafePointer(pre.base), dst = out.base, code = codes.base
    for ch in 0..<c {
        let b = bias.base[biasOffset + ch]
        let b8 = SIMD8<Float>(repeating: b), b4 = SIMD4<Float>(repeating: b)
        for s in 0..<n {
            let image = src + (ch * n + s) * h * w
            var o = dst + (ch * n + s) * ph * pw
            var k = code + (ch * n + s) * ph * pw
            for i in 0..<ph {
                let r0 = image + 2 * i * w, r1 = r0 + w
                var j = 0
                while j + 8 <= pw {   // 8 windows from two rows of 16
                    let top = VectorAccess.load16(r0 + 2 * j), bottom = VectorAccess.load16(r1 + 2 * j)
                    let (v, win) = poolWindows(evens(top), odds(top), evens(bottom), odds(bottom), bias: b8)
                    VectorAccess.store(v, o + j)
                    VectorAccess.store(win, k + j)
                    j += 8
                }
                if j + 4 <= pw {
                    let top = VectorAccess.load8(r0 + 2 * j), bottom = VectorAccess.load8(r1 + 2 * j)
                    let (v, win) = poolWindows(evens(top), odds(top), evens(bottom), odds(bottom), bias: b4)
                    VectorAccess.store(v, o + j)
                    VectorAccess.store(win, k + j)
                    j += 4
                }
                while j < pw {
                    let (m, win) = poolWindow(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1])
                    let v = m + b
                    if v <= 0 { o[j] = 0; k[j] = poolCodeInactive } else { o[j] = v; k[j] = win }
                    j += 1
                }
                o += pw
                k += pw
            }
        }
    }
}

// Lane shuffles written element by element: LLVM turns these into single permutes, while the
// standard library's generic `evenHalf`/`oddHalf` setters compiled to slow per-lane code here.
// (Generic SIMD helpers were also not specialised well, hence one copy per width.)
@inline(__always) @usableFromInline
func evens(_ v: SIMD16<Float>) -> SIMD8<Float> { SIMD8(v[0], v[2], v[4], v[6], v[8], v[10], v[12], v[14]) }
@inline(__always) @usableFromInline
func odds(_ v: SIMD16<Float>) -> SIMD8<Float> { SIMD8(v[1], v[3], v[5], v[7], v[9], v[11], v[13], v[15]) }
@inline(__always) @usableFromInline
func evens(_ v: SIMD8<Float>) -> SIMD4<Float> { SIMD4(v[0], v[2], v[4], v[6]) }
@inline(__always) @usableFromInline
func odds(_ v: SIMD8<Float>) -> SIMD4<Float> { SIMD4(v[1], v[3], v[5], v[7]) }
/// Each lane twice: (v0, v0, v1, v1, ...).
@inline(__always) @usableFromInline
func doubled(_ v: SIMD8<Float>) -> SIMD16<Float> {
    SIMD16(v[0], v[0], v[1], v[1], v[2], v[2], v[3], v[3], v[4], v[4], v[5], v[5], v[6], v[6], v[7], v[7])
}
@inline(__always) @usableFromInline
func doubled(_ v: SIMD4<Float>) -> SIMD8<Float> { SIMD8(v[0], v[0], v[1], v[1], v[2], v[2], v[3], v[3]) }

/// Lane-wise `poolWindow` + bias + ReLU over 8 windows: (output, code).
@inline(__always) @usableFromInline
func poolWindows(_ x00: SIMD8<Float>, _ x01: SIMD8<Float>, _ x10: SIMD8<Float>, _ x11: SIMD8<Float>,
                 bias: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
    var m = x00
    var win = SIMD8<Float>(repeating: 0)
    var gt = x01 .> m
    m.replace(with: x01, where: gt); win.replace(with: 1, where: gt)
    gt = x10 .> m
    m.replace(with: x10, where: gt); win.replace(with: 2, where: gt)
    gt = x11 .> m
    m.replace(with: x11, where: gt); win.replace(with: 3, where: gt)
    let v = m + bias
    let off = v .<= 0   // false for NaN, so NaN is kept
    return (v.replacing(with: 0, where: off), win.replacing(with: poolCodeInactive, where: off))
}

/// `poolWindows` over 4 windows. Spelled out rather than generic over `SIMD`: a generic version
/// (`V: SIMD, V.Scalar == Float`) measured lenet-8-16 training at 16,000 instead of 35,000 images/s.
@inline(__always) @usableFromInline
func poolWindows(_ x00: SIMD4<Float>, _ x01: SIMD4<Float>, _ x10: SIMD4<Float>, _ x11: SIMD4<Float>,
                 bias: SIMD4<Float>) -> (SIMD4<Float>, SIMD4<Float>) {
    var m = x00
    var win = SIMD4<Float>(repeating: 0)
    var gt = x01 .> m
    m.replace(with: x01, where: gt); win.replace(with: 1, where: gt)
    gt = x10 .> m
    m.replace(with: x10, where: gt); win.replace(with: 2, where: gt)
    gt = x11 .> m
    m.replace(with: x11, where: gt); win.replace(with: 3, where: gt)
    let v = m + bias
    let off = v .<= 0
    return (v.replacing(with: 0, where: off), win.replacing(with: poolCodeInactive, where: off))
}

/// Max of a 2×2 window (x00, x01, x10, x11) and its code 2·row + column; the first maximum wins.
@inline(__always) @usableFromInline
func poolWindow(_ x00: Float, _ x01: Float, _ x10: Float, _ x11: Float) -> (Float, Float) {
    var m = x00, win: Float = 0
    if x01 > m { m = x01; win = 1 }
    if x10 > m { m = x10; win = 2 }
    if x11 > m { m = x11; win = 3 }
    return (m, win)
}

/// Plain version of `maxPoolBiasReLU`.
public func referenceMaxPoolBiasReLU(_ pre: Buffer, channels c: Int, batch n: Int, height h: Int, width w: Int,
                                     bias: Buffer, biasOffset: Int, into out: Buffer, codes: Buffer) {
    let (ph, pw) = (h / 2, w / 2)
    for ch in 0..<c {
        for s in 0..<n {
            for i in 0..<ph {
                for j in 0..<pw {
                    let base = ((ch * n + s) * h + 2 * i) * w + 2 * j
                    let (m, win) = poolWindow(pre[base], pre[base + 1], pre[base + w], pre[base + w + 1])
                    let v = m + bias[biasOffset + ch]
                    let index = ((ch * n + s) * ph + i) * pw + j
                    if v > 0 || v.isNaN { out[index] = v; codes[index] = win } else {
                        out[index] = 0; codes[index] = poolCodeInactive
                    }
                }
            }
        }
    }
}

/// Backward of `maxPoolBiasReLU`: dPre (C, N, H, W) gets each pooled gradient dOut (C, N, H/2, W/2)
/// at its window's winner where ReLU was active, and 0 everywhere else (overwritten, including the
/// last row or column that odd sizes leave out of every window).
public func maxPoolBiasReLUBackward(_ dOut: Buffer, codes: Buffer, channels c: Int, batch n: Int,
                                    height h: Int, width w: Int, into dPre: Buffer) {
    let (ph, pw) = (h / 2, w / 2)
    precondition(dPre.count >= c * n * h * w && dOut.count >= c * n * ph * pw && codes.count >= c * n * ph * pw,
                 "maxPoolBiasReLUBackward: buffers too small for \(c)×\(n)×\(h)×\(w)")
    let src = UnsafePointer(dOut.base), code = UnsafePointer(codes.base), dst = dPre.base
    // Lane 2j / 2j+1 of an input row belongs to window j, column 0 / 1: compare each window's
    // code, doubled across its two lanes, with the code that lane would have.
    let top16 = SIMD16<Float>(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1), bottom16 = top16 + 2
    let top8 = SIMD8<Float>(0, 1, 0, 1, 0, 1, 0, 1), bottom8 = top8 + 2
    let zero16 = SIMD16<Float>(repeating: 0), zero8 = SIMD8<Float>(repeating: 0)
    for image in 0..<(c * n) {
        let d = dst + image * h * w
        var g = src + image * ph * pw
        var k = code + image * ph * pw
        for i in 0..<ph {
            let r0 = d + 2 * i * w, r1 = r0 + w
            var j = 0
            while j + 8 <= pw {
                let gv = doubled(VectorAccess.load8(g + j)), kv = doubled(VectorAccess.load8(k + j))
                VectorAccess.store(zero16.replacing(with: gv, where: kv .== top16), r0 + 2 * j)
                VectorAccess.store(zero16.replacing(with: gv, where: kv .== bottom16), r1 + 2 * j)
                j += 8
            }
            if j + 4 <= pw {
                let gv = doubled(VectorAccess.load4(g + j)), kv = doubled(VectorAccess.load4(k + j))
                VectorAccess.store(zero8.replacing(with: gv, where: kv .== top8), r0 + 2 * j)
                VectorAccess.store(zero8.replacing(with: gv, where: kv .== bottom8), r1 + 2 * j)
                j += 4
            }
            while j < pw {
                let gj = g[j], kj = k[j]
                r0[2 * j] = kj == 0 ? gj : 0
                r0[2 * j + 1] = kj == 1 ? gj : 0
                r1[2 * j] = kj == 2 ? gj : 0
                r1[2 * j + 1] = kj == 3 ? gj : 0
                j += 1
            }
            if w & 1 == 1 { r0[w - 1] = 0; r1[w - 1] = 0 }
            g += pw
            k += pw
        }
        if h & 1 == 1 { (d + (h - 1) * w).update(repeating: 0, count: w) }
    }
}

/// Plain version of `maxPoolBiasReLUBackward`.
public func referenceMaxPoolBiasReLUBackward(_ dOut: Buffer, codes: Buffer, channels c: Int, batch n: Int,
                                             height h: Int, width w: Int, into dPre: Buffer) {
    let (ph, pw) = (h / 2, w / 2)
    for i in 0..<(c * n * h * w) { dPre[i] = 0 }
    for image in 0..<(c * n) {
        for i in 0..<ph {
            for j in 0..<pw {
                let index = (image * ph + i) * pw + j
                let win = codes[index]
                if win == poolCodeInactive { continue }
                let r = Int(win) / 2, q = Int(win) % 2
                dPre[(image * h + 2 * i + r) * w + 2 * j + q] = dOut[index]
            }
        }
    }
}

// MARK: - Flatten between channel-major and sample-major

/// Flattens src (C, N, S) into dst [N × C·S], the PyTorch feature order (c, s) per sample.
public func channelMajorToSampleMajor(_ src: Buffer, channels c: Int, batch n: Int, size s: Int, into dst: Buffer) {
    precondition(src.count >= c * n * s && dst.count >= c * n * s, "flatten: buffers too small")
    let from = UnsafePointer(src.base), to = dst.base
    for ch in 0..<c {
        for i in 0..<n {
            VectorAccess.copy(from + (ch * n + i) * s, to + (i * c + ch) * s, s)
        }
    }
}

/// Inverse of `channelMajorToSampleMajor`: src [N × C·S] -> dst (C, N, S); src starts at `sourceOffset`.
public func sampleMajorToChannelMajor(_ src: Buffer, sourceOffset: Int = 0, channels c: Int, batch n: Int, size s: Int,
                                      into dst: Buffer) {
    precondition(sourceOffset >= 0 && src.count >= sourceOffset + c * n * s && dst.count >= c * n * s,
                 "unflatten: buffers too small")
    let from = UnsafePointer(src.base + sourceOffset), to = dst.base
    for ch in 0..<c {
        for i in 0..<n {
            VectorAccess.copy(from + (i * c + ch) * s, to + (ch * n + i) * s, s)
        }
    }
}

/// Plain version of `channelMajorToSampleMajor`.
public func referenceChannelMajorToSampleMajor(_ src: Buffer, channels c: Int, batch n: Int, size s: Int,
                                               into dst: Buffer) {
    for ch in 0..<c { for i in 0..<n { for k in 0..<s { dst[(i * c + ch) * s + k] = src[(ch * n + i) * s + k] } } }
}

/// Plain version of `sampleMajorToChannelMajor`.
public func referenceSampleMajorToChannelMajor(_ src: Buffer, channels c: Int, batch n: Int, size s: Int,
                                               into dst: Buffer) {
    for ch in 0..<c { for i in 0..<n { for k in 0..<s { dst[(ch * n + i) * s + k] = src[(i * c + ch) * s + k] } } }
}
