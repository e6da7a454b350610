import Kernels

/// One conv stage as a forward/backward pair: valid conv → + bias → ReLU → max-pool 2×2.
///
/// Activations are channel-major over the batch, so the conv is one product per call:
///   pre [OC × P = N·OH·OW] = W ∗ input (IC, N, H, W)        (`ConvProduct`; bias not yet added)
///   output (OC, N, OH/2, OW/2) = ReLU(maxpool(pre) + b)    (one fused kernel, winners in `codes`)
/// Backward:
///   dPre [OC × P] from dOutput and codes                   (written over `pre`)
///   db = row sums of dPre; dW and dInput from the product's adjoints (no dInput for the first layer).
/// Every workspace is allocated once for `maxBatch` samples. With `accumulate` the backward pass
/// adds to the parameter gradients instead of overwriting them (a batch processed in slices).
public final class ConvBlock {
    public let spec: ConvSpec
    public let maxBatch: Int
    /// Where W [OC][IC][KH][KW] and b [OC] live in the flat parameter and gradient buffers.
    public let weightRange, biasRange: Range<Int>
    /// Pooled activations (OC, maxBatch, PH, PW).
    public let output: Buffer
    /// Gradient of the loss with respect to the input (IC, maxBatch, H, W); nil for the first layer.
    public let inputGradient: Buffer?
    /// How the conv is computed.
    public var algorithm: ConvAlgorithm { product.algorithm }

    let product: ConvProduct
    // pre [OC × maxBatch·OH·OW]; holds dPre during backward.
    let pre: Buffer
    // (OC, maxBatch, PH, PW): window winner 0...3 or poolCodeInactive.
    let codes: Buffer

    /// `algorithm` nil takes `ConvAlgorithm.preferred(for:)`.
    public init(spec: ConvSpec, maxBatch: Int, parameterOffset: Int, needsInputGradient: Bool,
                algorithm: ConvAlgorithm? = nil) {
        precondition(maxBatch > 0, "maxBatch must be positive, got \(maxBatch)")
        self.spec = spec
        self.maxBatch = maxBatch
        let g = spec.geometry
        (weightRange, biasRange) = parameterRanges(at: parameterOffset, weights: spec.weightCount,
                                                   biases: spec.outChannels)
        let columns = maxBatch * g.outputPixels
        product = ConvProduct(geometry: g, outChannels: spec.outChannels, maxBatch: maxBatch, algorithm: algorithm)
        pre = Buffer(count: spec.outChannels * columns)
        let pooled = spec.outChannels * maxBatch * spec.pooledHeight * spec.pooledWidth
        output = Buffer(count: pooled)
        codes = Buffer(count: pooled)
        inputGradient = needsInputGradient ? Buffer(count: g.channels * maxBatch * g.inputPixels) : nil
    }

    /// Computes `output` for `batch` samples of `input` (IC, N, H, W) starting at `inputOffset`.
    public func forward(input: Buffer, inputOffset: Int = 0, batch n: Int, parameters: Buffer) {
        precondition(n > 0 && n <= maxBatch, "batch \(n) out of 1...\(maxBatch)")
        let g = spec.geometry
        product.forward(input: input, inputOffset: inputOffset, batch: n, parameters: parameters,
                        weightOffset: weightRange.lowerBound, into: pre)
        maxPoolBiasReLU(pre, channels: spec.outChannels, batch: n, height: g.outHeight, width: g.outWidth,
                        bias: parameters, biasOffset: biasRange.lowerBound, into: output, codes: codes)
    }

    /// Overwrites this layer's parameter gradients (and `inputGradient`) from `outputGradient`
    /// (OC, N, PH, PW). Must follow `forward` on the same batch; it consumes the forward workspaces.
    public func backward(outputGradient: Buffer, batch n: Int, parameters: Buffer, gradients: Buffer,
                         accumulate: Bool = false) {
        precondition(n > 0 && n <= maxBatch, "batch \(n) out of 1...\(maxBatch)")
        let g = spec.geometry
        let columns = n * g.outputPixels
        let dPre = pre
        maxPoolBiasReLUBackward(outputGradient, codes: codes, channels: spec.outChannels, batch: n,
                                height: g.outHeight, width: g.outWidth, into: dPre)
        rowSums(dPre, rows: spec.outChannels, columns: columns, into: gradients, offset: biasRange.lowerBound,
                accumulate: accumulate)
        product.backward(outputGradient: dPre, batch: n, parameters: parameters, weightOffset: weightRange.lowerBound,
                         gradients: gradients, accumulate: accumulate, inputGradient: inputGradient)
    }
}
