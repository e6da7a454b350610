import Cell
import Kernels

/// A CNN with its flat parameter and gradient vectors and every workspace for up to `maxBatch`
/// samples. One per thread: it is not shared, and a training step allocates nothing.
///
/// A batch larger than `sliceSize` runs through the layers in slices of at most `sliceSize`
/// samples whose gradients add up (the loss gradient carries 1 / whole batch), so the im2col
/// matrices of one slice stay in cache whatever the batch size. The result is the same gradient
/// up to Float32 summation order, and deterministic.
///
/// The stages run the model's layer list (Architecture.stages); conv → ReLU → max-pool 2 runs as
/// one fused `ConvBlock`, a dense layer and the ReLU after it as one `DenseLayer`.
///
/// Flat layout (llm.c style), in list order: conv1.weight [OC][IC][KH][KW], conv1.bias, conv2.weight,
/// conv2.bias, dense1.weight [O][I], dense1.bias, ...; `groups` names each range.
public final class Network {
    public let model: ModelKind
    public let architecture: Architecture
    public let maxBatch: Int
    /// Largest number of samples the layers process at once.
    public let sliceSize: Int
    /// θ, all parameters in the flat order above.
    public let parameters: Buffer
    /// ∂(mean loss)/∂θ of the last `forwardBackward`, same layout as `parameters`.
    public let gradients: Buffer
    /// One group per weight and per bias tensor, in flat order.
    public let groups: [ParameterGroup]
    /// Number of samples in the batch loaded last.
    public private(set) var batchSize = 0

    /// The fused conv → ReLU → max-pool 2 stages and the dense layers, in order (their workspaces
    /// hold up to `sliceSize` samples).
    public let convs: [ConvBlock]
    public let denses: [DenseLayer]
    // Every stage in order, as the forward and backward passes run them.
    let layers: [any NetworkLayer]
    // Index in `layers` of the first stage with parameters: backward stops there.
    let firstTrainable: Int
    // input [maxBatch × C·H·W], each sample channel-major. With one channel this is already the
    // channel-major (1, N, H, W) the conv layers read, and any run of samples is a contiguous slice.
    let input: Buffer
    // With several channels, the slice of samples being run, transposed to (C, S, H, W).
    let channelInput: Buffer?
    // Below, S = sliceSize.
    // features [S × F], the flattened input of the first dense layer in PyTorch order.
    let features: Buffer
    // dFeatures in channel-major (C, S, H, W) for the stage before the flatten.
    let featureGradient: Buffer
    // dLogits [S × classes].
    let logitGradient: Buffer
    // labels of the loaded batch; only its first `batchSize` entries are used.
    var labels: [Int32]

    /// Number of parameters.
    public var parameterCount: Int { parameters.count }
    /// GEMM floating-point operations of one training step per sample (see `Architecture.flopsPerSample`).
    public var flopsPerSample: Int { architecture.flopsPerSample }

    /// A network of `model` on 1×28×28 inputs with 10 classes (see `init(model:architecture:...)`).
    public convenience init(model: ModelKind, seed: UInt64, maxBatch: Int, sliceSize: Int? = nil) {
        self.init(model: model, architecture: model.architecture, seed: seed, maxBatch: maxBatch, sliceSize: sliceSize)
    }

    /// A network of `model` on the images of `data`; throws when the layer list does not fit them.
    public convenience init(model: ModelKind, data: Dataset, seed: UInt64, maxBatch: Int,
                            sliceSize: Int? = nil) throws(ModelError) {
        let arch = try model.architecture(channels: data.channels, height: data.rows, width: data.columns,
                                          classes: data.classes)
        self.init(model: model, architecture: arch, seed: seed, maxBatch: maxBatch, sliceSize: sliceSize)
    }

    /// A network with He-normal weights (N(0, 2/fan_in)) and zero biases, drawn from
    /// `SeededRNG(seed:)` in flat parameter order, so the same seed gives bit-identical parameters.
    /// `sliceSize` defaults to `Network.defaultSliceSize(for:)` (capped at maxBatch).
    public init(model: ModelKind, architecture arch: Architecture, seed: UInt64, maxBatch: Int, sliceSize: Int? = nil) {
        precondition(maxBatch > 0, "maxBatch must be positive, got \(maxBatch)")
        precondition((sliceSize ?? 1) > 0, "sliceSize must be positive, got \(sliceSize ?? 0)")
        self.model = model
        architecture = arch
        self.maxBatch = maxBatch
        let slice = min(sliceSize ?? Network.defaultSliceSize(for: arch), maxBatch)
        self.sliceSize = slice
        let count = arch.parameterCount
        parameters = Buffer(count: count)
        gradients = Buffer(count: count)
        groups = arch.groups

        let first = arch.stages.firstIndex(where: \.hasParameters) ?? 0
        firstTrainable = first
        var offset = 0
        var layers: [any NetworkLayer] = []
        var convs: [ConvBlock] = []
        var denses: [DenseLayer] = []
        var flatten: FlattenLayer?
        for (i, stage) in arch.stages.enumerated() {
            let needsGradient = i > first
            switch stage {
            case .convBlock(let spec):
                let block = ConvBlock(spec: spec, maxBatch: slice, parameterOffset: offset,
                                      needsInputGradient: needsGradient)
                convs.append(block)
                layers.append(block)
                offset = block.biasRange.upperBound
            case .conv(let spec):
                let layer = ConvLayer(spec: spec, maxBatch: slice, parameterOffset: offset,
                                      needsInputGradient: needsGradient)
                layers.append(layer)
                offset = layer.biasRange.upperBound
            case .relu(let size), .tanh(let size):
                let isReLU: Bool
                if case .relu = stage { isReLU = true } else { isReLU = false }
                layers.append(ActivationLayer(kind: isReLU ? .relu : .tanh, size: size, maxBatch: slice,
                                              needsInputGradient: needsGradient))
            case let .maxPool(k, c, h, w), let .avgPool(k, c, h, w):
                let isMax: Bool
                if case .maxPool = stage { isMax = true } else { isMax = false }
                layers.append(PoolLayer(isMax: isMax, window: k, channels: c, height: h, width: w, maxBatch: slice,
                                        needsInputGradient: needsGradient))
            case let .flatten(c, size):
                let layer = FlattenLayer(channels: c, size: size, maxBatch: slice, needsInputGradient: needsGradient)
                flatten = layer
                layers.append(layer)
            case .dense(let spec):
                let layer = DenseLayer(spec: spec, maxBatch: slice, parameterOffset: offset)
                denses.append(layer)
                layers.append(layer)
                offset = layer.biasRange.upperBound
            }
        }
        precondition(offset == count, "layer ranges cover \(offset) of \(count) parameters")
        guard let flatten, !denses.isEmpty else { preconditionFailure("a model ends with a dense layer") }
        self.convs = convs
        self.denses = denses
        self.layers = layers
        let imageSize = arch.inputChannels * arch.inputHeight * arch.inputWidth
        input = Buffer(count: maxBatch * imageSize)
        channelInput = arch.inputChannels > 1 ? Buffer(count: slice * imageSize) : nil
        features = flatten.output
        featureGradient = flatten.inputGradient ?? Buffer(count: 1)
        logitGradient = Buffer(count: slice * arch.classes)
        labels = [Int32](repeating: 0, count: maxBatch)

        Network.initialize(parameters, architecture: arch, seed: seed)
    }

    /// He-normal weights and zero biases, drawn in flat order.
    static func initialize(_ parameters: Buffer, architecture arch: Architecture, seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        var offset = 0
        for layer in arch.layers where layer.weightCount > 0 {
            let fanIn = layer.weightCount / layer.biasCount
            let std = (2.0 / Double(fanIn)).squareRoot()
            for i in 0..<layer.weightCount { parameters[offset + i] = Float(rng.normal() * std) }
            offset += layer.weightCount
            for i in 0..<layer.biasCount { parameters[offset + i] = 0 }
            offset += layer.biasCount
        }
    }

    // MARK: Batches

    /// Copies the images and labels of `data[indices]` into the input buffer (1 ≤ count ≤ maxBatch).
    public func loadBatch(_ data: Dataset, indices: [Int]) {
        checkShape(data)
        precondition(!indices.isEmpty && indices.count <= maxBatch, "batch of \(indices.count) out of 1...\(maxBatch)")
        gatherPixelRows(data.pixels, lookup: data.pixelLookup, rowLength: data.imageSize, rows: indices,
                        into: input)
        for (k, i) in indices.enumerated() { labels[k] = data.labels[i] }
        batchSize = indices.count
    }

    /// Copies the contiguous samples `range` of `data` (1 ≤ count ≤ maxBatch).
    public func loadBatch(_ data: Dataset, range: Range<Int>) {
        checkShape(data)
        precondition(!range.isEmpty && range.count <= maxBatch && range.lowerBound >= 0 && range.upperBound <= data.count,
                     "batch \(range) out of range for \(data.count) samples and maxBatch \(maxBatch)")
        copyPixelRows(data.pixels, lookup: data.pixelLookup, rowLength: data.imageSize, range: range,
                      into: input)
        for (k, i) in range.enumerated() { labels[k] = data.labels[i] }
        batchSize = range.count
    }

    private func checkShape(_ data: Dataset) {
        precondition(data.channels == architecture.inputChannels && data.rows == architecture.inputHeight
                     && data.columns == architecture.inputWidth && data.classes <= architecture.classes,
                     "data set \(data.name) is \(data.channels)×\(data.rows)×\(data.columns) with \(data.classes) classes; "
                     + "\(model.rawValue) needs \(architecture.inputChannels)×\(architecture.inputHeight)×"
                     + "\(architecture.inputWidth), ≤ \(architecture.classes)")
    }

    // MARK: Forward and backward

    /// Default `sliceSize`: the largest power of two up to 32 whose largest im2col matrix fits in
    /// about 2.5 MB (near the L2 + part of L3 that one core uses well on Zen 4 / Skylake-X); a conv
    /// that runs by Winograd counts the im2col matrix it replaces. Measured: lenet-8-16 → 32 (16 is
    /// as fast, 64 is 10 % slower at batch 128); with Winograd (`NetworkBenchmarkTests.slices`, AVX2)
    /// cnn-32-64 → 16 (4-5 % faster than 8 or 32), cifar-cnn → 8 (16 within 1-2 %, 4 and 32 6-8 %
    /// slower).
    public static func defaultSliceSize(for arch: Architecture) -> Int {
        let colBytesPerSample = arch.convs.map { $0.geometry.patchSize * $0.geometry.outputPixels * 4 }.max() ?? 1
        var slice = 32
        while slice > 1 && slice * colBytesPerSample > 2_500_000 { slice /= 2 }
        return slice
    }

    /// Mean loss and number of correct predictions on the loaded batch, without gradients.
    public func forward() -> (loss: Double, correct: Int) {
        run(backward: false)
    }

    /// Mean loss and number correct on the loaded batch; overwrites `gradients` with ∂(mean loss)/∂θ.
    public func forwardBackward() -> (loss: Double, correct: Int) {
        run(backward: true)
    }

    private func run(backward: Bool) -> (loss: Double, correct: Int) {
        let total = batchSize
        precondition(total > 0, "no batch loaded")
        var lossSum = 0.0
        var correct = 0
        var start = 0
        while start < total {
            let n = min(sliceSize, total - start)
            runForward(from: start, count: n)
            let (loss, right) = softmaxCrossEntropy(
                logits: logits, labels: labels, labelOffset: start, batch: n, classes: architecture.classes,
                gradient: backward ? logitGradient : nil, gradientScale: 1 / Float(total))
            if n == total { lossSum = loss } else { lossSum += loss * Double(n) / Double(total) }
            correct += right
            if backward { runBackward(from: start, count: n, accumulate: start > 0) }
            start += n
        }
        return (lossSum, correct)
    }

    /// Logits [n × classes] of the last forward slice.
    var logits: Buffer { denses[denses.count - 1].output }

    /// The network input of samples start ..< start + n of the loaded batch, channel-major
    /// (C, n, H, W), and where it starts in that buffer.
    private func sliceInput(from start: Int, count n: Int) -> (Buffer, Int) {
        let plane = architecture.inputHeight * architecture.inputWidth
        guard let channelInput else { return (input, start * plane) }
        sampleMajorToChannelMajor(input, sourceOffset: start * architecture.inputChannels * plane,
                                  channels: architecture.inputChannels, batch: n, size: plane, into: channelInput)
        return (channelInput, 0)
    }

    /// Forward pass of samples start ..< start + n of the loaded batch.
    private func runForward(from start: Int, count n: Int) {
        var (x, offset) = sliceInput(from: start, count: n)
        for layer in layers {
            layer.forward(input: x, inputOffset: offset, batch: n, parameters: parameters)
            x = layer.output
            offset = 0
        }
    }

    /// Backward pass of samples start ..< start + n, whose forward pass ran last; `logitGradient`
    /// holds its dLogits. Stops at the first stage with parameters (its input needs no gradient).
    private func runBackward(from start: Int, count n: Int, accumulate: Bool) {
        var dOut = logitGradient
        for k in stride(from: layers.count - 1, through: firstTrainable, by: -1) {
            let (x, offset) = k > 0 ? (layers[k - 1].output, 0)
                : (channelInput ?? input, channelInput == nil ? start * architecture.inputHeight * architecture.inputWidth : 0)
            layers[k].backward(input: x, inputOffset: offset, outputGradient: dOut, batch: n, parameters: parameters,
                               gradients: gradients, accumulate: accumulate)
            guard k > firstTrainable, let dInput = layers[k].dInput else { break }
            dOut = dInput
        }
    }

    /// Mean loss and accuracy over the whole set, in order, in batches of `batchSize` (≤ maxBatch).
    public func evaluate(_ data: Dataset, batchSize: Int? = nil) -> (loss: Double, accuracy: Double) {
        let size = batchSize ?? maxBatch
        precondition(size > 0 && size <= maxBatch, "evaluation batch \(size) out of 1...\(maxBatch)")
        precondition(data.count > 0, "cannot evaluate on the empty data set \(data.name)")
        var lossSum = 0.0
        var correct = 0
        var start = 0
        while start < data.count {
            let end = min(start + size, data.count)
            loadBatch(data, range: start..<end)
            let (loss, right) = forward()
            lossSum += loss * Double(end - start)
            correct += right
            start = end
        }
        return (lossSum / Double(data.count), Double(correct) / Double(data.count))
    }
}
