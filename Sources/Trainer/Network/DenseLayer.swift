import Kernels

/// One dense layer as a forward/backward pair, sample-major:
///   output [N × O] = input [N × I] · Wᵀ + b (then ReLU for hidden layers), W [O × I] as in PyTorch
/// Backward: dW [O × I] = dOutᵀ · input, db = column sums of dOut, dInput [N × I] = dOut · W.
/// Sample-major rows make the softmax rows and the flatten copies contiguous; each product is
/// still one GEMM over the batch.
public final class DenseLayer {
    public let spec: DenseSpec
    public let maxBatch: Int
    /// Where W [O][I] and b [O] live in the flat parameter and gradient buffers.
    public let weightRange, biasRange: Range<Int>
    /// Activations [maxBatch × O] (after ReLU for hidden layers).
    public let output: Buffer
    /// Gradient with respect to the input [maxBatch × I].
    public let inputGradient: Buffer

    public init(spec: DenseSpec, maxBatch: Int, parameterOffset: Int) {
        precondition(maxBatch > 0, "maxBatch must be positive, got \(maxBatch)")
        self.spec = spec
        self.maxBatch = maxBatch
        (weightRange, biasRange) = parameterRanges(at: parameterOffset, weights: spec.weightCount, biases: spec.outputs)
        output = Buffer(count: maxBatch * spec.outputs)
        inputGradient = Buffer(count: maxBatch * spec.inputs)
    }

    /// Computes `output` for the first `batch` rows of `input` [N × I].
    public func forward(input: Buffer, batch n: Int, parameters: Buffer) {
        precondition(n > 0 && n <= maxBatch, "batch \(n) out of 1...\(maxBatch)")
        gemm(Matrix(input, rows: n, columns: spec.inputs), .none,
             Matrix(parameters, offset: weightRange.lowerBound, rows: spec.outputs, columns: spec.inputs), .transposed,
             into: Matrix(output, rows: n, columns: spec.outputs))
        addBias(output, rows: n, columns: spec.outputs, bias: parameters, biasOffset: biasRange.lowerBound,
                relu: spec.relu)
    }

    /// Overwrites this layer's parameter gradients and `inputGradient` from `outputGradient` [N × O]
    /// (taken after the ReLU; it is masked in place for hidden layers). With `accumulate` the
    /// parameter gradients are added to instead.
    public func backward(input: Buffer, outputGradient: Buffer, batch n: Int, parameters: Buffer, gradients: Buffer,
                         accumulate: Bool = false) {
        precondition(n > 0 && n <= maxBatch, "batch \(n) out of 1...\(maxBatch)")
        if spec.relu { reluBackward(activation: output, gradient: outputGradient, count: n * spec.outputs) }
        let dOut = Matrix(outputGradient, rows: n, columns: spec.outputs)
        columnSums(outputGradient, rows: n, columns: spec.outputs, into: gradients, offset: biasRange.lowerBound,
                   accumulate: accumulate)
        gemm(dOut, .transposed, Matrix(input, rows: n, columns: spec.inputs), .none,
             into: Matrix(gradients, offset: weightRange.lowerBound, rows: spec.outputs, columns: spec.inputs),
             beta: accumulate ? 1 : 0)
        let weights = Matrix(parameters, offset: weightRange.lowerBound, rows: spec.outputs, columns: spec.inputs)
        gemm(dOut, .none, weights, .none,
             into: Matrix(inputGradient, rows: n, columns: spec.inputs))
    }
}
