import Foundation
import SweepProtocol
import Testing
import Worker

/// The trivial runner writes its record directly: it must read back, with any key, as the JSON
/// object JSONSerialization wrote before (keys sorted, the same values).
@Suite struct TrivialRecordTests {
    @Test(arguments: ["trivial/lr=0.05/b=32/seed=1", #"a "quoted" \ key"#, "tab\tnew\nline\u{1}\u{1F}", "η/|B| ✓ 😀", ""])
    func theRecordReadsBackWithItsKey(key: String) throws {
        var job = try trivialJob(id: 7, attempt: 2, millis: 0)
        job.key = key
        let result = try #require(TrivialJobRunner().run(job, progress: JobProgressCounter(totalSteps: 1)))
        let bytes = Data(result.result ?? [])
        let object = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        #expect(object["key"] as? String == key)
        #expect(object["format"] as? String == FormatTag.trivial)
        #expect(object["jobId"] as? Int == 7 && object["attempt"] as? Int == 2)
        #expect(object["millis"] as? Int == 0 && object["steps"] as? Int == 1)
        let keys = String(decoding: bytes, as: UTF8.self).matches(of: /"([a-zA-Z]+)":/).map { String($0.1) }
        #expect(keys == ["attempt", "format", "jobId", "key", "millis", "steps"])
    }
}
