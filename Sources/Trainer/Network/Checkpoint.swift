import Cell
import Foundation
import Kernels

/// Why a checkpoint or parameter vector was refused.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case sizeMismatch(model: String, expected: Int, got: Int)
    case modelMismatch(expected: String, got: String)
    case unsupportedVersion(found: Int, supported: Int)
    case nonFinite(index: Int)

    public var description: String {
        switch self {
        case let .sizeMismatch(model, expected, got):
            return "\(model) has \(expected) parameters but the checkpoint holds \(got); "
                + "was it written for another model?"
        case let .modelMismatch(expected, got):
            return "checkpoint is for model \(got), not \(expected); pass --model \(got) or retrain the warm start"
        case let .unsupportedVersion(found, supported):
            return "checkpoint format version \(found) is not supported (this build reads version \(supported)); "
                + "rerun the warm start with this build"
        case let .nonFinite(index):
            return "checkpoint parameter \(index) is NaN or infinite; the warm start diverged"
        }
    }
}

/// A network's parameters with the model they belong to; the warm start of a sweep cell.
public struct Checkpoint: Codable, Sendable, Equatable {
    /// Version of this format; bump when the layout of `parameters` changes.
    public static let formatVersion = 1

    public let formatVersion: Int
    public let model: ModelKind
    /// θ in the network's flat order.
    public let parameters: [Float]

    public init(model: ModelKind, parameters: [Float]) {
        formatVersion = Checkpoint.formatVersion
        self.model = model
        self.parameters = parameters
    }

    /// The current parameters of `network`.
    public init(_ network: Network) {
        self.init(model: network.model, parameters: network.snapshot())
    }

    /// JSON bytes (Float values round-trip exactly); throws `EncodingError` for NaN or infinity.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// Decodes and validates a checkpoint written by `encoded()`.
    public static func decode(_ data: Data) throws -> Checkpoint {
        let checkpoint = try JSONDecoder().decode(Checkpoint.self, from: data)
        guard checkpoint.formatVersion == formatVersion else {
            throw CheckpointError.unsupportedVersion(found: checkpoint.formatVersion, supported: formatVersion)
        }
        // The parameter count depends on the data's image shape too; `restore` checks it against
        // the network it fills.
        guard !checkpoint.parameters.isEmpty else {
            throw CheckpointError.sizeMismatch(model: checkpoint.model.rawValue, expected: 1, got: 0)
        }
        if let bad = checkpoint.parameters.firstIndex(where: { !$0.isFinite }) {
            throw CheckpointError.nonFinite(index: bad)
        }
        return checkpoint
    }
}

extension Network {
    /// A copy of θ.
    public func snapshot() -> [Float] { parameters.array }

    /// Sets θ to `values` (same length as `parameters`).
    public func restore(_ values: [Float]) throws {
        guard values.count == parameterCount else {
            throw CheckpointError.sizeMismatch(model: model.rawValue, expected: parameterCount, got: values.count)
        }
        parameters.copy(from: values)
    }

    /// Sets θ from a checkpoint of the same model.
    public func restore(_ checkpoint: Checkpoint) throws {
        guard checkpoint.model == model else {
            throw CheckpointError.modelMismatch(expected: model.rawValue, got: checkpoint.model.rawValue)
        }
        try restore(checkpoint.parameters)
    }
}
