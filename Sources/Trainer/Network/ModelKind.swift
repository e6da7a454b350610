import Cell
import Kernels

extension ModelKind {
    /// The layer shapes of this model for 28×28 single-channel inputs and 10 classes.
    public var architecture: Architecture {
        switch self {
        case .lenet816: return Architecture(convChannels: [8, 16], kernel: 5, hidden: [])
        case .lenet48: return Architecture(convChannels: [4, 8], kernel: 5, hidden: [])
        case .cnn3264: return Architecture(convChannels: [32, 64], kernel: 3, hidden: [128])
        }
    }
}

/// One convolution stage: valid conv (stride 1) → + bias → ReLU → max-pool 2×2 stride 2.
public struct ConvSpec: Sendable, Hashable, Codable {
    public let geometry: ConvGeometry
    public let outChannels: Int

    /// Height and width after pooling (floor for odd sizes).
    public var pooledHeight: Int { geometry.outHeight / 2 }
    public var pooledWidth: Int { geometry.outWidth / 2 }
    public var weightCount: Int { outChannels * geometry.patchSize }
}

/// One dense layer: out = W x + b, then ReLU unless it is the output layer.
public struct DenseSpec: Sendable, Hashable, Codable {
    public let inputs: Int
    public let outputs: Int
    public let relu: Bool

    public var weightCount: Int { outputs * inputs }
}

/// Conv stages followed by dense layers, as every ThermoSweep model is built.
public struct Architecture: Sendable, Hashable, Codable {
    public let inputHeight: Int
    public let inputWidth: Int
    public let classes: Int
    public let convs: [ConvSpec]
    public let denses: [DenseSpec]

    /// Conv stages with `convChannels` output channels and square `kernel`s on 28×28×1 input, then
    /// dense layers of widths `hidden` (with ReLU) and a final dense layer to 10 classes.
    public init(convChannels: [Int], kernel: Int, hidden: [Int], height: Int = 28, width: Int = 28, classes: Int = 10) {
        var convs: [ConvSpec] = []
        var (c, h, w) = (1, height, width)
        for oc in convChannels {
            let spec = ConvSpec(geometry: ConvGeometry(channels: c, height: h, width: w,
                                                       kernelHeight: kernel, kernelWidth: kernel),
                                outChannels: oc)
            convs.append(spec)
            (c, h, w) = (oc, spec.pooledHeight, spec.pooledWidth)
        }
        var denses: [DenseSpec] = []
        var inputs = c * h * w
        for width in hidden {
            denses.append(DenseSpec(inputs: inputs, outputs: width, relu: true))
            inputs = width
        }
        denses.append(DenseSpec(inputs: inputs, outputs: classes, relu: false))
        self.inputHeight = height
        self.inputWidth = width
        self.classes = classes
        self.convs = convs
        self.denses = denses
    }

    /// Number of trainable parameters.
    public var parameterCount: Int {
        convs.reduce(0) { $0 + $1.weightCount + $1.outChannels } + denses.reduce(0) { $0 + $1.weightCount + $1.outputs }
    }

    /// Floating-point operations of the GEMMs of one training step (forward + backward) per sample:
    /// 2·M·N·K for the forward product, the weight gradient and, except for the first layer (whose
    /// input needs no gradient), the input gradient. Elementwise work (pooling, ReLU, softmax) is
    /// not counted; it is under 1 % of the total.
    public var flopsPerSample: Int {
        var total = 0
        for (i, conv) in convs.enumerated() {
            let product = 2 * conv.outChannels * conv.geometry.patchSize * conv.geometry.outputPixels
            total += product * (i == 0 ? 2 : 3)
        }
        for (i, dense) in denses.enumerated() {
            let product = 2 * dense.outputs * dense.inputs
            total += product * (i == 0 && convs.isEmpty ? 2 : 3)
        }
        return total
    }

    /// Parameter groups in the flat-vector order: conv1.weight, conv1.bias, conv2..., dense1.weight, ...
    public var groups: [ParameterGroup] {
        var groups: [ParameterGroup] = []
        var offset = 0
        func add(_ name: String, _ count: Int, filters: Int = 0) {
            groups.append(ParameterGroup(name: name, range: offset..<(offset + count), filterCount: filters))
            offset += count
        }
        for (i, conv) in convs.enumerated() {
            add("conv\(i + 1).weight", conv.weightCount, filters: conv.outChannels)
            add("conv\(i + 1).bias", conv.outChannels)
        }
        for (i, dense) in denses.enumerated() {
            add("dense\(i + 1).weight", dense.weightCount)
            add("dense\(i + 1).bias", dense.outputs)
        }
        return groups
    }
}
