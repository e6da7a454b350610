// The bars of the distributed sweep, measured on real processes. Opt-in, numbers only (no timing
// assertions): TS_BENCH=1 swift test -c release ... --filter SweepBenchmarkTests
// (scripts/sweep_bars.sh runs it with the release flags and notes the load).
// TS_BENCH_REPEATS (default 3) sets the runs per measurement; medians are printed.
import Foundation
import Store
import SweepProtocol
import Testing
import TestSupport

@Suite("Sweep bars", .serialized, .benchmark)
struct SweepBenchmarkTests {
    static let repeats = max(1, Int(ProcessInfo.processInfo.environment["TS_BENCH_REPEATS"] ?? "") ?? 3)

    /// One trivial sweep's numbers.
    struct TrivialRun {
        let jobs: Int
        /// Jobs per second between the first and the last result commit.
        let jobsPerSecond: Double
        /// The coordinator under /usr/bin/time -v: peak RSS, CPU and wall seconds.
        let time: TimeReport

        var line: String {
            String(format: "%6d jobs, %7.0f jobs/s, coordinator: %.1f s wall, %.2f s CPU (%.0f jobs per CPU second), VmHWM %.1f MB",
                   jobs, jobsPerSecond, time.wallSeconds, time.cpuSeconds, Double(jobs) / max(time.cpuSeconds, 0.001),
                   time.maxResidentMB)
        }
    }

    /// `lr` axes giving 50, 100 or 200 values; with `batch` (100 values) 5,000 to 20,000 jobs.
    static let batch = "8:800:+8"
    static func lr(_ count: Int) -> String { "0.001:\(Double(count) / 1000):+0.001" }

    /// A sweep of 0 ms trivial jobs on `workers` `worker --no-data --jobs slots` processes.
    func trivialSweep(lrCount: Int, workers: Int, slots: Int, quiet: Bool) throws -> TrivialRun {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let sweep = try SweepProcess(["--trivial-ms", "0", "--lr", Self.lr(lrCount), "--batch", Self.batch, "--seeds", "1"]
                                        + (quiet ? ["--quiet"] : []),
                                     in: scratch, wrapper: ["/usr/bin/time", "-v"])
        defer { sweep.kill9() }
        let fleet = try (0..<workers).map { i in
            try Spawned(["worker", "--connect", sweep.endpoint, "--no-data", "--jobs", "\(slots)", "--name", "bench-\(i)"],
                        outputPrefix: scratch.file("worker-\(i)"))
        }
        defer { for worker in fleet { worker.kill9() } }
        let status = sweep.process.wait(timeout: 300)
        #expect(status == 0, "sweep exit \(String(describing: status)): \(sweep.process.stderr.suffix(1_000))")
        for worker in fleet { #expect(worker.wait(timeout: 15) == 0) }
        let store = try Store.openReadOnly(path: sweep.db)
        defer { try? store.close() }
        let results = try store.results()
        let total = try store.counts().total
        #expect(results.count == total && Set(results.map(\.jobId)).count == total)
        let commits = results.map(\.committedAt.timeIntervalSince1970)
        let span = (commits.max() ?? 0) - (commits.min() ?? 0)
        let time = try #require(TimeReport(sweep.process.stderr), "no /usr/bin/time report")
        return TrivialRun(jobs: results.count, jobsPerSecond: span > 0 ? Double(results.count - 1) / span : 0, time: time)
    }

    @Test func schedulingOverheadThroughEightWorkers() throws {
        print("scheduling overhead (bar ≥ 5,000 jobs/s through 8 workers on loopback); 8 `worker --no-data` processes")
        for (slots, lrCount, quiet) in [(1, 50, true), (16, 200, true)] {
            var runs: [TrivialRun] = []
            for _ in 0..<Self.repeats {
                let load = loadAverage()
                let run = try trivialSweep(lrCount: lrCount, workers: 8, slots: slots, quiet: quiet)
                print("  8 workers × \(slots) slots, --quiet: \(run.line) (load \(load))")
                runs.append(run)
            }
            print(String(format: "  8 workers × %d slots, --quiet: median %.0f jobs/s over %d runs",
                         slots, median(runs.map(\.jobsPerSecond)), runs.count))
        }
        let load = loadAverage()
        let loud = try trivialSweep(lrCount: 200, workers: 8, slots: 16, quiet: false)
        print("  8 workers × 16 slots, one line per job event: \(loud.line) (load \(load))")
    }

    @Test func residentMemoryWithTenThousandJobs() throws {
        print("coordinator resident memory with a 10,000-job grid (bar < 100 MB); 8 workers × 16 slots, --quiet")
        var peaks: [Double] = []
        for _ in 0..<Self.repeats {
            let load = loadAverage()
            let run = try trivialSweep(lrCount: 100, workers: 8, slots: 16, quiet: true)
            print("  \(run.line) (load \(load))")
            peaks.append(run.time.maxResidentMB)
        }
        print(String(format: "  median peak RSS %.1f MB over %d runs", median(peaks), peaks.count))
        // Memory does not depend on the machine's speed: the bar is asserted, not only printed.
        #expect(median(peaks) < 100, "the coordinator's peak RSS with 10,000 jobs is \(median(peaks)) MB")
    }

    @Test func fiveHundredIdleWorkers() throws {
        let workers = 500
        let scratch = try Scratch()
        defer { scratch.remove() }
        // One job of 10 minutes: one worker is busy, 499 are idle; all beat every second and the
        // coordinator beats back.
        let (fleet, endpoint) = try WorkerFleet.dialing(count: workers, in: scratch)
        defer { fleet.stop() }
        let sweep = try SweepProcess(["--bind", endpoint, "--trivial-ms", "600000", "--lr", "0.1", "--batch", "8",
                                      "--seeds", "1", "--quiet"], in: scratch)
        defer { sweep.kill9() }
        let status = try RawPeer(sweep.endpoint, name: "status")
        var connected = 0
        #expect(eventually(timeout: 120) {
            connected = (try? status.status(within: .seconds(5)))?.workers.count ?? connected
            return connected == workers
        }, "\(connected) of \(workers) workers connected")
        Thread.sleep(forTimeInterval: 2)
        print("500 connected heartbeating workers (bar < 10 % of one core); in-process WorkerLoops, 1 s heartbeat")
        var shares: [Double] = []
        for _ in 0..<Self.repeats {
            let load = loadAverage()
            let before = try #require(cpuSeconds(sweep.process.pid))
            let testBefore = cpuSeconds(getpid()) ?? 0
            let start = ContinuousClock.now
            Thread.sleep(forTimeInterval: 20)
            let after = try #require(cpuSeconds(sweep.process.pid))
            let seconds = elapsed(since: start)
            let share = (after - before) / seconds
            let testShare = ((cpuSeconds(getpid()) ?? 0) - testBefore) / seconds
            print(String(format: "  coordinator %.2f %% of one core over %.1f s (the test process with the 500 workers: %.0f %%)",
                         share * 100, seconds, testShare * 100) + "; load \(load)")
            shares.append(share)
        }
        let reply = try #require(try status.status())
        #expect(reply.workers.count == workers && reply.counts.running == 1, "all still connected, one job running")
        #expect(sweep.logLines(containing: " lost").isEmpty)
        print(String(format: "  median %.2f %% of one core over %d windows; VmHWM %.1f MB", median(shares) * 100,
                     shares.count, statusMegabytes(sweep.process.pid, "VmHWM") ?? -1))
        fleet.stop()
        sweep.process.signal(SIGTERM)
        #expect(sweep.process.wait(timeout: 15) == 130)
    }

    @Test func efficiencyOfTwoLocalWorkers() throws {
        // 4 η × 3 |B| × 2 seeds = 24 cells + 2 warm starts of lenet-8-16 on the synthetic set:
        // about a minute per run on this 2-core machine.
        let grid = ["--synthetic", "--lr", "0.025:0.2:x2", "--batch", "16:64:x2", "--seeds", "2", "--warm-epochs", "1",
                    "--burn-in-steps", "1000", "--measure-steps", "1000", "--local-workers", "2", "--quiet"]
        let repeats = max(1, Int(ProcessInfo.processInfo.environment["TS_BENCH_EFFICIENCY_REPEATS"] ?? "") ?? Self.repeats)
        print("efficiency with 2 local workers (bar: wall ≤ 1.1 × sum of job wall seconds / 2)")
        var ratios: [Double] = []
        for _ in 0..<repeats {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let loadBefore = loadAverage()
            let start = ContinuousClock.now
            let sweep = try SweepProcess(grid, in: scratch)
            defer { sweep.kill9() }
            let status = sweep.process.wait(timeout: 900)
            let wall = elapsed(since: start)
            #expect(status == 0, "sweep exit \(String(describing: status)): \(sweep.process.stderr.suffix(1_000))")
            let store = try Store.openReadOnly(path: sweep.db)
            defer { try? store.close() }
            let results = try store.results()
            #expect(results.count == 26)
            let work = results.map(\.wallSeconds).reduce(0, +)
            let firstLease = try store.events(limit: 1_000_000).filter { $0.kind == "dispatched" }.map(\.at).min()
            let lastCommit = results.map(\.committedAt).max()
            var span = 0.0
            if let firstLease, let lastCommit { span = lastCommit.timeIntervalSince(firstLease) }
            let ratio = wall / (work / 2)
            print(String(format: "  process wall %.1f s, first lease → last result %.1f s, Σ job wall %.1f s → "
                            + "%.3f × (span: %.3f ×)", wall, span, work, ratio, span / (work / 2))
                    + "; load \(loadBefore) before, \(loadAverage()) after")
            ratios.append(ratio)
        }
        print(String(format: "  median %.3f × over %d runs", median(ratios), ratios.count))
    }
}
