import Foundation
import Store
import SweepProtocol
import Testing
import ZeroMQ

extension FailureTests.Windows {
    /// RELIABILITY.md test 5: duplicate, stale and unknown-job RESULTs from a hand-played worker to a
    /// real coordinator process are answered and logged, and never counted twice.
    @Suite struct ResultIdempotenceTests {
        // Liveness 10 beats: the hand-played worker speaks only when the test does.
        static let grid = ["--trivial-ms", "0", "--lr", "0.1,0.2,0.3", "--batch", "8", "--seeds", "1",
                           "--heartbeat-ms", "1000", "--liveness", "10"]

        /// Result rows and job counts of the database.
        private func journal(_ db: String) throws -> (results: [ResultRecord], counts: StateCounts) {
            let store = try Store.openReadOnly(path: db)
            defer { try? store.close() }
            return (try store.results(), try store.counts())
        }

        @Test func duplicateStaleAndUnknownResultsAreAnsweredAndNeverCounted() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let sweep = try SweepProcess(Self.grid, in: scratch)
            defer { sweep.process.kill9() }
            let peer = try RawPeer(sweep.endpoint, name: "hand")

            try peer.send(peer.ready())
            #expect(try peer.receive(asWelcome) != nil)
            let first = try #require(try peer.receive(asJob))
            #expect(first.attempt == 1)

            // The first result counts and is ACKed; the next job follows.
            try peer.send(trivialResult(first.ref))
            #expect(try peer.receive(asAck) == first.ref)
            let second = try #require(try peer.receive(asJob))
            let afterFirst = try journal(sweep.db)
            #expect(afterFirst.results.map(\.jobId) == [first.jobId])
            #expect(afterFirst.counts.done == 1)

            // Duplicate: ACKed again, nothing new in the database.
            try peer.send(trivialResult(first.ref, wallSeconds: 9))
            #expect(try peer.receive(asAck) == first.ref)
            #expect(try journal(sweep.db).results == afterFirst.results)

            // READY without the second lease: the coordinator drops it and leases attempt 2.
            try peer.send(peer.ready())
            #expect(try peer.receive(asWelcome) != nil)
            let retried = try #require(try peer.receive(asJob))
            #expect(retried.jobId == second.jobId && retried.attempt == second.attempt + 1,
                    "JOB #\(retried.jobId) attempt \(retried.attempt) after dropping #\(second.jobId)")

            // Stale: the dropped attempt's result, and one for an attempt never leased.
            let beforeStale = try journal(sweep.db)
            try peer.send(trivialResult(second.ref))
            #expect(try peer.receive(asAck) == second.ref)
            let future = JobRef(jobId: second.jobId, attempt: retried.attempt + 5)
            try peer.send(trivialResult(future))
            #expect(try peer.receive(asAck) == future)
            let afterStale = try journal(sweep.db)
            #expect(afterStale.results == beforeStale.results)
            #expect(afterStale.counts == beforeStale.counts)

            // Unknown job: ERROR unknownJob, no ACK, nothing written.
            try peer.send(trivialResult(JobRef(jobId: 999, attempt: 1)))
            let unknown = try #require(try peer.receive(asError))
            #expect(unknown.code == .unknownJob)
            #expect(unknown.message.contains("999"))
            #expect(try journal(sweep.db).results == afterStale.results)

            // The current attempt counts; its duplicate (even after the stale ones) does not.
            try peer.send(trivialResult(retried.ref))
            #expect(try peer.receive(asAck) == retried.ref)
            let third = try #require(try peer.receive(asJob))
            try peer.send(trivialResult(retried.ref))
            #expect(try peer.receive(asAck) == retried.ref)
            try peer.send(trivialResult(second.ref))
            #expect(try peer.receive(asAck) == second.ref)
            let afterSecond = try journal(sweep.db)
            #expect(afterSecond.counts.done == 2)
            #expect(afterSecond.results.count == 2)
            #expect(afterSecond.results.first { $0.jobId == second.jobId }?.attempt == retried.attempt)

            // The last job ends the sweep: BYE, exit 0, one result row per job.
            try peer.send(trivialResult(third.ref))
            #expect(try peer.receive(asAck) == third.ref)
            #expect(try peer.receive(asBye) != nil)
            #expect(sweep.process.wait(timeout: 30) == 0, "\(sweep.process.stderr)")
            let end = try journal(sweep.db)
            #expect(end.results.count == 3)
            #expect(Set(end.results.map(\.jobId)).count == 3)
            #expect(end.counts.done == 3)
            #expect(end.results.first { $0.jobId == first.jobId }?.wallSeconds == 0.001, "the duplicate's wall time was not kept")

            // Journaled, never counted: three duplicates and two stale results, each naming its attempt.
            let store = try Store.openReadOnly(path: sweep.db)
            defer { try? store.close() }
            #expect(try store.misfitCounts() == MisfitCounts(duplicate: 3, stale: 2))
            let misfits = try store.events(limit: 1_000_000).filter { $0.kind == "duplicate" || $0.kind == "stale" }
                .map { "\($0.kind) #\($0.jobId ?? 0)/\($0.attempt ?? 0)" }
            #expect(misfits == ["duplicate #\(first.jobId)/1", "stale #\(second.jobId)/\(second.attempt)",
                                "stale #\(second.jobId)/\(future.attempt)", "duplicate #\(second.jobId)/\(retried.attempt)",
                                "duplicate #\(second.jobId)/\(second.attempt)"])

            // Logged: two duplicates of counted results, and the two stale ones.
            #expect(sweep.logLines(containing: "duplicate result #\(first.jobId) attempt 1").count == 1)
            #expect(sweep.logLines(containing: "duplicate result #\(second.jobId) attempt \(retried.attempt)").count == 1)
            #expect(sweep.logLines(containing: "result #\(second.jobId) attempt \(second.attempt) from").count == 2,
                    "stale while running, duplicate after: \(sweep.process.stderr)")
            #expect(sweep.logLines(containing: "stale result #\(second.jobId) attempt \(future.attempt)").count == 1)
        }
    }
}
