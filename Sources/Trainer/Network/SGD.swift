import Kernels

/// Hyper-parameters of plain SGD.
public struct SGDConfig: Codable, Sendable, Hashable {
    /// η.
    public var learningRate: Float
    /// m; 0 (the default) is plain SGD, which the temperature theory assumes.
    public var momentum: Float

    public init(learningRate: Float, momentum: Float = 0) {
        precondition(learningRate > 0 && learningRate.isFinite, "learning rate must be positive, got \(learningRate)")
        precondition(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got \(momentum)")
        (self.learningRate, self.momentum) = (learningRate, momentum)
    }
}

/// Stochastic gradient descent on a network's flat parameter vector.
///
/// Plain: Δ = −η g. With momentum m (PyTorch's convention, no dampening, v starts at 0 so the first
/// step is v = g): v ← m v + g, Δ = −η v. Then θ ← θ + Δ in place, in Float32. `update` holds exactly
/// the Δ that the last step added to θ, so the thermometer can read θ before a step and `update` after.
public final class SGD {
    public let config: SGDConfig
    public let parameterCount: Int
    /// Δ applied in the last step (zero before the first).
    public let update: Buffer
    // v, the momentum buffer (one element when momentum is 0: never touched).
    let velocity: Buffer

    public init(config: SGDConfig, parameterCount: Int) {
        precondition(parameterCount > 0, "parameterCount must be positive, got \(parameterCount)")
        self.config = config
        self.parameterCount = parameterCount
        update = Buffer(count: parameterCount)
        velocity = Buffer(count: config.momentum == 0 ? 1 : parameterCount)
    }

    /// θ ← θ + Δ from the network's current `gradients`.
    public func step(_ network: Network) {
        step(parameters: network.parameters, gradients: network.gradients)
    }

    /// θ ← θ + Δ for any flat parameter and gradient buffers of `parameterCount` elements.
    public func step(parameters: Buffer, gradients: Buffer) {
        precondition(parameters.count == parameterCount && gradients.count == parameterCount,
                     "SGD for \(parameterCount) parameters got buffers of \(parameters.count) and \(gradients.count)")
        sgdStep(parameters: parameters, gradients: gradients, velocity: velocity, update: update,
                count: parameterCount, learningRate: config.learningRate, momentum: config.momentum)
    }
}
