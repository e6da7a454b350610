import Foundation
import Store
import Testing

extension FailureTests.Windows {
    /// RELIABILITY.md test 13: with CURVE on, only workers holding an allowed key get jobs.
    @Suite struct CurveAdmissionTests {
        /// Runs `thermosweep keygen --out prefix` and returns the public key it printed.
        private func keygen(_ prefix: String) throws -> String {
            let process = try Spawned(["keygen", "--out", prefix], outputPrefix: prefix + "-keygen")
            #expect(process.wait(timeout: 30) == 0, "\(process.stderr)")
            let text = try String(contentsOfFile: prefix + ".pub", encoding: .utf8)
            return try #require(text.split(separator: "\n").last { !$0.hasPrefix("#") }).trimmingCharacters(in: .whitespaces)
        }

        @Test func onlyTheAllowedKeyGetsJobs() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            _ = try keygen(scratch.file("coordinator"))
            let keyA = try keygen(scratch.file("a"))
            let keyB = try keygen(scratch.file("b"))
            let sweep = try SweepProcess(["--curve-secret", scratch.file("coordinator.key"), "--curve-allow", scratch.file("a.pub"),
                                          "--trivial-ms", "300", "--lr", "0.1,0.2", "--batch", "8,16", "--seeds", "2",
                                          "--heartbeat-ms", "200"], in: scratch)
            defer { sweep.process.kill9() }
            func worker(_ name: String, _ extra: [String]) throws -> Spawned {
                try Spawned(["worker", "--connect", sweep.endpoint, "--no-data", "--name", name, "--heartbeat-ms", "200"] + extra,
                            outputPrefix: scratch.file(name))
            }
            let curve = ["--curve-server-key", scratch.file("coordinator.pub")]
            // B and C first, so that they would get jobs if they were admitted.
            let b = try worker("worker-b", curve + ["--curve-key", scratch.file("b.key")])
            defer { b.kill9() }
            let c = try worker("worker-c", [])
            defer { c.kill9() }
            #expect(eventually(timeout: 30) { !sweep.logLines(containing: "key \(keyB) from 127.0.0.1").isEmpty },
                    "no refusal of B logged: \(sweep.process.stderr)")
            // C fails the handshake before ZAP (no CURVE at all): it says why and exits (below). The
            // coordinator logs such handshakes without an address, rate-limited, when it reads C's
            // greeting before C hangs up (a race C usually wins now). C learns of the mismatch only
            // when the coordinator's greeting reaches it before the coordinator hangs up: a race
            // that C can lose for half a minute on a loaded machine (once in 30 tries, with three
            // busy loops beside it on 2 cores), retrying meanwhile and saying why.
            #expect(c.wait(timeout: 90) == 2, "\(c.stderr)")
            let a = try worker("worker-a", curve + ["--curve-key", scratch.file("a.key")])
            defer { a.kill9() }

            #expect(sweep.process.wait(timeout: 90) == 0, "\(sweep.process.stderr)")
            #expect(a.wait(timeout: 15) == 0, "\(a.stderr)")
            let store = try Store.openReadOnly(path: sweep.db)
            defer { try? store.close() }
            let results = try store.results()
            #expect(results.count == 8)
            #expect(Set(results.map(\.worker)).count == 1, "only A ran jobs: \(Set(results.map(\.worker)))")
            #expect(sweep.logLines(containing: "worker worker-a admitted:").count == 1, "A admitted once")
            #expect(sweep.logLines(containing: "worker-b").isEmpty && sweep.logLines(containing: "worker-c").isEmpty,
                    "B and C never spoke TSW6 to the coordinator")
            #expect(!sweep.logLines(containing: "refused CURVE peer key \(keyB) from 127.0.0.1").isEmpty)
            #expect(sweep.logLines(containing: "key \(keyA)").isEmpty, "A was never refused")
            #expect(sweep.logLines(containing: "from a client without CURVE").count <= 2, "one line per 10 s at most")
            // B learns that its key was refused and exits 2 naming it; C (no CURVE) learns that the
            // coordinator uses CURVE and exits 2 saying which options it lacks; neither was
            // dismissed with BYE.
            #expect(b.wait(timeout: 10) == 2, "\(b.stderr)")
            #expect(b.stderr.contains("refused this worker's CURVE key \(keyB)"), "\(b.stderr)")
            #expect(c.stderr.contains("uses CURVE and this worker does not: give it --curve-server-key"), "\(c.stderr)")
            #expect(!b.stderr.contains("ended the sweep") && !c.stderr.contains("ended the sweep"))
        }

        /// A worker holding the wrong coordinator key cannot complete a handshake; it exits 2 naming
        /// the key mismatch instead of dialling forever.
        @Test func aWrongServerKeyIsNamedAndEndsTheWorker() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            _ = try keygen(scratch.file("coordinator"))
            let other = try keygen(scratch.file("other"))
            _ = try keygen(scratch.file("a"))
            let sweep = try SweepProcess(["--curve-secret", scratch.file("coordinator.key"), "--curve-allow", scratch.file("a.pub"),
                                          "--trivial-ms", "100", "--lr", "0.1", "--batch", "8", "--seeds", "1"], in: scratch)
            defer { sweep.process.kill9() }
            let worker = try Spawned(["worker", "--connect", sweep.endpoint, "--no-data", "--curve-server-key",
                                      scratch.file("other.pub"), "--curve-key", scratch.file("a.key")],
                                     outputPrefix: scratch.file("worker"))
            defer { worker.kill9() }
            #expect(worker.wait(timeout: 10) == 2, "\(worker.stderr)")
            #expect(worker.stderr.contains("the key given with --curve-server-key (\(other)) does not match the coordinator's"),
                    "\(worker.stderr)")
        }
    }
}
