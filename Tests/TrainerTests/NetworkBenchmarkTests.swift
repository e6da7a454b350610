// Training throughput and the time per layer and kernel, in release builds only.
// Run with: TS_BENCH=1 swift test -c release ... --filter NetworkBenchmarkTests
import Cell
import Foundation
import Kernels
import Testing
import TestSupport
@testable import Trainer


private func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// CPU time of the calling thread: on a machine shared with other jobs it counts only our own work
/// (cache and memory-bandwidth contention still show).
private func threadCPUTime() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Time per named section, summed over calls.
private final class Profile {
    var names: [String] = []
    var seconds: [Double] = []
    var isGEMM: [Bool] = []

    func time(_ name: String, gemm: Bool = false, _ body: () -> Void) {
        let start = threadCPUTime()
        body()
        let elapsed = threadCPUTime() - start
        if let i = names.firstIndex(of: name) { seconds[i] += elapsed } else {
            names.append(name); seconds.append(elapsed); isGEMM.append(gemm)
        }
    }
}

@Suite("Network benchmark", .benchmark, .serialized)
struct NetworkBenchmarkTests {
    static let cases: [(ModelKind, Int)] = [(.lenet816, 8), (.lenet816, 32), (.lenet816, 128),
                                            (.cnn3264, 16), (.cnn3264, 64), (.cnn3264, 256)]

    @Test("training images/s (forward + backward + SGD), median of 5; wall and thread CPU time")
    func throughput() {
        let data = randomDataset(count: 2048, seed: 1)
        var lines: [String] = []
        for (model, batch) in Self.cases {
            // TS_SLICE=k overrides the slice size, to choose the default.
            let slice = ProcessInfo.processInfo.environment["TS_SLICE"].flatMap { Int($0) }
            let net = Network(model: model, seed: 1, maxBatch: batch, sliceSize: slice)
            let sgd = SGD(config: SGDConfig(learningRate: 0.01), parameterCount: net.parameterCount)
            var rng = SeededRNG(seed: 2)
            var indices = [Int](repeating: 0, count: batch)
            func step() {
                for k in 0..<batch { indices[k] = rng.int(below: data.count) }
                net.loadBatch(data, indices: indices)
                _ = net.forwardBackward()
                sgd.step(net)
            }
            for _ in 0..<3 { step() }
            // Steps per trial: about 0.3 s of work.
            let probe = now()
            step()
            let steps = max(3, Int(0.3 / max(now() - probe, 1e-6)))
            var rates: [Double] = [], cpuRates: [Double] = []
            for _ in 0..<5 {
                let start = now(), cpuStart = threadCPUTime()
                for _ in 0..<steps { step() }
                rates.append(Double(steps * batch) / (now() - start))
                cpuRates.append(Double(steps * batch) / (threadCPUTime() - cpuStart))
            }
            rates.sort()
            cpuRates.sort()
            lines.append(model.rawValue + String(format: " batch %3d (slice %3d): %8.0f images/s wall (min %8.0f, max %8.0f), "
                                                 + "%8.0f per CPU-second (min %8.0f, max %8.0f), %5.1f GFLOP/CPU-s",
                                                 batch, net.sliceSize, rates[2], rates[0], rates[4], cpuRates[2], cpuRates[0], cpuRates[4],
                                                 cpuRates[2] * Double(net.flopsPerSample) * 1e-9))
            #expect(net.parameters.array.allSatisfy { $0.isFinite })
        }
        print("THROUGHPUT\n" + lines.joined(separator: "\n"))
    }

    /// cifar-cnn (3×32×32) and cnn-32-64 (1×28×28) training images/s per CPU-second for each
    /// slice size, the sizes taking turns round after round so that all see the same machine
    /// (medians of 7 rounds).
    @Test("images/s per slice size, interleaved",
          arguments: [(ModelKind.cifarCNN, 32), (.cifarCNN, 128), (.cnn3264, 32), (.cnn3264, 128)])
    func slices(model: ModelKind, batch: Int) throws {
        let channels = model == .cifarCNN ? 3 : 1, size = model == .cifarCNN ? 32 : 28
        let data = randomImages(count: 2048, channels: channels, height: size, width: size, classes: 10, seed: 1)
        let arch = try model.architecture(channels: channels, height: size, width: size, classes: 10)
        let slices = [4, 8, 16, 32].filter { $0 <= batch }
        let nets = slices.map { Network(model: model, architecture: arch, seed: 1, maxBatch: batch, sliceSize: $0) }
        let sgds = nets.map { SGD(config: SGDConfig(learningRate: 0.01), parameterCount: $0.parameterCount) }
        var rng = SeededRNG(seed: 2)
        var indices = [Int](repeating: 0, count: batch)
        func step(_ i: Int) {
            for k in 0..<batch { indices[k] = rng.int(below: data.count) }
            nets[i].loadBatch(data, indices: indices)
            _ = nets[i].forwardBackward()
            sgds[i].step(nets[i])
        }
        for i in nets.indices { for _ in 0..<3 { step(i) } }
        let probe = threadCPUTime()
        step(0)
        let steps = max(3, Int(0.3 / max(threadCPUTime() - probe, 1e-6)))
        var rates = [[Double]](repeating: [], count: nets.count)
        for _ in 0..<7 {
            for i in nets.indices {
                let start = threadCPUTime()
                for _ in 0..<steps { step(i) }
                rates[i].append(Double(steps * batch) / (threadCPUTime() - start))
            }
        }
        let lines = zip(slices, rates).map { slice, r in
            let sorted = r.sorted()
            return String(format: "%@ batch %3d slice %2d: %6.0f images/CPU-s (min %6.0f, max %6.0f)",
                          model.rawValue, batch, slice, sorted[3], sorted[0], sorted[6])
        }
        print("SLICES (default \(Network.defaultSliceSize(for: arch)))\n" + lines.joined(separator: "\n"))
    }

    /// One conv stage (3×3, 15×15 input as cifar-cnn's conv2, 64 outputs, slice of 8), forward and
    /// backward with its input gradient, direct against Winograd for several input channel counts,
    /// taking turns: median µs per slice of 9 rounds. The choice rule's measurement.
    @Test("3×3 conv stage: direct against Winograd by input channels")
    func convAlgorithms() {
        var lines: [String] = []
        for (channels, side) in [(4, 15), (8, 15), (16, 15), (32, 15), (8, 10), (16, 10), (32, 6), (32, 7), (32, 9),
                                 (64, 6), (64, 7)] {
            let g = ConvGeometry(channels: channels, height: side, width: side, kernelHeight: 3, kernelWidth: 3)
            let spec = ConvSpec(geometry: g, outChannels: 64)
            let n = 8
            let blocks = [ConvAlgorithm.direct, .winograd].map {
                ConvBlock(spec: spec, maxBatch: n, parameterOffset: 0, needsInputGradient: true, algorithm: $0)
            }
            let parameters = Buffer(randomDoubles(spec.weightCount + 64, seed: 1).map { Float($0) * 0.1 })
            let gradients = Buffer(count: spec.weightCount + 64)
            let input = Buffer(randomDoubles(channels * n * g.inputPixels, seed: 2).map { Float($0) })
            let dOut = Buffer(randomDoubles(64 * n * spec.pooledHeight * spec.pooledWidth, seed: 3).map { Float($0) })
            func run(_ block: ConvBlock) {
                block.forward(input: input, batch: n, parameters: parameters)
                block.backward(outputGradient: dOut, batch: n, parameters: parameters, gradients: gradients)
            }
            let reps = max(3, 20_000 / (channels * side * side))
            var micros: [[Double]] = [[], []]
            for block in blocks { run(block) }
            for _ in 0..<9 {
                for (i, block) in blocks.enumerated() {
                    let start = threadCPUTime()
                    for _ in 0..<reps { run(block) }
                    micros[i].append((threadCPUTime() - start) / Double(reps) * 1e6)
                }
            }
            let (direct, winograd) = (micros[0].sorted()[4], micros[1].sorted()[4])
            lines.append(String(format: "IC %2d, %2d×%2d input: direct %7.1f µs, Winograd %7.1f µs (%.2f×); rule: %@",
                                channels, side, side, direct, winograd, direct / winograd,
                                "\(ConvAlgorithm.preferred(for: g))"))
        }
        print("CONV ALGORITHMS\n" + lines.joined(separator: "\n"))
    }

    @Test("time per layer and kernel", arguments: cases)
    func breakdown(model: ModelKind, batch n: Int) {
        let data = randomDataset(count: 1024, seed: 3)
        let net = Network(model: model, seed: 1, maxBatch: n)
        let sgd = SGD(config: SGDConfig(learningRate: 1e-4), parameterCount: net.parameterCount)
        let profile = Profile()
        var rng = SeededRNG(seed: 4)
        var indices = [Int](repeating: 0, count: n)
        let steps = max(20, 20_000 / n)
        let p = net.parameters, g = net.gradients
        for step in 0..<(steps + 5) {
            if step == 5 { profile.names.removeAll(); profile.seconds.removeAll(); profile.isGEMM.removeAll() }
            for k in 0..<n { indices[k] = rng.int(below: data.count) }
            profile.time("load batch") { net.loadBatch(data, indices: indices) }
            // The same sequence as Network.forwardBackward, one kernel at a time, slice by slice.
            let total = n
            var loss = 0.0
            for start in stride(from: 0, to: total, by: net.sliceSize) {
                let n = min(net.sliceSize, total - start), acc = start > 0
                var x = net.input
                for (i, conv) in net.convs.enumerated() {
                    let s = conv.spec, geo = s.geometry, columns = n * geo.outputPixels, product = conv.product
                    let inputOffset = i == 0 ? start * 784 : 0, input = x
                    switch conv.algorithm {
                    case .direct:
                        profile.time("conv\(i + 1) fwd im2col") { im2col(input, inputOffset: inputOffset, geo, batch: n, into: product.col) }
                        profile.time("conv\(i + 1) fwd gemm", gemm: true) {
                            gemm(Matrix(p, offset: conv.weightRange.lowerBound, rows: s.outChannels, columns: geo.patchSize), .none,
                                 Matrix(product.col, rows: geo.patchSize, columns: columns), .none,
                                 into: Matrix(conv.pre, rows: s.outChannels, columns: columns))
                        }
                    case .winograd:
                        let (ic, oc) = (geo.channels, s.outChannels)
                        profile.time("conv\(i + 1) fwd wino filters") {
                            winogradFilters(p, offset: conv.weightRange.lowerBound, outChannels: oc, inChannels: ic, into: product.filters)
                        }
                        profile.time("conv\(i + 1) fwd wino input") {
                            winogradInput(input, inputOffset: inputOffset, geo, batch: n, into: product.inputTiles)
                        }
                        profile.time("conv\(i + 1) fwd wino gemm", gemm: true) {
                            for xi in 0..<16 {
                                gemm(product.filterPlane(xi, of: product.filters),
                                     product.tilePlane(xi, of: product.inputTiles, rows: ic, batch: n),
                                     into: product.tilePlane(xi, of: product.outputTiles, rows: oc, batch: n))
                            }
                        }
                        profile.time("conv\(i + 1) fwd wino output") {
                            winogradOutput(product.outputTiles, channels: oc, geo, batch: n, into: conv.pre)
                        }
                    }
                    profile.time("conv\(i + 1) fwd pool+bias+relu") {
                        maxPoolBiasReLU(conv.pre, channels: s.outChannels, batch: n, height: geo.outHeight, width: geo.outWidth,
                                        bias: p, biasOffset: conv.biasRange.lowerBound, into: conv.output, codes: conv.codes)
                    }
                    x = conv.output
                }
                let last = net.convs[net.convs.count - 1].spec
                let size = last.pooledHeight * last.pooledWidth
                profile.time("flatten") {
                    channelMajorToSampleMajor(x, channels: last.outChannels, batch: n, size: size, into: net.features)
                }
                x = net.features
                for (i, dense) in net.denses.enumerated() {
                    let s = dense.spec
                    let input = x
                    profile.time("dense\(i + 1) fwd gemm", gemm: true) {
                        gemm(Matrix(input, rows: n, columns: s.inputs), .none,
                             Matrix(p, offset: dense.weightRange.lowerBound, rows: s.outputs, columns: s.inputs), .transposed,
                             into: Matrix(dense.output, rows: n, columns: s.outputs))
                    }
                    profile.time("dense\(i + 1) fwd bias(+relu)") {
                        addBias(dense.output, rows: n, columns: s.outputs, bias: p, biasOffset: dense.biasRange.lowerBound,
                                relu: s.relu)
                    }
                    x = dense.output
                }
                profile.time("softmax-CE") {
                    loss += softmaxCrossEntropy(logits: x, labels: net.labels, labelOffset: start, batch: n, classes: 10,
                                                gradient: net.logitGradient, gradientScale: 1 / Float(total)).loss
                        * Double(n) / Double(total)
                }
                var dOut = net.logitGradient
                for k in stride(from: net.denses.count - 1, through: 0, by: -1) {
                    let dense = net.denses[k], s = dense.spec
                    let input = k == 0 ? net.features : net.denses[k - 1].output
                    let d = dOut
                    profile.time("dense\(k + 1) bwd relu+bias") {
                        if s.relu { reluBackward(activation: dense.output, gradient: d, count: n * s.outputs) }
                        columnSums(d, rows: n, columns: s.outputs, into: g, offset: dense.biasRange.lowerBound, accumulate: acc)
                    }
                    profile.time("dense\(k + 1) bwd gemm dW", gemm: true) {
                        gemm(Matrix(d, rows: n, columns: s.outputs), .transposed, Matrix(input, rows: n, columns: s.inputs), .none,
                             into: Matrix(g, offset: dense.weightRange.lowerBound, rows: s.outputs, columns: s.inputs),
                             beta: acc ? 1 : 0)
                    }
                    profile.time("dense\(k + 1) bwd gemm dX", gemm: true) {
                        gemm(Matrix(d, rows: n, columns: s.outputs), .none,
                             Matrix(p, offset: dense.weightRange.lowerBound, rows: s.outputs, columns: s.inputs), .none,
                             into: Matrix(dense.inputGradient, rows: n, columns: s.inputs))
                    }
                    dOut = dense.inputGradient
                }
                let dFeatures = dOut
                profile.time("unflatten") {
                    sampleMajorToChannelMajor(dFeatures, channels: last.outChannels, batch: n, size: size, into: net.featureGradient)
                }
                dOut = net.featureGradient
                for k in stride(from: net.convs.count - 1, through: 0, by: -1) {
                    let conv = net.convs[k], s = conv.spec, geo = s.geometry, columns = n * geo.outputPixels
                    let d = dOut
                    profile.time("conv\(k + 1) bwd pool") {
                        maxPoolBiasReLUBackward(d, codes: conv.codes, channels: s.outChannels, batch: n,
                                                height: geo.outHeight, width: geo.outWidth, into: conv.pre)
                    }
                    profile.time("conv\(k + 1) bwd bias rowsums") {
                        rowSums(conv.pre, rows: s.outChannels, columns: columns, into: g, offset: conv.biasRange.lowerBound, accumulate: acc)
                    }
                    let product = conv.product
                    switch conv.algorithm {
                    case .direct:
                        let dPre = Matrix(conv.pre, rows: s.outChannels, columns: columns)
                        let col = Matrix(product.col, rows: geo.patchSize, columns: columns)
                        profile.time("conv\(k + 1) bwd gemm dW", gemm: true) {
                            gemm(dPre, .none, col, .transposed,
                                 into: Matrix(g, offset: conv.weightRange.lowerBound, rows: s.outChannels, columns: geo.patchSize),
                                 beta: acc ? 1 : 0)
                        }
                        if let dInput = conv.inputGradient {
                            profile.time("conv\(k + 1) bwd gemm dCol", gemm: true) {
                                gemm(Matrix(p, offset: conv.weightRange.lowerBound, rows: s.outChannels, columns: geo.patchSize),
                                     .transposed, dPre, .none, into: col)
                            }
                            profile.time("conv\(k + 1) bwd col2im") { col2im(product.col, geo, batch: n, into: dInput) }
                            dOut = dInput
                        }
                    case .winograd:
                        let (ic, oc) = (geo.channels, s.outChannels)
                        profile.time("conv\(k + 1) bwd wino dY") {
                            winogradOutputGradient(conv.pre, channels: oc, geo, batch: n, into: product.outputTiles)
                        }
                        profile.time("conv\(k + 1) bwd wino gemm dU", gemm: true) {
                            for xi in 0..<16 {
                                gemm(product.tilePlane(xi, of: product.inputTiles, rows: ic, batch: n),
                                     product.tilePlane(xi, of: product.outputTiles, rows: oc, batch: n), .transposed,
                                     into: product.filterGradientPlane(xi))
                            }
                        }
                        profile.time("conv\(k + 1) bwd wino dW") {
                            winogradFilterGradient(product.filterGradients, outChannels: oc, inChannels: ic, into: g,
                                                   offset: conv.weightRange.lowerBound, accumulate: acc)
                        }
                        if let dInput = conv.inputGradient {
                            profile.time("conv\(k + 1) bwd wino gemm dV", gemm: true) {
                                for xi in 0..<16 {
                                    gemm(product.filterPlane(xi, of: product.filters), .transposed,
                                         product.tilePlane(xi, of: product.outputTiles, rows: oc, batch: n),
                                         into: product.tilePlane(xi, of: product.inputTiles, rows: ic, batch: n))
                                }
                            }
                            profile.time("conv\(k + 1) bwd wino dX") {
                                winogradInputGradient(product.inputTiles, geo, batch: n, into: dInput)
                            }
                            dOut = dInput
                        }
                    }
                }
            }
            if step == steps + 4 {
                // The hand-run sequence must be the network's: same loss and gradients.
                let mine = g.array
                let (reference, _) = net.forwardBackward()
                #expect(abs(loss - reference) <= 1e-12 * reference)
                #expect(mine == g.array)
            }
            profile.time("sgd") { sgd.step(net) }
        }
        let total = profile.seconds.reduce(0, +)
        let gemmTime = zip(profile.seconds, profile.isGEMM).filter(\.1).reduce(0) { $0 + $1.0 }
        var lines = [model.rawValue + String(format: " batch %d: %.1f CPU-µs/step, %.0f images/CPU-s; GEMM %.0f %%, other kernels %.0f %%",
                            n, total / Double(steps) * 1e6, Double(steps * n) / total,
                            100 * gemmTime / total, 100 * (total - gemmTime) / total)]
        for (name, seconds) in zip(profile.names, profile.seconds) {
            let padded = name.padding(toLength: 30, withPad: " ", startingAt: 0)
            lines.append("  " + padded + String(format: "%8.2f µs/step %5.1f %%", seconds / Double(steps) * 1e6,
                                                 100 * seconds / total))
        }
        print("BREAKDOWN\n" + lines.joined(separator: "\n"))
    }
}
