// The network a cell trains, as a layer list: `conv5x5:8,relu,maxpool2,conv5x5:16,relu,maxpool2,dense:10`.
// Parsing and the shape check live here, in the cell contract, so `train`, `sweep`, the coordinator
// and the worker refuse exactly the same lists with the same words. Trainer builds the layers.

/// One layer of a model (docs/METHOD.md, 2).
public enum Layer: Hashable, Sendable {
    /// `convKxK:C` (valid padding) or `convKxK:C:same`: a K×K convolution, stride 1, to C channels, + bias.
    case conv(kernel: Int, channels: Int, same: Bool)
    case relu
    case tanh
    /// `maxpoolK`: max over K×K windows, stride K (a last row or column that fits no window is dropped).
    case maxPool(Int)
    /// `avgpoolK`: mean over K×K windows, stride K.
    case avgPool(Int)
    /// `dense:N`: N outputs, W x + b; flattens an image input (channel, row, column order).
    case dense(Int)

    /// The layer as written in a list: `conv3x3:32`, `conv3x3:32:same`, `maxpool2`, `dense:10`.
    public var text: String {
        switch self {
        case let .conv(k, c, same): return "conv\(k)x\(k):\(c)" + (same ? ":same" : "")
        case .relu: return "relu"
        case .tanh: return "tanh"
        case .maxPool(let k): return "maxpool\(k)"
        case .avgPool(let k): return "avgpool\(k)"
        case .dense(let n): return "dense:\(n)"
        }
    }

    /// Whether the layer has weights and biases.
    public var hasParameters: Bool {
        switch self {
        case .conv, .dense: return true
        case .relu, .tanh, .maxPool, .avgPool: return false
        }
    }
}

/// The shape of a tensor between layers, per sample: an image C×H×W or a flat vector.
public enum TensorShape: Hashable, Sendable, CustomStringConvertible {
    case image(channels: Int, height: Int, width: Int)
    case flat(Int)

    /// Elements per sample.
    public var count: Int {
        switch self {
        case let .image(c, h, w): return c * h * w
        case .flat(let n): return n
        }
    }

    /// `3×32×32` or `120`.
    public var description: String {
        switch self {
        case let .image(c, h, w): return "\(c)×\(h)×\(w)"
        case .flat(let n): return "\(n)"
        }
    }
}

/// One layer of a model placed on an input: its position (1-based), its shapes and its parameter
/// group names (`conv1`, `dense2`: numbered per kind in list order).
public struct PlacedLayer: Hashable, Sendable {
    public let layer: Layer
    /// 1-based position in the list.
    public let position: Int
    public let input: TensorShape
    public let output: TensorShape
    /// `conv1`, `dense2`, ... for layers with parameters; nil otherwise.
    public let groupName: String?

    /// Weights (conv: OC·IC·K·K; dense: N·inputs).
    public var weightCount: Int {
        switch layer {
        case let .conv(k, c, _): return c * input.channels * k * k
        case .dense(let n): return n * input.count
        default: return 0
        }
    }

    /// Biases (one per output channel or output).
    public var biasCount: Int {
        switch layer {
        case let .conv(_, c, _): return c
        case .dense(let n): return n
        default: return 0
        }
    }
}

extension TensorShape {
    /// Channels of an image; 1 for a flat vector.
    public var channels: Int {
        if case let .image(c, _, _) = self { return c }
        return 1
    }
}

/// A layer list refused: names the layer (and its position) and the shapes, and says what to do.
public struct ModelError: Error, Equatable, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The network a cell trains: a built-in name (an alias of a fixed layer list) or a layer list.
/// Encoded as its text: a built-in name stays its name (`lenet-8-16`), so grids and result records
/// of the built-in models are unchanged; a list is recorded in its canonical spelling, so a journal
/// says exactly what was trained.
public struct ModelKind: Hashable, Sendable, RawRepresentable, Codable, CustomStringConvertible {
    /// The built-in name, or the canonical layer list.
    public let rawValue: String
    public let layers: [Layer]

    /// conv 5×5 1→8 → ReLU → pool → conv 5×5 8→16 → ReLU → pool → dense 256→10 (5,994 parameters on 1×28×28).
    public static let lenet816 = ModelKind(alias: "lenet-8-16", "conv5x5:8,relu,maxpool2,conv5x5:16,relu,maxpool2,dense:10")
    /// The same with 4 and 8 channels (2,202 parameters), for quick runs and tests.
    public static let lenet48 = ModelKind(alias: "lenet-4-8", "conv5x5:4,relu,maxpool2,conv5x5:8,relu,maxpool2,dense:10")
    /// conv 3×3 1→32 → ReLU → pool → conv 3×3 32→64 → ReLU → pool → dense 1600→128 → ReLU →
    /// dense 128→10 (225,034 parameters on 1×28×28); the speed reference.
    public static let cnn3264 = ModelKind(alias: "cnn-32-64",
                                          "conv3x3:32,relu,maxpool2,conv3x3:64,relu,maxpool2,dense:128,relu,dense:10")
    /// The same layers for CIFAR-10's 3×32×32 inputs (315,722 parameters, ≈ 24 MFLOP per training image).
    public static let cifarCNN = ModelKind(alias: "cifar-cnn",
                                           "conv3x3:32,relu,maxpool2,conv3x3:64,relu,maxpool2,dense:128,relu,dense:10")

    /// The built-in names, in help order.
    public static let builtIns: [ModelKind] = [.lenet816, .lenet48, .cnn3264, .cifarCNN]
    /// The built-in models (`builtIns`).
    public static var allCases: [ModelKind] { builtIns }

    /// The names, for help texts and error messages: `lenet-8-16, lenet-4-8, cnn-32-64, cifar-cnn`.
    public static var names: String { builtIns.map(\.rawValue).joined(separator: ", ") }

    /// What `--model` accepts, for help texts.
    public static let help = "Network: \(names), or a layer list such as "
        + "conv5x5:8,relu,maxpool2,conv5x5:16,relu,maxpool2,dense:10 (layers convKxK:C[:same], relu, tanh, "
        + "maxpoolK, avgpoolK, dense:N)."

    /// Limits of one layer, so that a typo cannot ask for terabytes.
    public static let maxKernel = 15
    public static let maxChannels = 1_024
    public static let maxPool = 16
    public static let maxDenseWidth = 65_536
    public static let maxLayers = 64
    /// Most parameters of a model (400 MB of Float32 weights and as much again for gradients).
    public static let maxParameters = 100_000_000

    private init(alias: String, _ list: String) {
        rawValue = alias
        do { layers = try ModelKind.parse(list) } catch { preconditionFailure("built-in \(alias): \(error)") }
    }

    /// The built-in model named `name`, or the layer list `text`; nil when neither parses.
    public init?(rawValue: String) {
        guard let model = try? ModelKind(parsing: rawValue) else { return nil }
        self = model
    }

    /// A built-in name or a layer list; throws naming the first layer that does not parse.
    public init(parsing text: String) throws(ModelError) {
        let trimmed = text.trimmingSpaces
        if let builtIn = ModelKind.builtIns.first(where: { $0.rawValue == trimmed }) {
            self = builtIn
            return
        }
        self.init(layers: try ModelKind.parse(trimmed))
    }

    /// The layer list `layers`, named by its canonical text.
    public init(layers: [Layer]) {
        self.layers = layers
        rawValue = layers.map(\.text).joined(separator: ",")
    }

    /// The canonical layer list (`conv5x5:8,relu,...`), also for a built-in name.
    public var layerList: String { layers.map(\.text).joined(separator: ",") }

    /// Whether this is a built-in name rather than a list.
    public var isBuiltIn: Bool { ModelKind.builtIns.contains(self) }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { self = try ModelKind(parsing: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    // MARK: Parsing

    /// The layers of a comma-separated list; throws naming the first bad layer.
    static func parse(_ text: String) throws(ModelError) -> [Layer] {
        guard !text.isEmpty else {
            throw ModelError("the model is empty: give one of \(names), or a layer list such as conv5x5:8,relu,maxpool2,dense:10.")
        }
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        guard items.count <= maxLayers else {
            throw ModelError("the layer list has \(items.count) layers: give at most \(maxLayers).")
        }
        let kinds = ["conv", "maxpool", "avgpool", "dense:", "relu", "tanh"]
        if items.count == 1 && !kinds.contains(where: { text.hasPrefix($0) }) {
            throw ModelError("unknown model '\(text)': give one of \(names), or a layer list such as "
                             + "conv5x5:8,relu,maxpool2,dense:10 (layers convKxK:C[:same], relu, tanh, maxpoolK, "
                             + "avgpoolK, dense:N).")
        }
        var layers: [Layer] = []
        for (i, item) in items.enumerated() {
            layers.append(try parseLayer(item, position: i + 1, text: text))
        }
        return layers
    }

    private static func parseLayer(_ item: String, position: Int, text: String) throws(ModelError) -> Layer {
        func bad(_ why: String) -> ModelError {
            ModelError("layer \(position) '\(item)' of '\(text)' \(why)")
        }
        func number(_ s: Substring, _ name: String, _ range: ClosedRange<Int>) throws(ModelError) -> Int {
            guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(s) else {
                throw bad("has no whole number for its \(name): write e.g. conv3x3:32, maxpool2, dense:10.")
            }
            guard range.contains(n) else {
                throw bad("has \(name) \(n): give \(range.lowerBound) to \(range.upperBound).")
            }
            return n
        }
        if item.isEmpty {
            throw ModelError("layer \(position) of '\(text)' is empty: separate layers by single commas.")
        }
        switch item {
        case "relu": return .relu
        case "tanh": return .tanh
        default: break
        }
        if item.hasPrefix("maxpool") {
            return .maxPool(try number(item.dropFirst(7), "pool size", 1...maxPool))
        }
        if item.hasPrefix("avgpool") {
            return .avgPool(try number(item.dropFirst(7), "pool size", 1...maxPool))
        }
        if item.hasPrefix("dense:") {
            return .dense(try number(item.dropFirst(6), "width", 1...maxDenseWidth))
        }
        if item.hasPrefix("conv") {
            let parts = item.dropFirst(4).split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 || parts.count == 3 else {
                throw bad("is not a conv layer: write convKxK:C or convKxK:C:same, e.g. conv3x3:32.")
            }
            let sizes = parts[0].split(separator: "x", omittingEmptySubsequences: false)
            guard sizes.count == 2 else { throw bad("has no kernel size KxK: write e.g. conv3x3:32.") }
            let kh = try number(sizes[0], "kernel size", 1...maxKernel)
            let kw = try number(sizes[1], "kernel size", 1...maxKernel)
            guard kh == kw else { throw bad("has a \(kh)x\(kw) kernel: kernels are square, e.g. conv\(kh)x\(kh).") }
            let channels = try number(parts[1], "channel count", 1...maxChannels)
            var same = false
            if parts.count == 3 {
                switch parts[2] {
                case "same": same = true
                case "valid": same = false
                default: throw bad("has padding '\(parts[2])': write :same, or nothing for valid padding.")
                }
            }
            return .conv(kernel: kh, channels: channels, same: same)
        }
        throw bad("is not a layer: use convKxK:C[:same], relu, tanh, maxpoolK, avgpoolK or dense:N.")
    }

    // MARK: Shapes

    /// Places every layer on images of shape `input` for `classes` classes; throws when the list
    /// does not fit (a kernel or pool larger than its input, a conv or pool after a dense layer, a
    /// last layer that is not `dense:classes`, too many parameters), naming the layer and the shapes.
    public func placed(input: TensorShape, classes: Int) throws(ModelError) -> [PlacedLayer] {
        guard case let .image(c0, h0, w0) = input, c0 > 0, h0 > 0, w0 > 0 else {
            throw ModelError("model \(rawValue) needs image inputs, got \(input).")
        }
        var shape = input
        var placed: [PlacedLayer] = []
        var convs = 0, denses = 0, parameters = 0
        for (i, layer) in layers.enumerated() {
            let name = "layer \(i + 1) '\(layer.text)' of model \(rawValue)"
            var group: String?
            let output: TensorShape
            switch layer {
            case let .conv(k, oc, same):
                guard case let .image(_, h, w) = shape else {
                    throw ModelError("\(name) needs an image input, but its input is the flat vector of \(shape) "
                                     + "that a dense layer gives: put conv and pool layers before the dense ones.")
                }
                if same {
                    output = .image(channels: oc, height: h, width: w)
                } else {
                    guard k <= h && k <= w else {
                        throw ModelError("\(name) has a \(k)×\(k) kernel larger than its input \(shape): "
                                         + "use a smaller kernel, :same padding, or fewer pools before it.")
                    }
                    output = .image(channels: oc, height: h - k + 1, width: w - k + 1)
                }
                convs += 1
                group = "conv\(convs)"
            case .maxPool(let k), .avgPool(let k):
                guard case let .image(c, h, w) = shape else {
                    throw ModelError("\(name) needs an image input, but its input is the flat vector of \(shape) "
                                     + "that a dense layer gives: put conv and pool layers before the dense ones.")
                }
                guard k <= h && k <= w else {
                    throw ModelError("\(name) pools \(k)×\(k) windows, larger than its input \(shape): "
                                     + "use a smaller pool or remove it.")
                }
                output = .image(channels: c, height: h / k, width: w / k)
            case .relu, .tanh:
                output = shape
            case .dense(let n):
                output = .flat(n)
                denses += 1
                group = "dense\(denses)"
            }
            let p = PlacedLayer(layer: layer, position: i + 1, input: shape, output: output, groupName: group)
            parameters += p.weightCount + p.biasCount
            guard parameters <= ModelKind.maxParameters else {
                throw ModelError("model \(rawValue) has more than \(ModelKind.maxParameters) parameters at \(name) "
                                 + "(input \(shape), output \(output)): use fewer channels or narrower layers.")
            }
            placed.append(p)
            shape = output
        }
        guard let last = placed.last else { throw ModelError("model \(rawValue) has no layers.") }
        guard case .dense(let n) = last.layer else {
            throw ModelError("the last layer \(last.position) '\(last.layer.text)' of model \(rawValue) (output \(last.output)) "
                             + "is not dense: end the list with dense:\(classes) for the \(classes) classes of the data.")
        }
        guard n == classes else {
            throw ModelError("the last layer \(last.position) '\(last.layer.text)' of model \(rawValue) gives \(n) outputs, "
                             + "but the data has \(classes) classes: end the list with dense:\(classes).")
        }
        return placed
    }

    /// Throws when the model does not fit images of `channels`×`height`×`width` with `classes` classes.
    public func validate(channels: Int, height: Int, width: Int, classes: Int) throws(ModelError) {
        _ = try placed(input: .image(channels: channels, height: height, width: width), classes: classes)
    }
}

extension String {
    /// Without leading and trailing spaces.
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
