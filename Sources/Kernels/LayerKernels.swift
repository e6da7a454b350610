// Kernels of the layers that layer lists add beside the fused conv → ReLU → max-pool 2 stage:
// zero padding, per-channel bias, ReLU and tanh, K×K max and average pooling. Activations are
// channel-major (C, N, H, W) as in ConvKernels.swift. These are plain loops (the compiler
// vectorises the elementwise ones); the fast built-in models do not use them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Padding

/// dst (C, N, H + top + bottom, W + left + right) = src (C, N, H, W) surrounded by zeros, where
/// bottom = `padAfter`, top = left = `padBefore`, right = `padAfter`. `srcOffset` is where src starts.
/// src (C, N, H, W) -> dst (C, N, H', W')
public func padImages(_ src: Buffer, srcOffset: Int = 0, images: Int, height h: Int, width w: Int,
                      padBefore: Int, padAfter: Int, into dst: Buffer) {
    let ph = h + padBefore + padAfter, pw = w + padBefore + padAfter
    precondition(srcOffset >= 0 && src.count >= srcOffset + images * h * w && dst.count >= images * ph * pw,
                 "padImages: buffers too small for \(images) images of \(h)×\(w)")
    dst.base.update(repeating: 0, count: images * ph * pw)
    let s = UnsafePointer(src.base + srcOffset)
    for image in 0..<images {
        for y in 0..<h {
            VectorAccess.copy(s + (image * h + y) * w, dst.base + (image * ph + y + padBefore) * pw + padBefore, w)
        }
    }
}

/// Inverse of `padImages` for gradients: dst (C, N, H, W) = the interior of src (C, N, H', W').
public func cropImages(_ src: Buffer, images: Int, height h: Int, width w: Int, padBefore: Int, padAfter: Int,
                       into dst: Buffer) {
    let ph = h + padBefore + padAfter, pw = w + padBefore + padAfter
    precondition(src.count >= images * ph * pw && dst.count >= images * h * w,
                 "cropImages: buffers too small for \(images) images of \(h)×\(w)")
    let s = UnsafePointer(src.base)
    for image in 0..<images {
        for y in 0..<h {
            VectorAccess.copy(s + (image * ph + y + padBefore) * pw + padBefore, dst.base + (image * h + y) * w, w)
        }
    }
}

// MARK: - Bias per row

/// x [rows × columns] += bias[row]: a conv layer's bias, one per output channel of (OC, N, OH, OW).
public func addRowBias(_ x: Buffer, rows: Int, columns: Int, bias: Buffer, biasOffset: Int) {
    precondition(x.count >= rows * columns && biasOffset >= 0 && biasOffset + rows <= bias.count,
                 "addRowBias: buffers too small for \(rows)×\(columns)")
    for r in 0..<rows {
        let b = bias.base[biasOffset + r], p = x.base + r * columns
        for j in 0..<columns { p[j] += b }
    }
}

// MARK: - Activations

/// out[i] = max(x[i], 0) for i < count (NaN is kept); x starts at `offset`.
public func applyReLU(_ x: Buffer, offset: Int = 0, count: Int, into out: Buffer) {
    precondition(offset >= 0 && x.count >= offset + count && out.count >= count, "applyReLU: buffers too small")
    let s = UnsafePointer(x.base + offset), d = out.base
    for i in 0..<count { let v = s[i]; d[i] = v <= 0 ? 0 : v }
}

/// dIn[i] = dOut[i] where the ReLU output out[i] > 0, else 0.
public func reluBackward(output: Buffer, outputGradient: Buffer, count: Int, into dIn: Buffer) {
    precondition(output.count >= count && outputGradient.count >= count && dIn.count >= count,
                 "reluBackward: buffers too small")
    let o = UnsafePointer(output.base), g = UnsafePointer(outputGradient.base), d = dIn.base
    for i in 0..<count { d[i] = o[i] > 0 ? g[i] : 0 }
}

/// out[i] = tanh(x[i]) for i < count; x starts at `offset`.
public func applyTanh(_ x: Buffer, offset: Int = 0, count: Int, into out: Buffer) {
    precondition(offset >= 0 && x.count >= offset + count && out.count >= count, "applyTanh: buffers too small")
    let s = UnsafePointer(x.base + offset), d = out.base
    for i in 0..<count { d[i] = tanhf(s[i]) }
}

/// dIn[i] = dOut[i] · (1 − out[i]²), from the tanh output.
public func tanhBackward(output: Buffer, outputGradient: Buffer, count: Int, into dIn: Buffer) {
    precondition(output.count >= count && outputGradient.count >= count && dIn.count >= count,
                 "tanhBackward: buffers too small")
    let o = UnsafePointer(output.base), g = UnsafePointer(outputGradient.base), d = dIn.base
    for i in 0..<count { d[i] = g[i] * (1 - o[i] * o[i]) }
}

// MARK: - K×K pooling, stride K

/// out (images, H/K, W/K) = max over each K×K window of x (images, H, W) (floor: a last row or
/// column that fits no window is dropped); `argmax` records the winner's index in x's image
/// (first maximum in row-major order; NaN wins and propagates). x starts at `offset`.
public func maxPool(_ x: Buffer, offset: Int = 0, images: Int, height h: Int, width w: Int, window k: Int,
                    into out: Buffer, argmax: inout [Int32]) {
    let (ph, pw) = (h / k, w / k)
    precondition(k > 0 && offset >= 0 && x.count >= offset + images * h * w && out.count >= images * ph * pw
                 && argmax.count >= images * ph * pw,
                 "maxPool: buffers too small for \(images) images of \(h)×\(w)")
    let s = UnsafePointer(x.base + offset), d = out.base
    for image in 0..<images {
        let src = s + image * h * w
        for i in 0..<ph {
            for j in 0..<pw {
                var best = (i * k) * w + j * k
                var m = src[best]
                if !m.isNaN {
                    search: for dy in 0..<k {
                        for dx in 0..<k {
                            let index = (i * k + dy) * w + j * k + dx
                            let v = src[index]
                            if v.isNaN { best = index; m = v; break search }
                            if v > m { best = index; m = v }
                        }
                    }
                }
                let o = (image * ph + i) * pw + j
                d[o] = m
                argmax[o] = Int32(best)
            }
        }
    }
}

/// Backward of `maxPool`: dIn (images, H, W) gets each dOut at its window's winner, 0 elsewhere.
public func maxPoolBackward(_ dOut: Buffer, argmax: [Int32], images: Int, height h: Int, width w: Int,
                            window k: Int, into dIn: Buffer) {
    let (ph, pw) = (h / k, w / k)
    precondition(dOut.count >= images * ph * pw && dIn.count >= images * h * w && argmax.count >= images * ph * pw,
                 "maxPoolBackward: buffers too small for \(images) images of \(h)×\(w)")
    dIn.base.update(repeating: 0, count: images * h * w)
    for image in 0..<images {
        let d = dIn.base + image * h * w
        for o in (image * ph * pw)..<((image + 1) * ph * pw) { d[Int(argmax[o])] = dOut.base[o] }
    }
}

/// out (images, H/K, W/K) = mean over each K×K window of x (images, H, W), summed in row-major order.
public func avgPool(_ x: Buffer, offset: Int = 0, images: Int, height h: Int, width w: Int, window k: Int,
                    into out: Buffer) {
    let (ph, pw) = (h / k, w / k)
    precondition(k > 0 && offset >= 0 && x.count >= offset + images * h * w && out.count >= images * ph * pw,
                 "avgPool: buffers too small for \(images) images of \(h)×\(w)")
    let s = UnsafePointer(x.base + offset), d = out.base
    let area = Float(k * k)
    for image in 0..<images {
        let src = s + image * h * w
        for i in 0..<ph {
            for j in 0..<pw {
                var sum: Float = 0
                for dy in 0..<k { for dx in 0..<k { sum += src[(i * k + dy) * w + j * k + dx] } }
                d[(image * ph + i) * pw + j] = sum / area
            }
        }
    }
}

/// Backward of `avgPool`: each input of a window gets dOut / K², inputs outside every window 0.
public func avgPoolBackward(_ dOut: Buffer, images: Int, height h: Int, width w: Int, window k: Int,
                            into dIn: Buffer) {
    let (ph, pw) = (h / k, w / k)
    precondition(dOut.count >= images * ph * pw && dIn.count >= images * h * w,
                 "avgPoolBackward: buffers too small for \(images) images of \(h)×\(w)")
    dIn.base.update(repeating: 0, count: images * h * w)
    let area = Float(k * k)
    for image in 0..<images {
        let d = dIn.base + image * h * w
        for i in 0..<ph {
            for j in 0..<pw {
                let g = dOut.base[(image * ph + i) * pw + j] / area
                for dy in 0..<k { for dx in 0..<k { d[(i * k + dy) * w + j * k + dx] = g } }
            }
        }
    }
}
