import Kernels

/// A stage of a network as a forward/backward pair over slices of up to `maxBatch` samples.
/// `output` holds the forward result; `inputGradient` the backward result (nil where the network
/// does not need it: the first stage with parameters and everything before it).
protocol NetworkLayer: AnyObject {
    var output: Buffer { get }
    /// The gradient with respect to the input (the layer's `inputGradient`).
    var dInput: Buffer? { get }
    /// Computes `output` for `batch` samples of `input` starting at `inputOffset`.
    func forward(input: Buffer, inputOffset: Int, batch n: Int, parameters: Buffer)
    /// Writes this stage's parameter gradients (added with `accumulate`) and `inputGradient` from
    /// `outputGradient`; follows `forward` on the same slice and may consume its workspaces.
    func backward(input: Buffer, inputOffset: Int, outputGradient: Buffer, batch n: Int, parameters: Buffer,
                  gradients: Buffer, accumulate: Bool)
}

/// Where a layer's weights and, right after them, its biases lie in the flat parameter and
/// gradient buffers when its parameters start at `offset`.
func parameterRanges(at offset: Int, weights: Int, biases: Int) -> (weights: Range<Int>, biases: Range<Int>) {
    (offset..<(offset + weights), (offset + weights)..<(offset + weights + biases))
}

extension ConvBlock: NetworkLayer {
    func backward(input: Buffer, inputOffset: Int, outputGradient: Buffer, batch n: Int, parameters: Buffer,
                  gradients: Buffer, accumulate: Bool) {
        backward(outputGradient: outputGradient, batch: n, parameters: parameters, gradients: gradients,
                 accumulate: accumulate)
    }

    var dInput: Buffer? { inputGradient }
}

extension DenseLayer: NetworkLayer {
    func forward(input: Buffer, inputOffset: Int, batch n: Int, parameters: Buffer) {
        precondition(inputOffset == 0, "a dense layer reads its input from the start")
        forward(input: input, batch: n, parameters: parameters)
    }

    func backward(input: Buffer, inputOffset: Int, outputGradient: Buffer, batch n: Int, parameters: Buffer,
                  gradients: Buffer, accumulate: Bool) {
        backward(input: input, outputGradient: outputGradient, batch: n, parameters: parameters, gradients: gradients,
                 accumulate: accumulate)
    }

    var dInput: Buffer? { inputGradient }
}

/// A convolution + bias, with zero padding when the spec has it:
///   input (IC, N, H, W) -> padded (IC, N, H', W') -> output (OC, N, OH, OW) = W ∗ padded + b
/// (`ConvProduct`). Backward: db = row sums of dOut; dW and dPadded from the product's adjoints,
/// dInput = crop(dPadded).
final class ConvLayer: NetworkLayer {
    var dInput: Buffer? { inputGradient }
    let spec: ConvSpec
    let maxBatch: Int
    let weightRange, biasRange: Range<Int>
    let output: Buffer
    let inputGradient: Buffer?
    let product: ConvProduct
    // padded input (IC, maxBatch, H', W'), and its gradient; nil without padding.
    let padded: Buffer?

    init(spec: ConvSpec, maxBatch: Int, parameterOffset: Int, needsInputGradient: Bool) {
        self.spec = spec
        self.maxBatch = maxBatch
        let g = spec.geometry
        (weightRange, biasRange) = parameterRanges(at: parameterOffset, weights: spec.weightCount,
                                                   biases: spec.outChannels)
        product = ConvProduct(geometry: g, outChannels: spec.outChannels, maxBatch: maxBatch)
        output = Buffer(count: spec.outChannels * maxBatch * g.outputPixels)
        padded = spec.isPadded ? Buffer(count: g.channels * maxBatch * g.inputPixels) : nil
        inputGradient = needsInputGradient
            ? Buffer(count: g.channels * maxBatch * spec.inputHeight * spec.inputWidth) : nil
    }

    func forward(input: Buffer, inputOffset: Int, batch n: Int, parameters: Buffer) {
        precondition(n > 0 && n <= maxBatch, "batch \(n) out of 1...\(maxBatch)")
        let g = spec.geometry
        if let padded {
            padImages(input, srcOffset: inputOffset, images: g.channels * n, height: spec.inputHeight,
                      width: spec.inputWidth, padBefore: spec.padBefore, padAfter: spec.padAfter, into: padded)
            product.forward(input: padded, inputOffset: 0, batch: n, parameters: parameters,
                            weightOffset: weightRange.lowerBound, into: output)
        } else {
            product.forward(input: input, inputOffset: inputOffset, batch: n, parameters: parameters,
                            weightOffset: weightRange.lowerBound, into: output)
        }
        addRowBias(output, rows: spec.outChannels, columns: n * g.outputPixels, bias: parameters,
                   biasOffset: biasRange.lowerBound)
    }

    func backward(input: Buffer, inputOffset: Int, outputGradient: Buffer, batch n: Int, parameters: Buffer,
                  gradients: Buffer, accumulate: Bool) {
        let g = spec.geometry
        rowSums(outputGradient, rows: spec.outChannels, columns: n * g.outputPixels, into: gradients,
                offset: biasRange.lowerBound, accumulate: accumulate)
        product.backward(outputGradient: outputGradient, batch: n, parameters: parameters,
                         weightOffset: weightRange.lowerBound, gradients: gradients, accumulate: accumulate,
                         inputGradient: inputGradient.map { padded ?? $0 })
        if let padded, let dInput = inputGradient {
            cropImages(padded, images: g.channels * n, height: spec.inputHeight, width: spec.inputWidth,
                       padBefore: spec.padBefore, padAfter: spec.padAfter, into: dInput)
        }
    }
}

/// ReLU or tanh over `size` values per sample, any layout.
final class ActivationLayer: NetworkLayer {
    var dInput: Buffer? { inputGradient }
    enum Kind { case relu, tanh }
    let kind: Kind
    let size: Int
    let output: Buffer
    let inputGradient: Buffer?

    init(kind: Kind, size: Int, maxBatch: Int, needsInputGradient: Bool) {
        self.kind = kind
        self.size = size
        output = Buffer(count: size * maxBatch)
        inputGradient = needsInputGradient ? Buffer(count: size * maxBatch) : nil
    }

    func forward(input: Buffer, inputOffset: Int, batch n: Int, parameters: Buffer) {
        switch kind {
        case .relu: applyReLU(input, offset: inputOffset, count: n * size, into: output)
        case .tanh: applyTanh(input, offset: inputOffset, count: n * size, into: output)
        }
    }

    func backward(input: Buffer, inputOffset: Int, outputGradient: Buffer, batch n: Int, parameters: Buffer,
                  gradients: Buffer, accumulate: Bool) {
        guard let dInput = inputGradient else { return }
        switch kind {
        case .relu: reluBackward(output: output, outputGradient: outputGradient, count: n * size, into: dInput)
        case .tanh: tanhBackward(output: output, outputGradient: outputGradient, count: n * size, into: dInput)
        }
    }
}

/// K×K max or average pooling, stride K, of (C, N, H, W) -> (C, N, H/K, W/K).
final class PoolLayer: NetworkLayer {
    var dInput: Buffer? { inputGradient }
    let isMax: Bool
    let window: Int
    let channels: Int
    let height: Int
    let width: Int
    let output: Buffer
    let inputGradient: Buffer?
    // The winner of each max window, as an index into its input image.
    private var argmax: [Int32]

    init(isMax: Bool, window: Int, channels: Int, height: Int, width: Int, maxBatch: Int, needsInputGradient: Bool) {
        self.isMax = isMax
        self.window = window
        self.channels = channels
        self.height = height
        self.width = width
        let outputCount = channels * maxBatch * (height / window) * (width / window)
        output = Buffer(count: outputCount)
        argmax = [Int32](repeating: 0, count: isMax ? outputCount : 0)
        inputGradient = needsInputGradient ? Buffer(count: channels * maxBatch * height * width) : nil
    }

    func forward(input: Buffer, inputOffset: Int, batch n: Int, parameters: Buffer) {
        if isMax {
            maxPool(input, offset: inputOffset, images: channels * n, height: height, width: width, window: window,
                    into: output, argmax: &argmax)
        } else {
            avgPool(input, offset: inputOffset, images: channels * n, height: height, width: width, window: window,
                    into: output)
        }
    }

    func backward(input: Buffer, inputOffset: Int, outputGradient: Buffer, batch n: Int, parameters: Buffer,
                  gradients: Buffer, accumulate: Bool) {
        guard let dInput = inputGradient else { return }
        if isMax {
            maxPoolBackward(outputGradient, argmax: argmax, images: channels * n, height: height, width: width,
                            window: window, into: dInput)
        } else {
            avgPoolBackward(outputGradient, images: channels * n, height: height, width: width, window: window,
                            into: dInput)
        }
    }
}

/// (C, N, S) channel-major -> [N × C·S] sample-major (PyTorch's flatten order), before the first
/// dense layer; backward the inverse.
final class FlattenLayer: NetworkLayer {
    var dInput: Buffer? { inputGradient }
    let channels: Int
    let size: Int
    let output: Buffer
    let inputGradient: Buffer?

    init(channels: Int, size: Int, maxBatch: Int, needsInputGradient: Bool) {
        self.channels = channels
        self.size = size
        output = Buffer(count: channels * size * maxBatch)
        inputGradient = needsInputGradient ? Buffer(count: channels * size * maxBatch) : nil
    }

    func forward(input: Buffer, inputOffset: Int, batch n: Int, parameters: Buffer) {
        if inputOffset == 0 {
            channelMajorToSampleMajor(input, channels: channels, batch: n, size: size, into: output)
        } else {
            // Only the network input has an offset, and it has one channel: already sample-major.
            precondition(channels == 1, "a flatten with an input offset needs one channel")
            output.copy(from: input, sourceOffset: inputOffset, to: 0, count: n * size)
        }
    }

    func backward(input: Buffer, inputOffset: Int, outputGradient: Buffer, batch n: Int, parameters: Buffer,
                  gradients: Buffer, accumulate: Bool) {
        guard let dInput = inputGradient else { return }
        sampleMajorToChannelMajor(outputGradient, channels: channels, batch: n, size: size, into: dInput)
    }
}
