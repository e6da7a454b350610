import Cell
import Foundation
import Testing
@testable import SweepProtocol

@Suite("Grid spec: validation, canonical JSON, hash, diff")
struct GridSpecTests {
    private func refusal(_ spec: GridSpec) -> String? {
        do {
            try spec.validate()
            return nil
        } catch {
            return error.description
        }
    }

    @Test("the default grid is valid")
    func defaults() throws {
        try GridSpec().validate()
        try GridSpec(jobKind: .trivial, dataset: .synthetic()).validate()
    }

    /// `--data-format` is part of the dataset selection only when given: a grid without it keeps
    /// its JSON (and hash); one with it is another grid, and names it in its flags.
    @Test("the data format is part of the grid when given")
    func dataFormat() throws {
        let plain = GridSpec(dataset: .fashionMNIST(directory: "/data/digits"))
        var forced = plain
        forced.dataset.format = "npy"
        func datasetKeys(_ spec: GridSpec) throws -> [String] {
            guard case .object(let top) = try JSONValue.parse(spec.canonicalJSON()),
                  case .object(let dataset)? = top.first(where: { $0.0 == "dataset" })?.1 else { return [] }
            return dataset.map(\.0)
        }
        #expect(try datasetKeys(plain) == ["directory", "kind"])
        #expect(try datasetKeys(forced) == ["directory", "format", "kind"])
        #expect(try GridSpec.decode(forced.canonicalJSON()) == forced)
        #expect(try plain.hash() != forced.hash())
        #expect(GridSpec.differences(plain, forced) == ["data: fashion-mnist in /data/digits → npy files in /data/digits"])
        #expect(forced.sweepArguments == ["--data", "/data/digits", "--data-format", "npy"])
        var synthetic = GridSpec(dataset: .synthetic())
        synthetic.dataset.format = "npy"
        #expect(refusal(synthetic) == "--data-format applies only to data files, not to the synthetic set.")
    }

    @Test("invalid grids are refused with the offending value")
    func validation() {
        func expectRefusal(_ change: (inout GridSpec) -> Void, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            var spec = GridSpec()
            change(&spec)
            let message = refusal(spec)
            #expect(message?.contains(text) == true, "\(message ?? "accepted")", sourceLocation: sourceLocation)
        }
        expectRefusal({ $0.learningRates = [] }, "no learning rates")
        expectRefusal({ $0.batchSizes = [] }, "no batch sizes")
        expectRefusal({ $0.learningRates = [0.05, 0.1, 0.05] }, "learning rate 0.05 is listed twice")
        expectRefusal({ $0.batchSizes = [8, 8] }, "batch size 8 is listed twice")
        expectRefusal({ $0.learningRates = [0] }, "learning rate 0.0 is out of range")
        expectRefusal({ $0.learningRates = [-0.1] }, "learning rate -0.1 is out of range")
        expectRefusal({ $0.learningRates = [.nan] }, "learning rate nan is out of range")
        expectRefusal({ $0.batchSizes = [0] }, "batch size 0 is out of range")
        expectRefusal({ $0.batchSizes = [4097] }, "batch size 4097 is out of range")
        expectRefusal({ $0.seeds = 0 }, "--seeds 0 is out of range")
        expectRefusal({ $0.learningRates = (1...1000).map { Double($0) / 1000 }; $0.batchSizes = Array(1...200) },
                      "1000 learning rates (--lr) × 200 batch sizes (--batch) × 3 seeds (--seeds) is too many jobs")
        expectRefusal({ $0.gridSeed = UInt64.max }, "--grid-seed")
        expectRefusal({ $0.trivialMillis = -1 }, "--trivial-ms -1 is out of range")
        expectRefusal({ $0.datasetHash = "ABC" }, "data-set hash 'ABC'")
        expectRefusal({ $0.dataset = .synthetic(count: 5) }, "--synthetic-count 5 is out of range")
        // Every cell passes the cell contract, whatever the axes' order: the window of the
        // smallest η, the limits of the protocol settings.
        expectRefusal({ $0.cell.measureSteps = 15 }, "measurement window steps 15 is out of range")
        expectRefusal({ $0.learningRates = [0.1, 5e-7] }, "learning rate 5e-07 is out of range")
        expectRefusal({ $0.warmStart.epochs = -1 }, "warm-start epochs -1.0 is out of range")
        expectRefusal({ $0.warmStart.batchSize = 0 }, "warm-start batch size 0 is out of range")
        expectRefusal({ $0.cell.measureSteps = 5 }, "measurement window steps 5 is out of range")
        expectRefusal({ $0.format = "thermosweep-grid/9" }, "thermosweep-grid/9")
    }

    @Test("canonical JSON: sorted keys, no whitespace, independent of axis order")
    func canonical() throws {
        let spec = GridSpec(learningRates: [0.2, 0.0125, 0.05], batchSizes: [64, 8])
        let text = String(decoding: try spec.canonicalJSON(), as: UTF8.self)
        #expect(!text.contains(" ") && !text.contains("\n"))
        #expect(text.hasPrefix(#"{"batchSizes":[8,64],"cell":{"batchMode":"iid","calibrationProbes":16,"#))
        #expect(text.contains(#""learningRates":[0.0125,0.05,0.2]"#))
        #expect(text.contains(#""directory":"/usr/share/datasets/fashion-mnist""#))
        let sorted = GridSpec(learningRates: [0.0125, 0.05, 0.2], batchSizes: [8, 64])
        #expect(try spec.canonicalJSON() == sorted.canonicalJSON())
        #expect(try spec.hash() == sorted.hash())
    }

    @Test("the hash of a fixed spec is pinned: it must not change between builds or machines")
    func pinnedHash() throws {
        let spec = GridSpec()
        #expect(try spec.hash() == "d172e932e825edf6")
        let small = GridSpec(model: .lenet48, learningRates: [0.05, 0.1], batchSizes: [16], seeds: 1, gridSeed: 7,
                             jobKind: .trivial, dataset: .synthetic(seed: 2, count: 1_000), trivialMillis: 50)
        #expect(try small.hash() == "9ebfb9888da305c2")
        #expect(String(decoding: try small.canonicalJSON(), as: UTF8.self) == #"{"batchSizes":[16],"cell":{"batchMode":"iid","calibrationProbes":16,"momentum":0,"probeBatchSize":32},"#
            + #""dataset":{"count":1000,"kind":"synthetic","seed":2},"format":"thermosweep-grid/1","gridSeed":7,"#
            + #""jobKind":"trivial","learningRates":[0.05,0.1],"model":"lenet-4-8","seeds":1,"trivialMillis":50,"#
            + #""warmStart":{"batchSize":32,"epochs":3,"learningRate":0.05}}"#)
        // The pinned hash is FNV-1a-64 of exactly those bytes.
        #expect(try FNV1a.hex(small.canonicalJSON()) == small.hash())
        #expect(FNV1a.hex(Array("a".utf8)) == "af63dc4c8601ec8c")  // published FNV-1a-64 test vector
    }

    @Test("a momentum axis: one value encodes as before; several are an axis of the jobs and the hash")
    func momentumAxis() throws {
        var one = GridSpec(learningRates: [0.05, 0.1], batchSizes: [16], seeds: 2, dataset: .synthetic())
        let plain = one
        one.momentumValues = [0]
        #expect(try one.canonicalJSON() == plain.canonicalJSON() && one.momenta == nil)
        #expect(!String(decoding: try one.canonicalJSON(), as: UTF8.self).contains("momenta"))
        var several = plain
        several.momentumValues = [0.9, 0, 0.5]
        try several.validate()
        #expect(try several.hash() != plain.hash())
        let text = String(decoding: try several.canonicalJSON(), as: UTF8.self)
        #expect(text.contains(#""momenta":[0,0.5,0.9]"#), "\(text)")
        #expect(try GridSpec.decode(several.canonicalJSON()) == several.normalized)
        var reordered = plain
        reordered.momentumValues = [0.5, 0.9, 0]
        #expect(try reordered.hash() == several.hash())
        // One warm start per seed (plain SGD, whatever m), then one cell per (η, |B|, m, seed).
        let jobs = several.jobs()
        #expect(several.jobCount == 2 + 2 * 1 * 3 * 2 && jobs.count == several.jobCount)
        #expect(jobs.filter { $0.kind == .warmStart }.map(\.key) == ["warm/seed=1", "warm/seed=2"])
        #expect(jobs[2].key == "cell/lr=0.05/b=16/m=0.0/seed=1" && jobs[3].key == "cell/lr=0.05/b=16/m=0.0/seed=2")
        #expect(jobs[4].key == "cell/lr=0.05/b=16/m=0.5/seed=1" && jobs[4].spec.cell?.momentum == 0.5)
        #expect(jobs.last?.key == "cell/lr=0.1/b=16/m=0.9/seed=2" && jobs.last?.spec.cell?.momentum == 0.9)
        #expect(jobs[0].spec == plain.jobs()[0].spec && jobs[0].spec.warmStart != nil)
        #expect(plain.jobs().map(\.key).allSatisfy { !$0.contains("/m=") })
        #expect(several.sweepArguments.contains("--momentum") && several.sweepArguments.contains("0.0,0.5,0.9"))
        // Every value goes through the cell contract; repeats are refused.
        var bad = plain
        bad.momentumValues = [0, 1]
        #expect(throws: GridSpecError.self) { try bad.validate() }
        do { try bad.validate() } catch { #expect(error.cell?.field == .momentum, "\(error)") }
        bad.momentumValues = [0.5, 0.5]
        do { try bad.validate(); Issue.record("accepted a repeated momentum") } catch {
            #expect(error.description.contains("0.5 is listed twice"), "\(error)")
        }
    }

    @Test("a batch-mode axis: one mode encodes as before; both are an axis of the jobs and the hash")
    func batchModeAxis() throws {
        var one = GridSpec(learningRates: [0.05, 0.1], batchSizes: [16], seeds: 2, dataset: .synthetic())
        let plain = one
        one.batchModeValues = [.iid]
        #expect(try one.canonicalJSON() == plain.canonicalJSON() && one.batchModes == nil)
        var shuffled = plain
        shuffled.batchModeValues = [.shuffle]
        #expect(shuffled.batchModes == nil && shuffled.cell.batchMode == .shuffle)
        #expect(!String(decoding: try shuffled.canonicalJSON(), as: UTF8.self).contains("batchModes"))
        #expect(shuffled.jobs().map(\.key) == plain.jobs().map(\.key), "one mode: the keys name no mode")
        #expect(shuffled.sweepArguments.contains("--shuffle") && !shuffled.sweepArguments.contains("--batch-mode"))
        var both = plain
        both.batchModeValues = [.shuffle, .iid]
        try both.validate()
        #expect(try both.hash() != plain.hash() && both.hash() != shuffled.hash())
        let text = String(decoding: try both.canonicalJSON(), as: UTF8.self)
        #expect(text.contains(#""batchModes":["iid","shuffle"]"#) && text.contains(#""batchMode":"iid""#), "\(text)")
        #expect(try GridSpec.decode(both.canonicalJSON()) == both.normalized)
        var reordered = plain
        reordered.batchModeValues = [.iid, .shuffle]
        #expect(try reordered.hash() == both.hash())
        // One warm start per seed, shared by both modes; then one cell per (η, |B|, mode, seed).
        let jobs = both.jobs()
        #expect(both.jobCount == 2 + 2 * 1 * 2 * 2 && jobs.count == both.jobCount)
        #expect(jobs.filter { $0.kind == .warmStart }.map(\.key) == ["warm/seed=1", "warm/seed=2"])
        #expect(jobs[0].spec == plain.jobs()[0].spec)
        #expect(jobs[2].key == "cell/lr=0.05/b=16/mode=iid/seed=1" && jobs[2].spec.cell?.batchMode == .iid)
        #expect(jobs[4].key == "cell/lr=0.05/b=16/mode=shuffle/seed=1" && jobs[4].spec.cell?.batchMode == .shuffle)
        #expect(jobs[4].dependsOn == 1 && jobs[5].dependsOn == 2)
        #expect(both.sweepArguments.contains("--batch-mode") && both.sweepArguments.contains("iid,shuffle"))
        // With a momentum axis too, m comes before the mode in the keys.
        var axes = both
        axes.momentumValues = [0, 0.9]
        #expect(axes.jobs().map(\.key).contains("cell/lr=0.1/b=16/m=0.9/mode=shuffle/seed=2"))
        #expect(axes.jobCount == 2 + 2 * 2 * 2 * 2)
        // A repeated mode is refused, naming it.
        var bad = plain
        bad.batchModes = [.shuffle, .shuffle]
        do { try bad.validate(); Issue.record("accepted a repeated batch mode") } catch {
            #expect(error.description.contains("shuffle is listed twice"), "\(error)")
        }
    }

    @Test("--batch-mode parses one mode or a list, and names a wrong one")
    func batchModeParsing() throws {
        #expect(try GridAxis.batchModes("shuffle") == [.shuffle])
        #expect(try GridAxis.batchModes("shuffle, iid") == [.shuffle, .iid])
        #expect(throws: GridSpecError("--batch-mode 'iid,random': 'random' is not a batch mode: give iid or shuffle, "
                                      + "or both as a list iid,shuffle")) { try GridAxis.batchModes("iid,random") }
        #expect(throws: GridSpecError("--batch-mode 'iid,iid': iid is listed twice")) { try GridAxis.batchModes("iid,iid") }
        #expect(throws: GridSpecError.self) { try GridAxis.batchModes("") }
    }

    /// Keys move between grids of one batch mode and grids of both (Store.renameAxisKeys).
    @Test("job keys name and drop the batch mode and the momentum in their places")
    func keysNamingAxes() {
        let plain = "cell/lr=0.05/b=16/seed=1"
        #expect(GridSpec.key(plain, namingBatchMode: .shuffle) == "cell/lr=0.05/b=16/mode=shuffle/seed=1")
        #expect(GridSpec.key("cell/lr=0.05/b=16/mode=iid/seed=1", namingMomentum: 0.5)
                    == "cell/lr=0.05/b=16/m=0.5/mode=iid/seed=1")
        #expect(GridSpec.key("cell/lr=0.05/b=16/m=0.5/mode=iid/seed=1", droppingBatchMode: .iid)
                    == "cell/lr=0.05/b=16/m=0.5/seed=1")
        #expect(GridSpec.key("cell/lr=0.05/b=16/mode=iid/seed=1", droppingBatchMode: .shuffle) == nil)
        #expect(GridSpec.key("warm/seed=1", namingBatchMode: .iid) == nil)
        var both = GridSpec(learningRates: [0.05], batchSizes: [16], seeds: 1, dataset: .synthetic())
        let one = both
        both.batchModeValues = [.iid, .shuffle]
        #expect(one.namingAxes(plain) == "cell/lr=0.05/b=16/m=0.0/mode=iid/seed=1")
        #expect(both.droppingAxes(one.namingAxes(plain)) == "cell/lr=0.05/b=16/mode=iid/seed=1")
        #expect(one.droppingAxes(one.namingAxes(plain)) == plain)
    }

    @Test("every setting changes the hash")
    func hashSensitivity() throws {
        let base = try GridSpec().hash()
        var changes: [GridSpec] = []
        for change: (inout GridSpec) -> Void in [
            { $0.learningRates[0] = 0.0126 }, { $0.batchSizes[0] = 9 }, { $0.seeds = 4 }, { $0.gridSeed = 1 },
            { $0.model = .lenet48 }, { $0.jobKind = .trivial }, { $0.dataset = .synthetic() }, { $0.datasetHash = "0000000000000000" },
            { $0.warmStart.epochs = 2 }, { $0.cell.momentum = 0.5 }, { $0.cell.burnInSteps = 600 }, { $0.trivialMillis = 1 },
        ] {
            var spec = GridSpec()
            change(&spec)
            changes.append(spec)
        }
        let hashes = try changes.map { try $0.hash() }
        #expect(!hashes.contains(base))
        #expect(Set(hashes).count == hashes.count)
    }

    @Test("a spec decodes from its canonical JSON; unknown fields and invalid values are refused")
    func decode() throws {
        let spec = GridSpec(learningRates: [0.1, 0.05], datasetHash: "0123456789abcdef")
        #expect(try GridSpec.decode(spec.canonicalJSON()) == spec.normalized)
        let text = String(decoding: try spec.canonicalJSON(), as: UTF8.self)
        for (bad, reason) in [
            (text.replacingOccurrences(of: #""seeds":3"#, with: #""seeds":3,"epochs":1"#), "field 'epochs' is not a field"),
            (text.replacingOccurrences(of: #""seeds":3"#, with: #""seeds":0"#), "0 seeds"),
            (text.replacingOccurrences(of: #""seeds":3,"#, with: ""), "field 'seeds' is missing"),
            (text.replacingOccurrences(of: #""model":"lenet-8-16""#, with: #""model":"resnet""#), "field 'model'"),
            (text.replacingOccurrences(of: #""batchMode":"iid""#, with: #""batchMode":"sorted""#),
             "field 'cell.batchMode'"),
            (text.replacingOccurrences(of: #""epochs":3"#, with: #""epochs":3,"momentum":0"#),
             "field 'warmStart.momentum' is not a field"),
            (text.replacingOccurrences(of: #""epochs":3"#, with: #""epochs":3000"#), "warm-start epochs 3000.0 is out of range"),
            (text.replacingOccurrences(of: #""probeBatchSize":32"#, with: #""measureSteps":15,"probeBatchSize":32"#),
             "measurement window steps 15 is out of range"),
            (String(text.dropLast()), "not valid JSON"),
        ] {
            do {
                _ = try GridSpec.decode(Array(bad.utf8))
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.description.contains(reason), "\(error)")
            }
        }
    }

    @Test("the diff names each changed setting with old and new values")
    func diff() {
        let old = GridSpec(learningRates: [0.0125, 0.025])
        var new = GridSpec(learningRates: [0.05, 0.0125])
        #expect(GridSpec.differences(old, new) == ["lr: [0.0125, 0.025] → [0.0125, 0.05]"])
        new.seeds = 5
        new.cell.measureSteps = 800
        new.dataset = .synthetic(seed: 1, count: 12_000)
        #expect(GridSpec.differences(old, new) == [
            "lr: [0.0125, 0.025] → [0.0125, 0.05]", "seeds: 3 → 5",
            "data: fashion-mnist in /usr/share/datasets/fashion-mnist → synthetic seed=1 count=12000",
            "measure-steps: default → 800",
        ])
        #expect(GridSpec.differences(old, GridSpec(learningRates: [0.025, 0.0125])).isEmpty)
        // Every label differs for some change, so no difference goes unreported.
        #expect(Set(GridSpec().labelledValues.map(\.0)).count == GridSpec().labelledValues.count)
    }
}
