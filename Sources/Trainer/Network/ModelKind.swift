import Cell
import Kernels

extension ModelKind {
    /// The layers of this model on 1×28×28 inputs with 10 classes (Fashion-MNIST); traps for a
    /// layer list that does not fit them (use `architecture(channels:height:width:classes:)`).
    public var architecture: Architecture {
        do { return try architecture(channels: 1, height: 28, width: 28, classes: 10) } catch {
            preconditionFailure("\(error)")
        }
    }

    /// The layers of this model on `channels`×`height`×`width` inputs with `classes` classes;
    /// throws `ModelError` (naming the layer and the shapes) when the list does not fit.
    public func architecture(channels: Int, height: Int, width: Int, classes: Int) throws(ModelError) -> Architecture {
        let placed = try placed(input: .image(channels: channels, height: height, width: width), classes: classes)
        return Architecture(layers: placed, channels: channels, height: height, width: width, classes: classes)
    }
}

/// One convolution: stride 1 over the input padded by `padBefore` (top, left) and `padAfter`
/// (bottom, right) zeros; `geometry` is that of the padded input.
public struct ConvSpec: Sendable, Hashable, Codable {
    public let geometry: ConvGeometry
    public let outChannels: Int
    public let padBefore: Int
    public let padAfter: Int

    public init(geometry: ConvGeometry, outChannels: Int, padBefore: Int = 0, padAfter: Int = 0) {
        self.geometry = geometry
        self.outChannels = outChannels
        self.padBefore = padBefore
        self.padAfter = padAfter
    }

    /// Height and width after a 2×2 pool (floor for odd sizes), for the fused conv stage.
    public var pooledHeight: Int { geometry.outHeight / 2 }
    public var pooledWidth: Int { geometry.outWidth / 2 }
    public var weightCount: Int { outChannels * geometry.patchSize }
    public var isPadded: Bool { padBefore > 0 || padAfter > 0 }
    /// Height and width of the unpadded input.
    public var inputHeight: Int { geometry.height - padBefore - padAfter }
    public var inputWidth: Int { geometry.width - padBefore - padAfter }
}

/// One dense layer: out = W x + b, then ReLU when `relu` (a dense layer followed by `relu`).
public struct DenseSpec: Sendable, Hashable, Codable {
    public let inputs: Int
    public let outputs: Int
    public let relu: Bool

    public var weightCount: Int { outputs * inputs }
}

/// One stage of a network as it runs: a layer, or layers that run fused.
public enum Stage: Sendable, Hashable {
    /// valid conv → + bias → ReLU → max-pool 2×2 in one kernel (`conv…,relu,maxpool2`): the
    /// built-in models' stage (`ConvBlock`).
    case convBlock(ConvSpec)
    /// conv → + bias.
    case conv(ConvSpec)
    /// ReLU or tanh over `size` values per sample (any layout).
    case relu(size: Int)
    case tanh(size: Int)
    /// K×K max or average pooling of (C, N, H, W).
    case maxPool(window: Int, channels: Int, height: Int, width: Int)
    case avgPool(window: Int, channels: Int, height: Int, width: Int)
    /// (C, N, S) → [N × C·S], before the first dense layer.
    case flatten(channels: Int, size: Int)
    /// Dense layer (with the ReLU that follows it fused when `relu`).
    case dense(DenseSpec)

    /// Whether the stage has parameters.
    var hasParameters: Bool {
        switch self {
        case .convBlock, .conv, .dense: return true
        default: return false
        }
    }
}

/// A model placed on its input: the layers, and the stages that run them.
public struct Architecture: Sendable, Hashable {
    public let inputChannels: Int
    public let inputHeight: Int
    public let inputWidth: Int
    public let classes: Int
    /// The layers of the list with their shapes.
    public let layers: [PlacedLayer]
    /// The stages in order (conv → ReLU → max-pool 2 and dense → ReLU fused).
    public let stages: [Stage]

    init(layers: [PlacedLayer], channels: Int, height: Int, width: Int, classes: Int) {
        inputChannels = channels
        inputHeight = height
        inputWidth = width
        self.classes = classes
        self.layers = layers
        var stages: [Stage] = []
        var i = 0
        while i < layers.count {
            let layer = layers[i]
            let next = i + 1 < layers.count ? layers[i + 1].layer : nil
            let afterNext = i + 2 < layers.count ? layers[i + 2].layer : nil
            switch layer.layer {
            case let .conv(k, oc, same):
                guard case let .image(c, h, w) = layer.input else { preconditionFailure("conv on \(layer.input)") }
                let before = same ? (k - 1) / 2 : 0, after = same ? k - 1 - before : 0
                let spec = ConvSpec(geometry: ConvGeometry(channels: c, height: h + before + after,
                                                           width: w + before + after, kernelHeight: k, kernelWidth: k),
                                    outChannels: oc, padBefore: before, padAfter: after)
                if !same && next == .relu && afterNext == .maxPool(2) {
                    stages.append(.convBlock(spec))
                    i += 3
                    continue
                }
                stages.append(.conv(spec))
            case .relu:
                stages.append(.relu(size: layer.input.count))
            case .tanh:
                stages.append(.tanh(size: layer.input.count))
            case .maxPool(let k), .avgPool(let k):
                guard case let .image(c, h, w) = layer.input else { preconditionFailure("pool on \(layer.input)") }
                if case .maxPool = layer.layer {
                    stages.append(.maxPool(window: k, channels: c, height: h, width: w))
                } else {
                    stages.append(.avgPool(window: k, channels: c, height: h, width: w))
                }
            case .dense(let n):
                if case let .image(c, h, w) = layer.input { stages.append(.flatten(channels: c, size: h * w)) }
                let relu = next == .relu
                stages.append(.dense(DenseSpec(inputs: layer.input.count, outputs: n, relu: relu)))
                if relu { i += 1 }
            }
            i += 1
        }
        self.stages = stages
    }

    /// Every conv layer, in order.
    public var convs: [ConvSpec] {
        stages.compactMap {
            switch $0 {
            case .convBlock(let spec), .conv(let spec): return spec
            default: return nil
            }
        }
    }

    /// Every dense layer, in order.
    public var denses: [DenseSpec] {
        stages.compactMap { if case .dense(let spec) = $0 { return spec } else { return nil } }
    }

    /// Number of trainable parameters.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.weightCount + $1.biasCount } }

    /// Floating-point operations of one training step per sample (`trainingFLOPsPerImage`: forward,
    /// weight gradient and, except for the first layer with parameters, input gradient).
    public var flopsPerSample: Int { layers.trainingFLOPsPerImage }

    /// Parameter groups in the flat-vector order of the list: conv1.weight, conv1.bias, conv2...,
    /// dense1.weight, ... (numbered per kind, in list order).
    public var groups: [ParameterGroup] {
        var groups: [ParameterGroup] = []
        var offset = 0
        for layer in layers {
            guard let name = layer.groupName else { continue }
            var filters = 0
            if case let .conv(_, oc, _) = layer.layer { filters = oc }
            groups.append(ParameterGroup(name: "\(name).weight", range: offset..<(offset + layer.weightCount),
                                         filterCount: filters))
            offset += layer.weightCount
            groups.append(ParameterGroup(name: "\(name).bias", range: offset..<(offset + layer.biasCount), filterCount: 0))
            offset += layer.biasCount
        }
        return groups
    }
}
