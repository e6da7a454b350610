import Kernels

/// How a conv's product with its weights is computed.
public enum ConvAlgorithm: Sendable {
    /// im2col + one GEMM of depth IC·KH·KW.
    case direct
    /// Winograd F(2×2, 3×3) (Kernels/Winograd.swift): 16 GEMMs of depth IC over transformed 2×2
    /// output tiles, 4 multiplications per output and channel pair instead of 9 (4.6 on a 13×13
    /// output, whose last tile row and column are half outside).
    case winograd

    /// A 3×3 conv runs by Winograd from this many input channels (with fewer its 16 GEMMs of depth
    /// IC are too shallow) and from this much work per sample, IC × OH·OW (below it the tiles are
    /// too few for the transforms and 48 small GEMMs to pay off). Measured on one conv stage with 64
    /// outputs and slices of 8 (`NetworkBenchmarkTests.convAlgorithms`, AVX2), direct ÷ Winograd
    /// time: IC 4 on 13×13 outputs 0.84, IC 8 on 8×8 0.95, IC 8 on 13×13 1.10, IC 16 on 8×8 1.16,
    /// IC 32 on 4×4 0.84, on 5×5 0.96, on 7×7 1.14, on 13×13 1.49, IC 64 on 4×4 1.04.
    public static let winogradMinimumChannels = 8
    public static let winogradMinimumWork = 1_000

    /// Winograd for 3×3 kernels past both minimums, else direct.
    public static func preferred(for g: ConvGeometry) -> ConvAlgorithm {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.channels >= winogradMinimumChannels
            && g.channels * g.outputPixels >= winogradMinimumWork ? .winograd : .direct
    }
}

/// The linear part of a valid conv over a slice of samples, out (OC, N, OH, OW) = W ∗ input
/// (no bias), and its two adjoints, for `ConvBlock` and `ConvLayer`. Every workspace is allocated
/// once for `maxBatch` samples.
///   direct:   col [IC·KH·KW × N·OH·OW] = im2col(input), out = W · col;
///             dW = dOut · colᵀ, dCol = Wᵀ · dOut (over col), dInput = col2im(dCol).
///   winograd: V_ξ = input tiles, U_ξ = filters, M_ξ = U_ξ · V_ξ, out = output transform of M;
///             dM = its adjoint of dOut (over M), dUᵀ_ξ = V_ξ · dM_ξᵀ, dW from dUᵀ;
///             dV_ξ = U_ξᵀ · dM_ξ (over V), dInput from dV.
final class ConvProduct {
    let geometry: ConvGeometry
    let outChannels: Int
    let algorithm: ConvAlgorithm
    // direct: col [K × maxBatch·OH·OW]; holds dCol during backward.
    let col: Buffer
    // winograd: V [16][IC × T] (then dV) and M [16][OC × T] (then dM), T = batch · tiles per
    // image; U [16][OC × IC] from the weights, and dUᵀ [16][IC × OC].
    let inputTiles, outputTiles, filters, filterGradients: Buffer

    /// `algorithm` nil takes `ConvAlgorithm.preferred(for:)`.
    init(geometry g: ConvGeometry, outChannels: Int, maxBatch: Int, algorithm: ConvAlgorithm? = nil) {
        let chosen = algorithm ?? .preferred(for: g)
        precondition(chosen == .direct || (g.kernelHeight == 3 && g.kernelWidth == 3),
                     "Winograd needs a 3×3 kernel, got \(g)")
        (geometry, self.outChannels, self.algorithm) = (g, outChannels, chosen)
        let none = Buffer(count: 0)
        switch chosen {
        case .direct:
            col = Buffer(count: g.patchSize * maxBatch * g.outputPixels)
            (inputTiles, outputTiles, filters, filterGradients) = (none, none, none, none)
        case .winograd:
            let tiles = WinogradTiles(g)
            col = none
            inputTiles = Buffer(count: tiles.count(channels: g.channels, batch: maxBatch))
            outputTiles = Buffer(count: tiles.count(channels: outChannels, batch: maxBatch))
            filters = Buffer(count: 16 * outChannels * g.channels)
            filterGradients = Buffer(count: 16 * outChannels * g.channels)
        }
    }

    /// out (OC, N, OH, OW) = W ∗ input for `n` samples of `input` (IC, N, H, W) from `inputOffset`,
    /// with W [OC][IC][KH][KW] at `weightOffset` of `parameters`.
    func forward(input: Buffer, inputOffset: Int, batch n: Int, parameters: Buffer, weightOffset: Int,
                 into out: Buffer) {
        let g = geometry
        switch algorithm {
        case .direct:
            let columns = n * g.outputPixels
            im2col(input, inputOffset: inputOffset, g, batch: n, into: col)
            gemm(weights(parameters, weightOffset), Matrix(col, rows: g.patchSize, columns: columns),
                 into: Matrix(out, rows: outChannels, columns: columns))
        case .winograd:
            winogradFilters(parameters, offset: weightOffset, outChannels: outChannels, inChannels: g.channels,
                            into: filters)
            winogradInput(input, inputOffset: inputOffset, g, batch: n, into: inputTiles)
            for xi in 0..<16 {   // M_ξ = U_ξ · V_ξ
                gemm(filterPlane(xi, of: filters), tilePlane(xi, of: inputTiles, rows: g.channels, batch: n),
                     into: tilePlane(xi, of: outputTiles, rows: outChannels, batch: n))
            }
            winogradOutput(outputTiles, channels: outChannels, g, batch: n, into: out)
        }
    }

    /// From dOut (OC, N, OH, OW): dW written to (with `accumulate` added to) `gradients` at
    /// `weightOffset`, and dInput (IC, N, H, W) overwritten when given. Follows `forward` on the
    /// same slice and consumes its workspaces.
    func backward(outputGradient dOut: Buffer, batch n: Int, parameters: Buffer, weightOffset: Int,
                  gradients: Buffer, accumulate: Bool, inputGradient dInput: Buffer?) {
        let g = geometry
        switch algorithm {
        case .direct:
            let columns = n * g.outputPixels
            let dOutMatrix = Matrix(dOut, rows: outChannels, columns: columns)
            let colMatrix = Matrix(col, rows: g.patchSize, columns: columns)
            gemm(dOutMatrix, colMatrix, .transposed, into: weights(gradients, weightOffset), beta: accumulate ? 1 : 0)
            guard let dInput else { return }
            gemm(weights(parameters, weightOffset), .transposed, dOutMatrix, into: colMatrix)   // dCol over col
            col2im(col, g, batch: n, into: dInput)
        case .winograd:
            let (ic, oc) = (g.channels, outChannels)
            winogradOutputGradient(dOut, channels: oc, g, batch: n, into: outputTiles)   // dM over M
            for xi in 0..<16 {   // dUᵀ_ξ = V_ξ · dM_ξᵀ
                gemm(tilePlane(xi, of: inputTiles, rows: ic, batch: n),
                     tilePlane(xi, of: outputTiles, rows: oc, batch: n), .transposed,
                     into: filterGradientPlane(xi))
            }
            winogradFilterGradient(filterGradients, outChannels: oc, inChannels: ic, into: gradients,
                                   offset: weightOffset, accumulate: accumulate)
            guard let dInput else { return }
            for xi in 0..<16 {   // dV_ξ = U_ξᵀ · dM_ξ, over V
                gemm(filterPlane(xi, of: filters), .transposed, tilePlane(xi, of: outputTiles, rows: oc, batch: n),
                     into: tilePlane(xi, of: inputTiles, rows: ic, batch: n))
            }
            winogradInputGradient(inputTiles, g, batch: n, into: dInput)
        }
    }

    /// W [OC × IC·KH·KW] at `offset` of `buffer`.
    private func weights(_ buffer: Buffer, _ offset: Int) -> Matrix {
        Matrix(buffer, offset: offset, rows: outChannels, columns: geometry.patchSize)
    }

    /// Plane ξ of U: [OC × IC].
    func filterPlane(_ xi: Int, of buffer: Buffer) -> Matrix {
        Matrix(buffer, offset: xi * outChannels * geometry.channels, rows: outChannels, columns: geometry.channels)
    }

    /// Plane ξ of dUᵀ: [IC × OC].
    func filterGradientPlane(_ xi: Int) -> Matrix {
        Matrix(filterGradients, offset: xi * outChannels * geometry.channels, rows: geometry.channels,
               columns: outChannels)
    }

    /// Plane ξ of a transformed tensor of `rows` channels over `n` samples: [rows × n·tiles].
    func tilePlane(_ xi: Int, of buffer: Buffer, rows: Int, batch n: Int) -> Matrix {
        let tiles = WinogradTiles(geometry)
        return Matrix(buffer, offset: xi * tiles.planeStride(channels: rows, batch: n), rows: rows,
                      columns: n * tiles.perImage)
    }
}
