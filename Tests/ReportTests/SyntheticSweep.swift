// Journals built in the test with the Store API, holding CellResult JSON drawn from a known law
// T_G = C_G · η^a · |B|^b · e^ε, so the fits have a truth to recover.
import Cell
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ScalingLaw
import Store
import SweepProtocol
import Testing
@testable import Report

/// A synthetic sweep: the grid, the law, the noise, and what goes wrong in which cell.
struct SyntheticSweep {
    var learningRates = [0.0125, 0.025, 0.05, 0.1, 0.2]
    var batchSizes = [8, 16, 32, 64, 128]
    var seeds = 3
    /// The grid's momenta (one value: no momentum axis); a cell of momentum m has the temperature
    /// of η/(1 − m), as docs/METHOD.md predicts.
    var momenta: [Double] = [0]
    /// How much the exponent of η falls with m: runs of momentum m follow η^(a·(1 − bend·m)) at
    /// η/(1 − m), so a non-zero bend breaks the collapse against η/(1 − m).
    var momentumBend = 0.0
    /// The grid's batch modes (one: no batch-mode axis); a shuffle cell's temperature is
    /// `shuffleFactor` times the i.i.d. one (less gradient noise without replacement).
    var batchModes: [BatchMode] = [.iid]
    var shuffleFactor = 0.8
    /// (name, parameters, filters of 25 parameters each).
    var groups: [(String, Int, Int)] = [("conv1.weight", 200, 2), ("dense1.weight", 2560, 0), ("network", 5994, 0)]
    /// sd of ln T between seeds, and the block SE reported.
    var noise = 0.05
    var blockSE = 0.05
    /// Keys (`cell/lr=…/b=…/seed=…`) whose run diverged, drifted, or failed outright.
    var diverged: Set<String> = []
    var nonStationary: Set<String> = []
    /// Keys whose window loss steps down by the given amount half way (`nonStationary`: 0.1).
    var drift: [String: Double] = [:]
    var failed: Set<String> = []
    /// Rounds the JSON numbers through 10 blocks per estimator and filter (as real results do).
    var blocks = 10
    /// Whether results carry the optional per-weight temperature fields (histograms per group, the
    /// first layer's filters); results of 0.1.0 do not.
    var insideLayer = false

    var spec: GridSpec {
        var spec = GridSpec(learningRates: learningRates, batchSizes: batchSizes, seeds: seeds, dataset: .synthetic(),
                            cell: CellSettings(burnInSteps: 100, measureSteps: 100))
        spec.momentumValues = momenta
        spec.batchModeValues = batchModes
        return spec
    }

    /// Exponents (a, b) of each estimator, as docs/METHOD.md predicts.
    static let law: [(String, Double, Double)] = [
        ("diffusion", 1, -1), ("kinetic", 2, -1), ("kinetic-sde", 0, -1), ("configurational", 1, -1),
    ]

    /// The CellResult JSON of one run.
    func cellJSON(lr: Double, batch: Int, momentum: Double = 0, batchMode: BatchMode = .iid, seed: Int,
                  key: String) -> String {
        let factor = batchMode == .shuffle ? shuffleFactor : 1
        let m = momentum == 0 ? "0" : "\(momentum)"
        var rng = SplitMix64(seed: UInt64(seed) &* 0x9E37_79B9 &+ UInt64(batch) &* 1_000_003 &+ UInt64(lr * 1e6))
        func gaussian() -> Double {
            let u = max(rng.uniform(), 1e-300), v = rng.uniform()
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
        let isDiverged = diverged.contains(key)
        let stationary = !nonStationary.contains(key)
        // One seed offset shared by the groups of the run, plus a little per group.
        let runOffset = noise * gaussian()
        func estimates(prefactor: Double) -> String {
            Self.law.map { (name, a, b) in
                if isDiverged { return #"{"estimator":"\#(name)","blockValues":[]}"# }
                let t = factor * prefactor * pow(lr / (1 - momentum), a * (1 - momentumBend * momentum)) * pow(Double(batch), b) * exp(runOffset + 0.01 * gaussian())
                let values = (0..<blocks).map { _ in "\(t * exp(blockSE * 3.16 * gaussian()))" }
                return #"{"estimator":"\#(name)","value":\#(t),"seLogT":\#(blockSE),"blockValues":[\#(values.joined(separator: ","))]}"#
            }.joined(separator: ",")
        }
        let groupsJSON = groups.enumerated().map { (i, g) -> String in
            let prefactor = 0.02 * Double(i + 1)
            let filters = (0..<g.2).map { f in
                #"{"index":\#(f),"count":25,"estimates":[\#(estimates(prefactor: prefactor * (0.5 + Double(f))))],"noiseVariance":0.1,"calibrationRatio":1.02,"fluctuationDissipationRatio":1.0}"#
            }.joined(separator: ",")
            let flags = isDiverged ? #"["diverged","undefined-estimate"]"# : "[]"
            let histogram = insideLayer && !isDiverged ? "," + Self.histogramJSON(count: g.1) : ""
            return #"{"name":"\#(g.0)","count":\#(g.1),"estimates":[\#(estimates(prefactor: prefactor))],"noiseVariance":0.07,"calibrationRatio":1.01,"fluctuationDissipationRatio":0.98,"flags":\#(flags),"filters":[\#(filters)]\#(histogram)}"#
        }.joined(separator: ",")
        // A drifting run steps down half way: by 0.1, Welch t ≈ 200, far beyond any correction.
        let step = drift[key] ?? (stationary ? 0 : 0.1)
        let blockMeans = (0..<blocks).map { k in "\(0.5 - (k < blocks / 2 ? 0 : step) + 0.001 * Double(k % 3))" }
        let divergence = isDiverged ? #""divergence":{"kind":"loss-above-limit","step":40,"value":2.9},"# : ""
        return #"""
            {"format":"thermosweep-cell/1","spec":{"model":"lenet-8-16","learningRate":\#(lr),"batchSize":\#(batch),"seed":\#(seed),"momentum":\#(m),"batchMode":"\#(batchMode.rawValue)","burnInSteps":100,"measureSteps":100,"warmStart":{"learningRate":0.05,"batchSize":32,"epochs":3},"calibrationProbes":16,"probeBatchSize":32},"dataset":"synthetic/seed=1/train","datasetHash":"3dbb45301de53c63","parameterCount":5994,"burnInSteps":100,"measureSteps":100,\#(divergence)"thermometer":{"formatVersion":1,"config":{"learningRate":\#(lr),"batchSize":\#(batch),"momentum":\#(m),"measureSteps":100,"blocks":10,"calibrationPoints":4},"recordedSteps":100,"blockCount":10,"calibrationPointCount":4,\#(divergence)"loss":{"mean":0.45,"standardDeviation":0.1,"blockMeans":[\#(blockMeans.joined(separator: ","))],"firstHalfMean":0.5,"secondHalfMean":\#(stationary ? 0.5 : 0.41),"differenceStandardError":0.01\#(isDiverged ? "" : #","stationary":\#(stationary)"#)},"groups":[\#(groupsJSON)],"flags":[]},"train":{"loss":0.4,"accuracy":0.85},"test":{"loss":0.5,"accuracy":0.82},"samplesPerSecond":\#(30000 + Double(seed)),"wallSeconds":1.5\#(insideLayer && !isDiverged ? "," + firstLayerJSON(lr: lr) : "")}
            """#
    }

    /// The analysis of this sweep's journal, written as `name`.sqlite in `folder`.
    func analysis(in folder: TemporaryFolder, name: String = "sweep") throws -> SweepAnalysis {
        let db = folder.file("\(name).sqlite")
        try makeDatabase(at: db)
        return try SweepAnalysis(storePath: db)
    }

    /// Writes the journal: every warm start done, every measure job done (or failed), committed in
    /// batches. `worker` and `wall` are what differ between two "runs" of the same sweep.
    func makeDatabase(at path: String, worker: String = "host-a/1", wall: Double = 2.5,
                      order: (inout [JobRecord]) -> Void = { _ in }) throws {
        let store = try Store.open(path: path, spec: spec)
        var jobs = try store.jobs()
        var warm: [Transition] = []
        for job in jobs where job.kind == .warmStart {
            warm.append(.lease(jobId: job.id, attempt: 1, worker: worker))
            warm.append(.result(jobId: job.id, attempt: 1, result: Array(#"{"format":"warm"}"#.utf8),
                                checkpoint: [1, 2, 3], wallSeconds: wall, worker: worker))
        }
        try store.commit(warm)
        jobs.removeAll { $0.kind != .measure }
        order(&jobs)
        let descriptors = Dictionary(uniqueKeysWithValues: spec.jobs().map { ($0.key, $0) })
        for chunk in stride(from: 0, to: jobs.count, by: 500) {
            var batch: [Transition] = []
            for job in jobs[chunk..<min(chunk + 500, jobs.count)] {
                let d = try #require(descriptors[job.key])
                batch.append(.lease(jobId: job.id, attempt: 1, worker: worker))
                if failed.contains(job.key) {
                    batch.append(.deterministicFailure(jobId: job.id, attempt: 1, message: "out of range, \"quoted\"",
                                                       wallSeconds: wall, worker: worker))
                } else {
                    let json = cellJSON(lr: d.spec.cell?.learningRate ?? 0, batch: d.spec.cell?.batchSize ?? 0,
                                        momentum: d.spec.cell?.momentum ?? 0, batchMode: d.spec.cell?.batchMode ?? .iid,
                                        seed: d.seedIndex, key: job.key)
                    batch.append(.result(jobId: job.id, attempt: 1, result: Array(json.utf8), checkpoint: nil,
                                         wallSeconds: wall + Double(job.id), worker: worker))
                }
            }
            try store.commit(batch)
        }
        try store.close()
    }

    /// A per-weight histogram of `count` weights: one frozen, a third in bin 30, the rest in bin 32.
    static func histogramJSON(count: Int) -> String {
        var counts = [Int](repeating: 0, count: 40)
        counts[30] = count / 3
        counts[32] = count - 1 - count / 3
        return #""weightTemperatures":{"lowerEdge":1e-08,"binsPerDecade":4,"counts":[\#(counts.map(String.init).joined(separator: ","))],"zero":1,"below":0,"above":0,"quantiles":[0.4,0.45,1.2,1.3,1.5],"medianSeLogT":0.06}"#
    }

    /// The first group's filters (`filters` of 1×5×5): weight and T_i rise along each filter.
    func firstLayerJSON(lr: Double) -> String {
        let filters = groups.first?.2 ?? 0
        let weights = (0..<(filters * 25)).map { "\(Double($0 % 25 - 12) / 100)" }
        let temperatures = (0..<(filters * 25)).map { "\(lr * 1e-4 * Double($0 % 25 + 1))" }
        return #""firstLayerFilters":{"group":"\#(groups.first?.0 ?? "")","filters":\#(filters),"channels":1,"kernelHeight":5,"kernelWidth":5,"weights":[\#(weights.joined(separator: ","))],"temperatures":[\#(temperatures.joined(separator: ","))]}"#
    }

    static func key(_ lr: Double, _ b: Int, _ seed: Int) -> String { "cell/lr=\(lr)/b=\(b)/seed=\(seed)" }
    /// The key of a cell of a grid that varies the momentum.
    static func key(_ lr: Double, _ b: Int, m: Double, _ seed: Int) -> String {
        "cell/lr=\(lr)/b=\(b)/m=\(m)/seed=\(seed)"
    }
}

/// A fresh folder under the system temporary directory, removed when the value is dropped.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "report-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Whether `html` is well-formed XML (the report is XHTML).
func isWellFormedXML(_ html: String) -> Bool {
    XMLParser(data: Data(html.utf8)).parse()
}
