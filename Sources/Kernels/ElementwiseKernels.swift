// Elementwise kernels, reductions, softmax cross-entropy and the SGD update.
// Each fast kernel has a plain `reference…` version beside it that the tests compare with.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Bias, ReLU

/// x [rows × columns] += bias[column] (a row vector broadcast down the rows), then ReLU if `relu`.
/// With ReLU, NaN is kept (so divergence stays visible).
public func addBias(_ x: Buffer, rows: Int, columns: Int, bias: Buffer, biasOffset: Int, relu: Bool) {
    precondition(x.count >= rows * columns && biasOffset >= 0 && biasOffset + columns <= bias.count,
                 "addBias: buffers too small for \(rows)×\(columns)")
    let b = UnsafePointer(bias.base + biasOffset)
    for r in 0..<rows {
        let p = x.base + r * columns
        var j = 0
        if relu {
            let zero = SIMD16<Float>(repeating: 0)
            while j + 16 <= columns {
                let v = VectorAccess.load16(p + j) + VectorAccess.load16(b + j)
                VectorAccess.store(v.replacing(with: zero, where: v .<= 0), p + j)
                j += 16
            }
            while j < columns {
                let v = p[j] + b[j]
                p[j] = v <= 0 ? 0 : v
                j += 1
            }
        } else {
            VectorAccess.add(b, p, columns)
        }
    }
}

/// Plain version of `addBias`.
public func referenceAddBias(_ x: Buffer, rows: Int, columns: Int, bias: Buffer, biasOffset: Int, relu: Bool) {
    for r in 0..<rows {
        for j in 0..<columns {
            let v = x[r * columns + j] + bias[biasOffset + j]
            x[r * columns + j] = relu && v <= 0 ? 0 : v
        }
    }
}

/// Backward of ReLU in place: gradient[i] = 0 where activation[i] ≤ 0 (the ReLU output).
public func reluBackward(activation: Buffer, gradient: Buffer, count: Int) {
    precondition(activation.count >= count && gradient.count >= count, "reluBackward: buffers too small")
    let a = UnsafePointer(activation.base), g = gradient.base
    let zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
        let v = VectorAccess.load16(g + i)
        VectorAccess.store(v.replacing(with: zero, where: VectorAccess.load16(a + i) .<= 0), g + i)
        i += 16
    }
    while i < count {
        if a[i] <= 0 { g[i] = 0 }
        i += 1
    }
}

/// Plain version of `reluBackward`.
public func referenceReluBackward(activation: Buffer, gradient: Buffer, count: Int) {
    for i in 0..<count where activation[i] <= 0 { gradient[i] = 0 }
}

// MARK: - Reductions

/// out[offset + r] = Σ_j x[r × columns + j] for x [rows × columns]; with `accumulate`, += instead of =.
public func rowSums(_ x: Buffer, rows: Int, columns: Int, into out: Buffer, offset: Int, accumulate: Bool = false) {
    precondition(x.count >= rows * columns && offset >= 0 && offset + rows <= out.count, "rowSums: buffers too small")
    let src = UnsafePointer(x.base)
    for r in 0..<rows {
        let p = src + r * columns
        // Four independent accumulators hide the add latency.
        var s0 = SIMD16<Float>(repeating: 0), s1 = s0, s2 = s0, s3 = s0
        var j = 0
        while j + 64 <= columns {
            s0 += VectorAccess.load16(p + j)
            s1 += VectorAccess.load16(p + j + 16)
            s2 += VectorAccess.load16(p + j + 32)
            s3 += VectorAccess.load16(p + j + 48)
            j += 64
        }
        while j + 16 <= columns { s0 += VectorAccess.load16(p + j); j += 16 }
        var total = ((s0 + s1) + (s2 + s3)).sum()
        while j < columns { total += p[j]; j += 1 }
        if accumulate { out.base[offset + r] += total } else { out.base[offset + r] = total }
    }
}

/// Plain version of `rowSums` (accumulates in Double).
public func referenceRowSums(_ x: Buffer, rows: Int, columns: Int, into out: Buffer, offset: Int,
                             accumulate: Bool = false) {
    referenceSums(x, sums: rows, terms: columns, sumStride: columns, termStride: 1, into: out, offset: offset,
                  accumulate: accumulate)
}

/// out[offset + i] (+)= Σ_k x[i × sumStride + k × termStride] for i < sums, k < terms, in Double.
private func referenceSums(_ x: Buffer, sums: Int, terms: Int, sumStride: Int, termStride: Int, into out: Buffer,
                           offset: Int, accumulate: Bool) {
    for i in 0..<sums {
        var s = 0.0
        for k in 0..<terms { s += Double(x[i * sumStride + k * termStride]) }
        out[offset + i] = Float(s) + (accumulate ? out[offset + i] : 0)
    }
}

/// out[offset + j] = Σ_r x[r × columns + j] for x [rows × columns]; with `accumulate`, += instead of =.
public func columnSums(_ x: Buffer, rows: Int, columns: Int, into out: Buffer, offset: Int, accumulate: Bool = false) {
    precondition(x.count >= rows * columns && offset >= 0 && offset + columns <= out.count,
                 "columnSums: buffers too small")
    let dst = out.base + offset
    if !accumulate { dst.update(repeating: 0, count: columns) }
    for r in 0..<rows { VectorAccess.add(UnsafePointer(x.base + r * columns), dst, columns) }
}

/// Plain version of `columnSums` (accumulates in Double).
public func referenceColumnSums(_ x: Buffer, rows: Int, columns: Int, into out: Buffer, offset: Int,
                                accumulate: Bool = false) {
    referenceSums(x, sums: columns, terms: rows, sumStride: 1, termStride: columns, into: out, offset: offset,
                  accumulate: accumulate)
}

// MARK: - Softmax cross-entropy

/// Mean softmax cross-entropy of logits [N × K] against `labels[labelOffset ..< labelOffset + N]`,
/// with log-sum-exp for stability. Returns the mean loss (summed in Double) and how many rows have
/// their label as the first maximum. If `gradient` is given it is overwritten with
/// d(mean loss)/d(logits) = (softmax − onehot) / N, or (softmax − onehot) · `gradientScale` when
/// the rows are one slice of a larger batch (scale 1 / whole batch).
public func softmaxCrossEntropy(logits: Buffer, labels: [Int32], labelOffset: Int = 0, batch n: Int, classes k: Int,
                                gradient: Buffer?, gradientScale: Float? = nil) -> (loss: Double, correct: Int) {
    precondition(n > 0 && k > 0 && logits.count >= n * k && labelOffset >= 0 && labels.count >= labelOffset + n
                 && (gradient.map { $0.count >= n * k } ?? true), "softmaxCrossEntropy: buffers too small")
    var loss = 0.0
    var correct = 0
    let scale = gradientScale ?? 1 / Float(n)
    labels.withUnsafeBufferPointer { y in
        for i in 0..<n {
            let z = UnsafePointer(logits.base + i * k)
            let label = Int(y[labelOffset + i])
            precondition(label >= 0 && label < k, "label \(label) out of 0..<\(k)")
            var m = z[0], best = 0
            for j in 1..<max(k, 1) where z[j] > m { m = z[j]; best = j }
            if best == label { correct += 1 }
            var sum: Float = 0
            for j in 0..<k { sum += expf(z[j] - m) }
            let logSum = logf(sum)
            loss += Double(logSum - (z[label] - m))
            if let g = gradient {
                let d = g.base + i * k
                let inv = scale / sum
                for j in 0..<k { d[j] = expf(z[j] - m) * inv }
                d[label] -= scale
            }
        }
    }
    return (loss / Double(n), correct)
}

/// Plain version of `softmaxCrossEntropy`, computed in Double.
public func referenceSoftmaxCrossEntropy(logits: Buffer, labels: [Int32], labelOffset: Int = 0, batch n: Int,
                                         classes k: Int, gradient: Buffer?,
                                         gradientScale: Float? = nil) -> (loss: Double, correct: Int) {
    let scale = gradientScale.map(Double.init) ?? 1 / Double(n)
    var loss = 0.0
    var correct = 0
    for i in 0..<n {
        let z = (0..<k).map { Double(logits[i * k + $0]) }
        let label = Int(labels[labelOffset + i])
        let m = z.max() ?? 0
        if z.firstIndex(of: m) == label { correct += 1 }
        let sum = z.reduce(0) { $0 + exp($1 - m) }
        loss += log(sum) - (z[label] - m)
        if let g = gradient {
            for j in 0..<k {
                let p = exp(z[j] - m) / sum
                g[i * k + j] = Float((p - (j == label ? 1 : 0)) * scale)
            }
        }
    }
    return (loss / Double(n), correct)
}

// MARK: - SGD

/// One SGD step over `count` parameters. Plain (momentum 0): Δ = −η g. With momentum m (PyTorch's
/// convention, no dampening): v ← m v + g, Δ = −η v. Then θ ← θ + Δ; `update` receives exactly the
/// Δ that was added. `velocity` is only read or written when momentum ≠ 0.
public func sgdStep(parameters: Buffer, gradients: Buffer, velocity: Buffer, update: Buffer,
                    count: Int, learningRate: Float, momentum: Float) {
    precondition(parameters.count >= count && gradients.count >= count && update.count >= count
                 && (momentum == 0 || velocity.count >= count), "sgdStep: buffers too small")
    let theta = parameters.base, g = UnsafePointer(gradients.base), v = velocity.base, u = update.base
    let eta = SIMD16<Float>(repeating: -learningRate)
    var i = 0
    if momentum == 0 {
        while i + 16 <= count {
            let d = eta * VectorAccess.load16(g + i)
            VectorAccess.store(d, u + i)
            VectorAccess.store(VectorAccess.load16(theta + i) + d, theta + i)
            i += 16
        }
        while i < count {
            let d = -learningRate * g[i]
            u[i] = d
            theta[i] += d
            i += 1
        }
    } else {
        let mv = SIMD16<Float>(repeating: momentum)
        while i + 16 <= count {
            // Written as separate multiply and add (no FMA) so the scalar tail rounds the same way.
            let vel = mv * VectorAccess.load16(v + i) + VectorAccess.load16(g + i)
            VectorAccess.store(vel, v + i)
            let d = eta * vel
            VectorAccess.store(d, u + i)
            VectorAccess.store(VectorAccess.load16(theta + i) + d, theta + i)
            i += 16
        }
        while i < count {
            let vel = momentum * v[i] + g[i]
            v[i] = vel
            let d = -learningRate * vel
            u[i] = d
            theta[i] += d
            i += 1
        }
    }
}

/// Plain version of `sgdStep`.
public func referenceSGDStep(parameters: Buffer, gradients: Buffer, velocity: Buffer, update: Buffer,
                             count: Int, learningRate: Float, momentum: Float) {
    for i in 0..<count {
        var step = gradients[i]
        if momentum != 0 {
            let vel = momentum * velocity[i] + gradients[i]
            velocity[i] = vel
            step = vel
        }
        let d = -learningRate * step
        update[i] = d
        parameters[i] += d
    }
}

