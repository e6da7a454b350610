// A plain Double reference of every layer and of the whole model, in PyTorch's (N, C, H, W)
// layout. It shares no code or layout with the fast path (channel-major, im2col + GEMM, fused
// pool), so agreement between the two checks both. Its own gradients are checked against
// central finite differences.
import Cell
import Trainer

enum Ref {
    /// x (N, C, H, W), w (OC, C, KH, KW), b (OC) -> (N, OC, OH, OW), valid, stride 1.
    static func conv(_ x: [Double], n: Int, c: Int, h: Int, w: Int,
                     weight: [Double], bias: [Double], oc: Int, k: Int) -> [Double] {
        let (oh, ow) = (h - k + 1, w - k + 1)
        var out = [Double](repeating: 0, count: n * oc * oh * ow)
        for s in 0..<n {
            for o in 0..<oc {
                for y in 0..<oh {
                    for xx in 0..<ow {
                        var sum = bias[o]
                        for ic in 0..<c {
                            for i in 0..<k {
                                for j in 0..<k {
                                    sum += weight[((o * c + ic) * k + i) * k + j]
                                        * x[((s * c + ic) * h + y + i) * w + xx + j]
                                }
                            }
                        }
                        out[((s * oc + o) * oh + y) * ow + xx] = sum
                    }
                }
            }
        }
        return out
    }

    /// Gradients of `conv` given dOut (N, OC, OH, OW): (dx, dw, db).
    static func convBackward(_ x: [Double], dOut: [Double], n: Int, c: Int, h: Int, w: Int,
                             weight: [Double], oc: Int, k: Int) -> (dx: [Double], dw: [Double], db: [Double]) {
        let (oh, ow) = (h - k + 1, w - k + 1)
        var dx = [Double](repeating: 0, count: x.count)
        var dw = [Double](repeating: 0, count: weight.count)
        var db = [Double](repeating: 0, count: oc)
        for s in 0..<n {
            for o in 0..<oc {
                for y in 0..<oh {
                    for xx in 0..<ow {
                        let g = dOut[((s * oc + o) * oh + y) * ow + xx]
                        db[o] += g
                        for ic in 0..<c {
                            for i in 0..<k {
                                for j in 0..<k {
                                    let wi = ((o * c + ic) * k + i) * k + j
                                    let xi = ((s * c + ic) * h + y + i) * w + xx + j
                                    dw[wi] += g * x[xi]
                                    dx[xi] += g * weight[wi]
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    static func relu(_ x: [Double]) -> [Double] { x.map { max($0, 0) } }

    /// dOut masked where the ReLU input was ≤ 0.
    static func reluBackward(_ x: [Double], dOut: [Double]) -> [Double] {
        zip(x, dOut).map { $0 > 0 ? $1 : 0 }
    }

    /// Index (into x) of the first maximum of each 2×2 window; x (N, C, H, W) -> (N, C, H/2, W/2).
    static func poolWinners(_ x: [Double], images: Int, h: Int, w: Int) -> [Int] {
        let (ph, pw) = (h / 2, w / 2)
        var winners: [Int] = []
        for m in 0..<images {
            for i in 0..<ph {
                for j in 0..<pw {
                    var best = (m * h + 2 * i) * w + 2 * j
                    for (r, q) in [(0, 1), (1, 0), (1, 1)] {
                        let index = (m * h + 2 * i + r) * w + 2 * j + q
                        if x[index] > x[best] { best = index }
                    }
                    winners.append(best)
                }
            }
        }
        return winners
    }

    static func maxPool(_ x: [Double], images: Int, h: Int, w: Int) -> [Double] {
        poolWinners(x, images: images, h: h, w: w).map { x[$0] }
    }

    static func maxPoolBackward(_ x: [Double], dOut: [Double], images: Int, h: Int, w: Int) -> [Double] {
        var dx = [Double](repeating: 0, count: x.count)
        for (o, index) in poolWinners(x, images: images, h: h, w: w).enumerated() { dx[index] += dOut[o] }
        return dx
    }

    /// x [N × I], w [O × I], b [O] -> [N × O].
    static func dense(_ x: [Double], n: Int, inputs: Int, weight: [Double], bias: [Double], outputs: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * outputs)
        for s in 0..<n {
            for o in 0..<outputs {
                var sum = bias[o]
                for i in 0..<inputs { sum += weight[o * inputs + i] * x[s * inputs + i] }
                out[s * outputs + o] = sum
            }
        }
        return out
    }

    static func denseBackward(_ x: [Double], dOut: [Double], n: Int, inputs: Int, weight: [Double],
                              outputs: Int) -> (dx: [Double], dw: [Double], db: [Double]) {
        var dx = [Double](repeating: 0, count: x.count)
        var dw = [Double](repeating: 0, count: weight.count)
        var db = [Double](repeating: 0, count: outputs)
        for s in 0..<n {
            for o in 0..<outputs {
                let g = dOut[s * outputs + o]
                db[o] += g
                for i in 0..<inputs {
                    dw[o * inputs + i] += g * x[s * inputs + i]
                    dx[s * inputs + i] += g * weight[o * inputs + i]
                }
            }
        }
        return (dx, dw, db)
    }

    /// Mean cross-entropy of logits [N × K] and its gradient.
    static func softmaxCE(_ z: [Double], labels: [Int32], n: Int, k: Int) -> (loss: Double, dz: [Double]) {
        var loss = 0.0
        var dz = [Double](repeating: 0, count: z.count)
        for s in 0..<n {
            let row = Array(z[(s * k)..<((s + 1) * k)])
            let m = row.max() ?? 0
            let sum = row.reduce(0) { $0 + exp($1 - m) }
            let label = Int(labels[s])
            loss += log(sum) + m - row[label]
            for j in 0..<k { dz[s * k + j] = (exp(row[j] - m) / sum - (j == label ? 1 : 0)) / Double(n) }
        }
        return (loss / Double(n), dz)
    }
}

/// The whole model in Double, NCHW, built from `Ref`'s layers with the flat parameter order of `Network`.
struct ReferenceModel {
    let architecture: Architecture

    /// Mean loss and its gradient with respect to the flat parameters, for images [N × H × W].
    func lossAndGradient(parameters p: [Double], images: [Double], labels: [Int32], n: Int)
        -> (loss: Double, gradient: [Double]) {
        run(parameters: p, images: images, labels: labels, n: n, backward: true)
    }

    func loss(parameters p: [Double], images: [Double], labels: [Int32], n: Int) -> Double {
        run(parameters: p, images: images, labels: labels, n: n, backward: false).loss
    }

    private func run(parameters p: [Double], images: [Double], labels: [Int32], n: Int, backward: Bool)
        -> (loss: Double, gradient: [Double]) {
        var offset = 0
        func take(_ count: Int) -> (Range<Int>, [Double]) {
            let r = offset..<(offset + count)
            offset += count
            return (r, Array(p[r]))
        }
        // Forward, keeping what backward needs.
        struct ConvTape { let x: [Double]; let pre: [Double]; let act: [Double]; let wr: Range<Int>; let br: Range<Int>; let w: [Double] }
        struct DenseTape { let x: [Double]; let pre: [Double]; let wr: Range<Int>; let br: Range<Int>; let w: [Double] }
        var convTapes: [ConvTape] = []
        var x = images
        for spec in architecture.convs {
            let g = spec.geometry
            let (wr, w) = take(spec.weightCount)
            let (br, b) = take(spec.outChannels)
            let pre = Ref.conv(x, n: n, c: g.channels, h: g.height, w: g.width, weight: w, bias: b,
                               oc: spec.outChannels, k: g.kernelHeight)
            let act = Ref.relu(pre)
            convTapes.append(ConvTape(x: x, pre: pre, act: act, wr: wr, br: br, w: w))
            x = Ref.maxPool(act, images: n * spec.outChannels, h: g.outHeight, w: g.outWidth)
        }
        // (N, C, PH, PW) is already [N × C·PH·PW] in PyTorch's flatten order.
        var denseTapes: [DenseTape] = []
        for spec in architecture.denses {
            let (wr, w) = take(spec.weightCount)
            let (br, b) = take(spec.outputs)
            let pre = Ref.dense(x, n: n, inputs: spec.inputs, weight: w, bias: b, outputs: spec.outputs)
            denseTapes.append(DenseTape(x: x, pre: pre, wr: wr, br: br, w: w))
            x = spec.relu ? Ref.relu(pre) : pre
        }
        let (loss, dz) = Ref.softmaxCE(x, labels: labels, n: n, k: architecture.classes)
        guard backward else { return (loss, []) }

        var grad = [Double](repeating: 0, count: p.count)
        var d = dz
        for (spec, tape) in zip(architecture.denses, denseTapes).reversed() {
            if spec.relu { d = Ref.reluBackward(tape.pre, dOut: d) }
            let (dx, dw, db) = Ref.denseBackward(tape.x, dOut: d, n: n, inputs: spec.inputs, weight: tape.w,
                                                 outputs: spec.outputs)
            grad.replaceSubrange(tape.wr, with: dw)
            grad.replaceSubrange(tape.br, with: db)
            d = dx
        }
        for (spec, tape) in zip(architecture.convs, convTapes).reversed() {
            let g = spec.geometry
            d = Ref.maxPoolBackward(tape.act, dOut: d, images: n * spec.outChannels, h: g.outHeight, w: g.outWidth)
            d = Ref.reluBackward(tape.pre, dOut: d)
            let (dx, dw, db) = Ref.convBackward(tape.x, dOut: d, n: n, c: g.channels, h: g.height, w: g.width,
                                                weight: tape.w, oc: spec.outChannels, k: g.kernelHeight)
            grad.replaceSubrange(tape.wr, with: dw)
            grad.replaceSubrange(tape.br, with: db)
            d = dx
        }
        return (loss, grad)
    }
}

// MARK: - Test helpers

/// Seeded uniform values in [lo, hi).
func randomDoubles(_ count: Int, seed: UInt64, in range: ClosedRange<Double> = -1...1) -> [Double] {
    var rng = SeededRNG(seed: seed)
    return (0..<count).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * rng.uniform() }
}

/// Central difference of f at x along coordinate i.
func centralDifference(_ f: ([Double]) -> Double, at x: [Double], index i: Int, h: Double = 1e-6) -> Double {
    var plus = x, minus = x
    plus[i] += h
    minus[i] -= h
    return (f(plus) - f(minus)) / (2 * h)
}

/// Largest |a − b| relative to the largest |b| (so entries near zero are judged on the scale of the tensor).
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "compared \(a.count) values with \(b.count)")
    let scale = max(b.map(abs).max() ?? 0, 1e-30)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

/// (N, C, S) sample-major -> (C, N, S) channel-major.
func toChannelMajor<T>(_ x: [T], n: Int, c: Int, size s: Int) -> [T] {
    var out = x
    for i in 0..<n { for ch in 0..<c { for k in 0..<s { out[(ch * n + i) * s + k] = x[(i * c + ch) * s + k] } } }
    return out
}

/// (C, N, S) channel-major -> (N, C, S).
func toSampleMajor<T>(_ x: [T], n: Int, c: Int, size s: Int) -> [T] {
    var out = x
    for i in 0..<n { for ch in 0..<c { for k in 0..<s { out[(i * c + ch) * s + k] = x[(ch * n + i) * s + k] } } }
    return out
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
