import Cell
import Foundation
@testable import SweepProtocol
import Testing

/// The bodies that write themselves (`JSONWritable`) give JSONEncoder's bytes exactly, so the wire
/// is the same whichever writes it: a field added to a type but not to its `write(to:)`, a key out
/// of order or a number spelled differently fails here.
@Suite struct JSONWriterTests {
    static func encoderBytes(_ value: any Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    static func expectSameBytes(_ body: any MessageBody, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard let writable = body as? any JSONWritable else {
            Issue.record("\(type(of: body)) does not write itself", sourceLocation: sourceLocation)
            return
        }
        let written = JSONWriter.bytes(of: writable), encoded = try encoderBytes(body)
        #expect(String(decoding: written, as: UTF8.self) == String(decoding: encoded, as: UTF8.self),
                sourceLocation: sourceLocation)
    }

    /// The bodies sent per job: JOB, RESULT, ACK, CANCEL and HEARTBEAT, in every fixture variant.
    @Test func everyFixtureBodyOfThePerJobCommands() throws {
        var checked = Set<String>()
        for message in Fixtures.all {
            switch message {
            case .job, .result, .ack, .cancel, .heartbeat:
                try Self.expectSameBytes(message.body)
                checked.insert(message.command.rawValue)
            default:
                #expect(!(message.body is any JSONWritable), "\(message.command.rawValue) writes itself: add it above")
            }
        }
        #expect(checked == ["JOB", "RESULT", "ACK", "CANCEL", "HEARTBEAT"])
    }

    /// Random leases and results: every optional present and absent, numbers of every magnitude
    /// (exponents, integral doubles, negative zero), strings that need escapes.
    @Test func randomJobsAndResults() throws {
        var rng = SeededRNG(seed: 20_261_207)
        let texts = ["", "plain", #"a "quoted" \ key"#, "tab\tline\n\u{1}\u{1F}\u{7F}", "/usr/share/η😀", "\u{2028}\u{FEFF}"]
        func double() -> Double {
            switch rng.int(below: 5) {
            case 0: return Double(rng.int(below: 1_000))
            case 1: return (rng.uniform() - 0.5) * pow(10, Double(rng.int(below: 40) - 20))
            case 2: return [0.05, 0.1, 1e-6, 10, -0.0, 1e16, 1e15, 5e-324][rng.int(below: 8)]
            default: return rng.uniform()
            }
        }
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { rng.int(below: 2) == 0 ? nil : value() }
        func text() -> String { texts[rng.int(below: texts.count)] }
        for _ in 0..<400 {
            let kind = JobKind.allCases[rng.int(below: 3)]
            let job = JobLease(jobId: rng.int(below: 10_000_000), attempt: rng.int(below: 1_000), kind: kind, key: text(),
                               expectedCost: rng.int(below: 1 << 50), seedIndex: rng.int(below: 100_000),
                               learningRate: double(), batchSize: rng.int(below: 4_096), momentum: maybe(double()),
                               batchMode: maybe(rng.int(below: 2) == 0 ? .iid : .shuffle),
                               checkpoint: maybe(Array(text().utf8)))
            try Self.expectSameBytes(job)
            let result = rng.int(below: 2) == 0
                ? JobResult.done(jobId: job.jobId, attempt: job.attempt, kind: kind, wallSeconds: abs(double()),
                                 result: Array(text().utf8), checkpoint: maybe(Array(text().utf8)))
                : JobResult.failed(jobId: job.jobId, attempt: job.attempt, kind: kind, wallSeconds: abs(double()),
                                   errorKind: rng.int(below: 2) == 0 ? .deterministic : .transient, message: text())
            try Self.expectSameBytes(result)
            try Self.expectSameBytes(JobRef(jobId: job.jobId, attempt: job.attempt))
            try Self.expectSameBytes(Cancel(jobId: job.jobId, attempt: job.attempt,
                                            reason: CancelReason.allCases[rng.int(below: CancelReason.allCases.count)]))
            try Self.expectSameBytes(Heartbeat(jobs: (0..<rng.int(below: 4)).map { _ in
                JobProgress(jobId: rng.int(below: 100), attempt: 1 + rng.int(below: 9), step: rng.int(below: 1 << 40),
                            totalSteps: rng.int(below: 1 << 40))
            }))
        }
    }
}
