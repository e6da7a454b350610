import Coordinator
import Foundation
import SweepProtocol
import Testing
import TestSupport

/// Throughput and scaling of the scheduler alone (no sockets, no journal). Release builds run the
/// full sizes; the timing thresholds apply only when benchmarking (`TS_BENCH=1`), because a timing
/// belongs in a benchmark report, not in the pass/fail of the suite on a shared machine. Debug
/// builds run a small version; every build checks correctness.
@Suite struct SchedulerBenchmarkTests {
    static let isRelease = Benchmark.isReleaseBuild
    static let benchmarking = Benchmark.enabled

    /// Trivial jobs: `lrCount` learning rates × `batchCount` batch sizes × `seeds`.
    static func jobs(lrCount: Int, batchCount: Int, seeds: Int) -> [JobDescriptor] {
        Harness.trivialJobs(learningRates: (1...lrCount).map { Double($0) / 1_000 },
                            batchSizes: (1...batchCount).map { $0 * 8 }, seeds: seeds)
    }

    /// Resident set size in bytes (Linux `/proc/self/statm`), or nil elsewhere.
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func seconds(_ d: Duration) -> Double { d / .seconds(1) }

    /// READY → JOB → RESULT → ACK + JOB cycles of trivial jobs through 8 one-slot workers.
    @Test func dispatchThroughputThroughEightWorkers() {
        let descriptors = Self.isRelease ? Self.jobs(lrCount: 50, batchCount: 20, seeds: 20)  // 20,000
                                         : Self.jobs(lrCount: 10, batchCount: 10, seeds: 5)   // 500
        let results = descriptors.map { Harness.doneResult($0.id, attempt: 1, kind: .trivial) }
        var config = SchedulerConfig(version: "1", dataset: nil, specHash: "00000000000000aa", coordinatorNonce: "00000001")
        config.timing.heartbeat = .milliseconds(1_000)
        var scheduler = Scheduler(jobs: descriptors, config: config)
        let peers = (1...8).map { PeerID("bench/\($0)/0000000\($0)") }
        var inFlight: [(PeerID, Int)] = []
        var head = 0
        var events = 0
        var acks = 0
        var finished = false
        var nowMs: Int64 = 0
        func absorb(_ effects: [Effect]) {
            for effect in effects {
                switch effect {
                case .send(let peer, .job(let job)): inFlight.append((peer, job.jobId))
                case .send(_, .ack): acks += 1
                case .finished: finished = true
                default: break
                }
            }
        }
        let clock = ContinuousClock()
        let start = clock.now
        for peer in peers {
            absorb(scheduler.handle(.message(peer, .ready(Harness.readyBody(peer.description, version: "1"))), now: Instant(milliseconds: nowMs)))
            events += 1
        }
        while head < inFlight.count {
            let (peer, id) = inFlight[head]
            head += 1
            nowMs += 1
            absorb(scheduler.handle(.message(peer, .result(results[id - 1])), now: Instant(milliseconds: nowMs)))
            events += 1
            if head % 100 == 0 {
                absorb(scheduler.handle(.tick(), now: Instant(milliseconds: nowMs)))
                events += 1
            }
        }
        let elapsed = Self.seconds(clock.now - start)
        #expect(finished)
        #expect(acks == descriptors.count)
        #expect(inFlight.count == descriptors.count)
        let jobsPerSecond = Double(descriptors.count) / elapsed
        print("scheduler throughput: \(descriptors.count) jobs, \(events) events in \(String(format: "%.3f", elapsed)) s: "
              + "\(Int(jobsPerSecond)) jobs/s, \(Int(Double(events) / elapsed)) events/s (8 workers, 1 slot)")
        if Self.benchmarking { #expect(jobsPerSecond >= 5_000) }
    }

    /// Admits `workerCount` two-slot workers over `jobs`, then times `rounds` rounds in which every
    /// worker heartbeats its two jobs (step + 1) and the loop ticks once.
    static func heartbeatCost(jobs descriptors: [JobDescriptor], workerCount: Int, rounds: Int) -> (perBeat: Double, tick: Double) {
        let config = SchedulerConfig(version: "1", dataset: nil, specHash: "00000000000000aa", coordinatorNonce: "00000001")
        var scheduler = Scheduler(jobs: descriptors, config: config)
        let peers = (0..<workerCount).map { PeerID("hb/\($0)/00000000") }
        var now = Instant(milliseconds: 0)
        for peer in peers {
            _ = scheduler.handle(.message(peer, .ready(Harness.readyBody(peer.description, slots: 2, version: "1"))), now: now)
        }
        let held = peers.map { peer in scheduler.jobs(of: peer) }
        let clock = ContinuousClock()
        var beatTime = Duration.zero
        var tickTime = Duration.zero
        for round in 1...rounds {
            now = now.advanced(by: .milliseconds(1_000))
            let t0 = clock.now
            for (peer, ids) in zip(peers, held) {
                let beat = Heartbeat(jobs: ids.map { JobProgress(jobId: $0, attempt: 1, step: round, totalSteps: 1_000_000) })
                let effects = scheduler.handle(.message(peer, .heartbeat(beat)), now: now)
                #expect(effects.isEmpty)
            }
            let t1 = clock.now
            let effects = scheduler.handle(.tick(), now: now)
            tickTime += clock.now - t1
            beatTime += t1 - t0
            #expect(effects.changes.isEmpty)
        }
        return (seconds(beatTime) / Double(rounds * workerCount), seconds(tickTime) / Double(rounds))
    }

    /// Per-heartbeat cost depends on the worker's jobs, not on the sweep's size.
    @Test func heartbeatCostDoesNotGrowWithTheNumberOfJobs() {
        let workers = Self.isRelease ? 500 : 50
        let rounds = Self.isRelease ? 40 : 4
        let small = Self.jobs(lrCount: 5, batchCount: 10, seeds: Self.isRelease ? 20 : 2)    // 1,000 (100)
        let large = Self.jobs(lrCount: 25, batchCount: 20, seeds: Self.isRelease ? 20 : 2)   // 10,000 (1,000)
        let rssBefore = Self.residentBytes()
        let clock = ContinuousClock()
        let buildStart = clock.now
        let built = Scheduler(jobs: large, config: SchedulerConfig(version: "1", dataset: nil, specHash: "00000000000000aa",
                                                                   coordinatorNonce: "00000001"))
        let buildTime = Self.seconds(clock.now - buildStart)
        let rssAfter = Self.residentBytes()
        #expect(built.state(of: large.count) == .queued)
        // Warm up, then take the median of three measurements of each size.
        _ = Self.heartbeatCost(jobs: small, workerCount: workers, rounds: 2)
        var smallCosts: [Double] = [], largeCosts: [Double] = [], ticks: [Double] = []
        for _ in 0..<3 {
            smallCosts.append(Self.heartbeatCost(jobs: small, workerCount: workers, rounds: rounds).perBeat)
            let measured = Self.heartbeatCost(jobs: large, workerCount: workers, rounds: rounds)
            largeCosts.append(measured.perBeat)
            ticks.append(measured.tick)
        }
        let smallMedian = smallCosts.sorted()[1], largeMedian = largeCosts.sorted()[1], tickMedian = ticks.sorted()[1]
        var rss: Int?
        if let before = rssBefore, let after = rssAfter { rss = (after - before) / 1_024 }
        print("scheduler heartbeats, \(workers) workers × 2 jobs: \(String(format: "%.2f", smallMedian * 1e6)) µs/beat with "
              + "\(small.count) jobs, \(String(format: "%.2f", largeMedian * 1e6)) µs/beat with \(large.count) jobs; "
              + "tick \(String(format: "%.1f", tickMedian * 1e6)) µs; building \(large.count) jobs "
              + "\(String(format: "%.1f", buildTime * 1e3)) ms, RSS +\(rss.map { "\($0) KiB" } ?? "n/a")")
        if Self.benchmarking {
            // O(jobs of that worker): ten times the jobs may not make a heartbeat much dearer.
            #expect(largeMedian < 3 * smallMedian)
            #expect(largeMedian < 50e-6)
        }
    }
}
