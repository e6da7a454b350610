// The cost model of one training step, in floating-point operations per image: what `bench`
// divides by to give GFLOP/s and % of the machine's peak, and what the Trainer reports.

extension PlacedLayer {
    /// Floating-point operations of this layer's forward product per image (a multiply and an add
    /// count 2): conv 2·K·K·C·OC·OH·OW (C input, OC output channels, OH×OW output pixels), dense
    /// 2·inputs·outputs; 0 for layers without weights (activations and pooling are not counted).
    public var forwardFLOPs: Int {
        switch layer {
        case let .conv(k, oc, _):
            guard case let .image(_, oh, ow) = output else { return 0 }
            return 2 * k * k * input.channels * oc * oh * ow
        case .dense(let n):
            return 2 * input.count * n
        case .relu, .tanh, .maxPool, .avgPool:
            return 0
        }
    }
}

extension Array where Element == PlacedLayer {
    /// Floating-point operations of one training step per image (forward + backward): each layer
    /// with weights runs its forward product, the same again for its weight gradient and again for
    /// its input gradient, so 3× `forwardFLOPs`, except the first layer with weights, whose input
    /// (the image) needs no gradient: 2×. Activations, pooling, the loss and the SGD update are not
    /// counted (under 1 % for the built-in models). cifar-cnn on 3×32×32: 23,577,600.
    public var trainingFLOPsPerImage: Int {
        var total = 0
        var first = true
        for layer in self where layer.layer.hasParameters {
            total += layer.forwardFLOPs * (first ? 2 : 3)
            first = false
        }
        return total
    }
}
