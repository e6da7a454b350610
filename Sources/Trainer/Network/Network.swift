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
/// Flat layout (llm.c style): conv1.weight [OC][IC][KH][KW], conv1.bias, conv2.weight, conv2.bias,
/// dense1.weight [O][I], dense1.bias, ...; `groups` names each range.
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

    /// The conv stages and dense layers, in order (their workspaces hold up to `sliceSize` samples).
    public let convs: [ConvBlock]
    public let denses: [DenseLayer]
    // input (1, maxBatch, 28, 28): with one channel, N×1×H×W is already channel-major, and any
    // run of samples is a contiguous slice.
    let input: Buffer
    // Below, S = sliceSize.
    // features [S × C·PH·PW], the flattened output of the last conv stage in PyTorch order.
    let features: Buffer
    // dFeatures in channel-major (C, S, PH, PW) for the last conv stage.
    let featureGradient: Buffer
    // dLogits [S × classes].
    let logitGradient: Buffer
    // labels of the loaded batch; only its first `batchSize` entries are used.
    var labels: [Int32]

    /// Number of parameters.
    public var parameterCount: Int { parameters.count }
    /// GEMM floating-point operations of one training step per sample (see `Architecture.flopsPerSample`).
    public var flopsPerSample: Int { architecture.flopsPerSample }

    /// A network with He-normal weights (N(0, 2/fan_in)) and zero biases, drawn from
    /// `SeededRNG(seed:)` in flat parameter order, so the same seed gives bit-identical parameters.
    /// `sliceSize` defaults to `Network.defaultSliceSize(for:)` (capped at maxBatch).
    public init(model: ModelKind, seed: UInt64, maxBatch: Int, sliceSize: Int? = nil) {
        precondition(maxBatch > 0, "maxBatch must be positive, got \(maxBatch)")
        precondition((sliceSize ?? 1) > 0, "sliceSize must be positive, got \(sliceSize ?? 0)")
        self.model = model
        let arch = model.architecture
        architecture = arch
        self.maxBatch = maxBatch
        let slice = min(sliceSize ?? Network.defaultSliceSize(for: arch), maxBatch)
        self.sliceSize = slice
        let count = arch.parameterCount
        parameters = Buffer(count: count)
        gradients = Buffer(count: count)
        groups = arch.groups

        var offset = 0
        var convs: [ConvBlock] = []
        for (i, spec) in arch.convs.enumerated() {
            let block = ConvBlock(spec: spec, maxBatch: slice, parameterOffset: offset, needsInputGradient: i > 0)
            convs.append(block)
            offset = block.biasRange.upperBound
        }
        var denses: [DenseLayer] = []
        for spec in arch.denses {
            let layer = DenseLayer(spec: spec, maxBatch: slice, parameterOffset: offset)
            denses.append(layer)
            offset = layer.biasRange.upperBound
        }
        precondition(offset == count, "layer ranges cover \(offset) of \(count) parameters")
        // Slicing the input batch by sample offset needs a single input channel.
        precondition(arch.convs.first?.geometry.channels == 1, "the first conv layer must read one channel")
        self.convs = convs
        self.denses = denses
        input = Buffer(count: maxBatch * arch.inputHeight * arch.inputWidth)
        let featureCount = arch.denses[0].inputs
        features = Buffer(count: slice * featureCount)
        featureGradient = Buffer(count: slice * featureCount)
        logitGradient = Buffer(count: slice * arch.classes)
        labels = [Int32](repeating: 0, count: maxBatch)

        Network.initialize(parameters, architecture: arch, seed: seed)
    }

    /// He-normal weights and zero biases, drawn in flat order.
    static func initialize(_ parameters: Buffer, architecture arch: Architecture, seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        var offset = 0
        func fill(weights: Int, fanIn: Int, biases: Int) {
            let std = (2.0 / Double(fanIn)).squareRoot()
            for i in 0..<weights { parameters[offset + i] = Float(rng.normal() * std) }
            offset += weights
            for i in 0..<biases { parameters[offset + i] = 0 }
            offset += biases
        }
        for conv in arch.convs {
            fill(weights: conv.weightCount, fanIn: conv.geometry.patchSize, biases: conv.outChannels)
        }
        for dense in arch.denses { fill(weights: dense.weightCount, fanIn: dense.inputs, biases: dense.outputs) }
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
        precondition(data.rows == architecture.inputHeight && data.columns == architecture.inputWidth
                     && data.classes <= architecture.classes,
                     "data set \(data.name) is \(data.rows)×\(data.columns) with \(data.classes) classes; "
                     + "\(model.rawValue) needs \(architecture.inputHeight)×\(architecture.inputWidth), "
                     + "≤ \(architecture.classes)")
    }

    // MARK: Forward and backward

    /// Default `sliceSize`: the largest power of two up to 32 whose largest im2col matrix fits in
    /// about 2.5 MB (near the L2 + part of L3 that one core uses well on Zen 4 / Skylake-X).
    /// Measured: lenet-8-16 → 32 (16 is as fast, 64 is 10 % slower at batch 128), cnn-32-64 → 16
    /// (10-20 % faster than 32 or 64).
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
            if backward { runBackward(count: n, accumulate: start > 0) }
            start += n
        }
        return (lossSum, correct)
    }

    /// Logits [n × classes] of the last forward slice.
    var logits: Buffer { denses[denses.count - 1].output }

    /// Forward pass of samples start ..< start + n of the loaded batch.
    private func runForward(from start: Int, count n: Int) {
        var x = input
        var offset = start * architecture.inputHeight * architecture.inputWidth
        for conv in convs {
            conv.forward(input: x, inputOffset: offset, batch: n, parameters: parameters)
            x = conv.output
            offset = 0
        }
        let last = convs[convs.count - 1].spec
        channelMajorToSampleMajor(x, channels: last.outChannels, batch: n,
                                  size: last.pooledHeight * last.pooledWidth, into: features)
        x = features
        for dense in denses {
            dense.forward(input: x, batch: n, parameters: parameters)
            x = dense.output
        }
    }

    /// Backward pass of the slice whose forward pass ran last; `logitGradient` holds its dLogits.
    private func runBackward(count n: Int, accumulate: Bool) {
        var dOut = logitGradient
        for k in stride(from: denses.count - 1, through: 0, by: -1) {
            let layerInput = k == 0 ? features : denses[k - 1].output
            denses[k].backward(input: layerInput, outputGradient: dOut, batch: n,
                               parameters: parameters, gradients: gradients, accumulate: accumulate)
            dOut = denses[k].inputGradient
        }
        let last = convs[convs.count - 1].spec
        sampleMajorToChannelMajor(dOut, channels: last.outChannels, batch: n,
                                  size: last.pooledHeight * last.pooledWidth, into: featureGradient)
        dOut = featureGradient
        for k in stride(from: convs.count - 1, through: 0, by: -1) {
            convs[k].backward(outputGradient: dOut, batch: n, parameters: parameters, gradients: gradients,
                              accumulate: accumulate)
            if let dInput = convs[k].inputGradient { dOut = dInput }
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
