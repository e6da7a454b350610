// The SGD update rule, plain and with momentum, on hand-computed examples.
import Foundation
import Kernels
import Testing
@testable import Trainer

@Suite("SGD")
struct SGDTests {
    @Test("plain step: Δ = −η g, θ += Δ, update is the Δ added")
    func plain() {
        let theta = Buffer([1, 2, -3])
        let sgd = SGD(config: SGDConfig(learningRate: 0.5), parameterCount: 3)
        sgd.step(parameters: theta, gradients: Buffer([0.5, -1, 0]))
        #expect(theta.array == [0.75, 2.5, -3])
        #expect(sgd.update.array == [-0.25, 0.5, 0])
    }

    @Test("momentum: v ← m v + g, Δ = −η v, two steps by hand")
    func momentum() {
        // η = 0.5, m = 0.5 (exact in binary). θ0 = (0, 1).
        // Step 1, g = (1, −2):  v = (1, −2),               Δ = (−0.5, 1),      θ = (−0.5, 2).
        // Step 2, g = (0.5, 0): v = 0.5·(1, −2) + (0.5, 0) = (1, −1), Δ = (−0.5, 0.5), θ = (−1, 2.5).
        let theta = Buffer([0, 1])
        let sgd = SGD(config: SGDConfig(learningRate: 0.5, momentum: 0.5), parameterCount: 2)
        sgd.step(parameters: theta, gradients: Buffer([1, -2]))
        #expect(sgd.update.array == [-0.5, 1])
        #expect(theta.array == [-0.5, 2])
        sgd.step(parameters: theta, gradients: Buffer([0.5, 0]))
        #expect(sgd.update.array == [-0.5, 0.5])
        #expect(theta.array == [-1, 2.5])
    }

    @Test("momentum with inexact η, m: matches the Double recursion; θ_after = θ_before + update exactly")
    func momentumInexact() {
        let n = 37   // SIMD body and scalar tail
        let g1 = randomDoubles(n, seed: 1).map { Float($0) }, g2 = randomDoubles(n, seed: 2).map { Float($0) }
        let theta0 = randomDoubles(n, seed: 3).map { Float($0) }
        let theta = Buffer(theta0)
        let sgd = SGD(config: SGDConfig(learningRate: 0.1, momentum: 0.9), parameterCount: n)
        sgd.step(parameters: theta, gradients: Buffer(g1))
        let before = theta.array
        sgd.step(parameters: theta, gradients: Buffer(g2))
        for i in 0..<n {
            #expect(theta[i] == before[i] + sgd.update[i])
            let v = 0.9 * Double(g1[i]) + Double(g2[i])
            let expected = Double(theta0[i]) - 0.1 * Double(g1[i]) - 0.1 * v
            #expect(abs(Double(theta[i]) - expected) < 1e-6)
        }
    }

    @Test("config is Codable and the network entry point steps its parameters")
    func network() throws {
        let config = SGDConfig(learningRate: 0.05, momentum: 0.9)
        let decoded = try JSONDecoder().decode(SGDConfig.self, from: try JSONEncoder().encode(config))
        #expect(decoded == config)
        #expect(SGDConfig(learningRate: 0.1).momentum == 0)

        let net = Network(model: .lenet48, seed: 1, maxBatch: 4)
        let data = randomDataset(count: 4, seed: 2)
        net.loadBatch(data, indices: [0, 1, 2, 3])
        _ = net.forwardBackward()
        let theta = net.snapshot(), g = net.gradients.array
        let sgd = SGD(config: SGDConfig(learningRate: 0.1), parameterCount: net.parameterCount)
        sgd.step(net)
        for i in 0..<net.parameterCount {
            #expect(sgd.update[i] == -0.1 * g[i])
            #expect(net.parameters[i] == theta[i] + sgd.update[i])
        }
    }
}
