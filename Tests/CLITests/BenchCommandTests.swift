import Foundation
import Testing

@Suite struct BenchCommandTests {
    @Test func jsonRowsHavePositiveThroughput() throws {
        let r = try CLI.run(["bench", "--models", "lenet-4-8", "--batches", "8", "--seconds", "0.05",
                             "--repetitions", "1", "--no-gemm", "--json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(object?["format"] as? String == "thermosweep-bench/1")
        let rows = try #require(object?["rows"] as? [[String: Any]])
        #expect(rows.count == 1)
        #expect((rows.first?["images_per_s"] as? Double ?? 0) > 0)
    }

    @Test(arguments: [
        (["--models", "lenet-9"], "unknown model 'lenet-9'"),
        (["--models", ""], "--models is empty"),
        (["--batches", ""], "--batches is empty"),
        (["--batches", "8,,16"], "batch '' in --batches"),
        (["--batches", "0"], "batch '0' in --batches"),
    ])
    func badListsAreRefused(args: [String], message: String) throws {
        let r = try CLI.run(["bench"] + args)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "stderr lacks '\(message)': \(r.stderr)")
    }
}
