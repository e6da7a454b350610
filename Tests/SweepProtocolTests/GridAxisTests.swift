import Testing
@testable import SweepProtocol

@Suite("Grid axes from the command line")
struct GridAxisTests {
    @Test("geometric learning rates end exactly on the printed end value")
    func geometric() throws {
        let lrs = try GridAxis.learningRates("0.0125:0.2:x2")
        #expect(lrs == [0.0125, 0.025, 0.05, 0.1, 0.2])
        #expect(lrs.last == 0.2)
        #expect(lrs.map { "\($0)" } == ["0.0125", "0.025", "0.05", "0.1", "0.2"])
        // Factor 3 drifts in binary without snapping (0.1·3 = 0.30000000000000004).
        #expect(0.1 * 3 != 0.3)
        #expect(try GridAxis.learningRates("0.1:2.7:x3") == [0.1, 0.3, 0.9, 2.7])
        #expect(try GridAxis.learningRates("0.01:0.27:x3") == [0.01, 0.03, 0.09, 0.27])
        #expect(try GridAxis.learningRates("0.001:1:x10") == [0.001, 0.01, 0.1, 1])
        #expect(try GridAxis.learningRates("0.1:1:x1.5") == [0.1, 0.15, 0.225, 0.3375, 0.50625, 0.759375])
        // The end is inclusive only if reached; a range past it stops below.
        #expect(try GridAxis.learningRates("0.0125:0.3:x2") == [0.0125, 0.025, 0.05, 0.1, 0.2])
        #expect(try GridAxis.learningRates("0.05:0.05:x2") == [0.05])
    }

    @Test("arithmetic learning rates do not drift")
    func arithmetic() throws {
        #expect(0.1 + 2 * 0.1 != 0.3)
        #expect(try GridAxis.learningRates("0.1:0.5:+0.1") == [0.1, 0.2, 0.3, 0.4, 0.5])
        #expect(try GridAxis.learningRates("0.01:0.05:+0.01") == [0.01, 0.02, 0.03, 0.04, 0.05])
    }

    @Test("lists, single values, spaces")
    func lists() throws {
        #expect(try GridAxis.learningRates("0.01,0.02,0.05") == [0.01, 0.02, 0.05])
        #expect(try GridAxis.learningRates("0.05") == [0.05])
        #expect(try GridAxis.learningRates(" 0.05 , 1e-3") == [0.05, 0.001])
        #expect(try GridAxis.batchSizes("8,16") == [8, 16])
        #expect(try GridAxis.batchSizes("32") == [32])
    }

    @Test("batch sizes: geometric and arithmetic")
    func batches() throws {
        #expect(try GridAxis.batchSizes("8:128:x2") == [8, 16, 32, 64, 128])
        #expect(try GridAxis.batchSizes("8:64:+8") == [8, 16, 24, 32, 40, 48, 56, 64])
        #expect(try GridAxis.batchSizes("8:100:x2") == [8, 16, 32, 64])
        #expect(try GridAxis.batchSizes("1:4096:x2").count == 13)
    }

    @Test("errors quote the option and the bad text", arguments: [
        ("0.2:0.0125:x2", "start 0.2 is larger than end 0.0125"),
        ("a:0.2:x2", "'a' is not a number"),
        ("0.01:b:x2", "'b' is not a number"),
        ("0.01:0.2:y2", "step 'y2' must be x<factor>"),
        ("0.01:0.2", "a range is start:end:step"),
        ("0.01:0.2:x2:x2", "a range is start:end:step"),
        ("0.01:0.2:x1", "factor 1.0 must be larger than 1"),
        ("0.01:0.2:x", "step 'x' needs a positive number"),
        ("0.01:0.2:+0", "step '+0' needs a positive number"),
        ("0.01:0.2:+-1", "needs a positive number"),
        ("0.01,,0.02", "value 2 is empty"),
        ("", "value 1 is empty"),
        ("nan", "'nan' is not a number"),
        ("inf", "'inf' is not a number"),
        ("0x1p-4", "'0x1p-4' is not a number"),
        ("0", "learning rate 0.0 is out of range"),
        ("-0.1", "learning rate -0.1 is out of range"),
        ("11", "learning rate 11.0 is out of range"),
        ("0.01,0.010", "0.01 is listed twice"),
        ("0.0125:100:x2", "learning rate 12.8 is out of range"),
        ("0.0001:10:+0.0001", "more than 1000 values"),
    ])
    func learningRateErrors(text: String, message: String) {
        do {
            let values = try GridAxis.learningRates(text)
            Issue.record("accepted \(values)")
        } catch {
            #expect(error.description.hasPrefix("--lr '\(text)': "), "\(error)")
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test("batch errors", arguments: [
        ("0", "batch size 0 is out of range"),
        ("8:8192:x2", "batch sizes must be 1 to 4096"),
        ("8:64:x1.5", "step 'x1.5' needs a whole number"),
        ("8:64:x1", "factor 1 must be at least 2"),
        ("8:64:+0", "step '+0' needs a whole number of at least 1"),
        ("8.5", "'8.5' is not a whole number"),
        ("64:8:x2", "start 64 is larger than end 8"),
        ("8,16,8", "8 is listed twice"),
        ("5000", "batch size 5000 is out of range"),
    ])
    func batchErrors(text: String, message: String) {
        do {
            let values = try GridAxis.batchSizes(text)
            Issue.record("accepted \(values)")
        } catch {
            #expect(error.description.hasPrefix("--batch '\(text)': "), "\(error)")
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test("snap keeps 12 significant digits and leaves exact values alone")
    func snap() {
        #expect(GridAxis.snap(0.30000000000000004) == 0.3)
        #expect(GridAxis.snap(0.2) == 0.2)
        #expect(GridAxis.snap(0) == 0)
        #expect(GridAxis.snap(123_456.789) == 123_456.789)
    }
}
