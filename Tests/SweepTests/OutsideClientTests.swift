// PROTOCOL.md is enough to write a worker: a client in Python (pyzmq), written from the spec alone,
// is admitted, runs a trivial job, gets its ACK and the sweep's BYE; every deviation the spec
// forbids that it sends on the way is answered as the spec says (REFUSE malformed for a READY,
// ERROR malformed for the rest), naming the field.
import Foundation
import TestSupport
import Testing

@Suite(.ownThread) struct OutsideClientTests {
    static let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/outside_client.py").path

    @Test func aClientWrittenFromTheSpecRunsAJob() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let sweep = try SweepProcess(["--trivial-ms", "100", "--lr", "0.1", "--batch", "8", "--seeds", "1"], in: scratch)
        defer { sweep.process.kill9() }
        let version = try Spawned(["--version"], outputPrefix: scratch.file("version"))
        #expect(version.wait(timeout: 10) == 0)
        let release = try #require(version.stdout.split(separator: " ").first.map(String.init))
        // Debian's python3, where python3-zmq (make test-deps) puts pyzmq.
        let client = try Spawned([Self.client, sweep.endpoint, release], outputPrefix: scratch.file("client"),
                                 executable: "/usr/bin/python3")
        defer { client.kill9() }
        #expect(client.wait(timeout: 60) == 0, "\(client.stdout)\(client.stderr)")
        #expect(client.stdout.components(separatedBy: "refused as the spec says").count - 1 == 9, "\(client.stdout)")
        #expect(sweep.process.wait(timeout: 30) == 0, "\(sweep.process.stderr)")
        #expect(try counts(sweep.db).done == 1)
    }
}
