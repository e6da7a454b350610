// Option groups shared by `sweep`, `worker` and `status`: the grid, timing, and CURVE keys.
import ArgumentParser
import Cell
import Foundation
import SweepProtocol
import Session
import ZeroMQ

/// The grid of a sweep, as flags (PROTOCOL.md, "Grid and jobs").
struct GridOptions: ParsableArguments {
    @Option(help: ArgumentHelp(ModelKind.help))
    var model = "lenet-8-16"

    @Option(parsing: .unconditional, help: "Learning rates: 0.0125:0.2:x2 (geometric), 0.05:0.2:+0.05 (arithmetic) or a list 0.01,0.02.")
    var lr = "0.0125:0.2:x2"

    @Option(parsing: .unconditional, help: "Batch sizes: 8:128:x2, 8:64:+8 or a list 16,32.")
    var batch = "8:128:x2"

    @Option(parsing: .unconditional, help: "Seeds per cell (seed s trains with seed grid-seed + s).")
    var seeds = 3

    @Option(parsing: .unconditional, help: "Offset of the training seeds.")
    var gridSeed: UInt64 = 0

    @Option(help: "Trivial job kind: no training, every job waits this many ms (tests and benchmarks).")
    var trivialMs: Int?

    @OptionGroup(title: "Measurement protocol (every cell)") var measurement: CellProtocolOptions

    /// The grid these flags describe, on `dataset` (its hash is filled in by the caller). Every
    /// cell passes the cell contract's `validate()` here, before any job runs.
    func spec(dataset: DatasetSelection) throws -> GridSpec {
        let model: ModelKind
        do throws(ModelError) { model = try ModelKind(parsing: self.model) } catch {
            throw ValidationError("--model: \(error)")
        }
        let batchModes = try measurement.batchModes()
        do throws(GridSpecError) {
            var spec = GridSpec(model: model, learningRates: try GridAxis.learningRates(lr),
                                batchSizes: try GridAxis.batchSizes(batch), seeds: seeds, gridSeed: gridSeed,
                                jobKind: trivialMs == nil ? .train : .trivial, dataset: dataset)
            spec.warmStart = measurement.warmStart
            spec.cell = measurement.cell
            spec.momentumValues = try GridAxis.momenta(measurement.momentum)
            spec.batchModeValues = batchModes
            if let trivialMs { spec.trivialMillis = trivialMs }
            try spec.validate()
            return spec
        } catch {
            if let cell = error.cell { throw cell.usageError }
            throw ValidationError(error.description)
        }
    }
}

/// The database of a sweep, for the commands that read one (`fit`, `export`, `report`, `backup`).
struct DatabaseOption: ParsableArguments {
    @Option(help: "The sweep's database (the .sqlite file that `sweep --db` writes; read only).")
    var db: String
}

/// Heartbeat and lease timing (PROTOCOL.md, "Timing"); never part of the grid.
struct TimingOptions: ParsableArguments {
    @Option(help: "Heartbeat period in ms, both directions.")
    var heartbeatMs = Int(TimingDefaults.heartbeat.inMilliseconds)

    @Option(help: "Missed heartbeats after which a peer counts as lost.")
    var liveness = TimingDefaults.liveness

    func validate() throws {
        guard (10...60_000).contains(heartbeatMs) else {
            throw ValidationError("--heartbeat-ms \(heartbeatMs) is out of range: give 10 to 60000.")
        }
        guard (1...100).contains(liveness) else {
            throw ValidationError("--liveness \(liveness) is out of range: give 1 to 100.")
        }
    }
}

/// CURVE keys of a client (`worker`, `status --connect`).
struct CurveClientOptions: ParsableArguments {
    @Option(help: "The coordinator's public key file (from `thermosweep keygen`); turns CURVE on.")
    var curveServerKey: String?

    @Option(help: "This client's secret key file (from `thermosweep keygen`).")
    var curveKey: String?

    func validate() throws {
        if (curveServerKey == nil) != (curveKey == nil) {
            throw ValidationError("CURVE needs both --curve-server-key and --curve-key (or neither).")
        }
    }

    /// The worker's CURVE settings, or nil when off.
    func load() throws -> (server: CurvePublicKey, keys: CurveKeyPair)? {
        guard let curveServerKey, let curveKey else { return nil }
        return (try KeyFiles.publicKeys(curveServerKey, expectOne: true)[0], try KeyFiles.secret(curveKey))
    }
}
