import Testing
import Trainer

@Suite("Batch sampler")
struct BatchSamplerTests {
    @Test("the same arguments give the same batches; another seed gives others", arguments: [BatchSampler.Mode.iid, .shuffle])
    func determinism(mode: BatchSampler.Mode) {
        var a = BatchSampler(count: 1000, batchSize: 32, mode: mode, seed: 42)
        var b = BatchSampler(count: 1000, batchSize: 32, mode: mode, seed: 42)
        var c = BatchSampler(count: 1000, batchSize: 32, mode: mode, seed: 43)
        var buffer: [Int] = []
        var differ = false
        for _ in 0..<100 {
            let x = a.next()
            b.next(into: &buffer)
            #expect(x == buffer)
            if c.next() != x { differ = true }
        }
        #expect(differ)
        #expect(buffer.count == 32)
    }

    @Test("indices stay in range, for a batch larger than the data set too", arguments: [BatchSampler.Mode.iid, .shuffle])
    func range(mode: BatchSampler.Mode) {
        for (count, batch) in [(1, 4), (7, 3), (10, 25), (60_000, 128)] {
            var sampler = BatchSampler(count: count, batchSize: batch, mode: mode, seed: 1)
            for _ in 0..<20 {
                let indices = sampler.next()
                #expect(indices.count == batch)
                #expect(indices.allSatisfy { $0 >= 0 && $0 < count })
            }
        }
    }

    @Test("shuffle visits every index exactly once per epoch, batches straddling epoch ends")
    func shuffleCoversEachEpoch() {
        // 10 batches of 7 = 70 draws = 7 epochs of 10; batches 1, 2, 4, ... straddle epochs.
        let count = 10
        var sampler = BatchSampler(count: count, batchSize: 7, mode: .shuffle, seed: 9)
        var stream: [Int] = []
        var buffer = [Int](repeating: -1, count: 7)
        for _ in 0..<10 {
            sampler.next(into: &buffer)
            stream += buffer
        }
        #expect(sampler.epochsStarted == 7)
        var orders: [[Int]] = []
        for epoch in 0..<7 {
            let order = Array(stream[epoch * count..<(epoch + 1) * count])
            #expect(order.sorted() == Array(0..<count), "epoch \(epoch): \(order)")
            orders.append(order)
        }
        // A fresh permutation each epoch (7 equal permutations of 10 would be a 1 in 10^38 event).
        #expect(Set(orders).count > 1)
        #expect(orders[0] != Array(0..<count))

        // The real size: every one of 60 000 indices once in the first epoch.
        var big = BatchSampler(count: 60_000, batchSize: 128, mode: .shuffle, seed: 3)
        var seen = [Int](repeating: 0, count: 60_000)
        var indices: [Int] = []
        for _ in 0..<(60_000 / 128) {
            big.next(into: &indices)
            for i in indices { seen[i] += 1 }
        }
        // 468 batches = 59 904 draws; the rest of the epoch comes next.
        big.next(into: &indices)
        for i in indices.prefix(60_000 - 59_904) { seen[i] += 1 }
        #expect(seen.allSatisfy { $0 == 1 })
        #expect(big.epochsStarted == 2)
    }

    /// χ² over 1000 bins from 100 000 draws has 999 degrees of freedom: mean 999, standard deviation
    /// 44.7. The bound 1300 is 6.7 standard deviations out (never reached by a fair sampler; the
    /// seed is fixed anyway), while a sampler that reduced with a power-of-two mask or hit only
    /// the low indices would score in the tens of thousands.
    @Test("iid draws are uniform: chi-square over 1000 bins")
    func iidUniform() {
        let count = 1000, batch = 500, batches = 200
        var sampler = BatchSampler(count: count, batchSize: batch, mode: .iid, seed: 2024)
        var histogram = [Int](repeating: 0, count: count)
        var indices: [Int] = []
        for _ in 0..<batches {
            sampler.next(into: &indices)
            for i in indices { histogram[i] += 1 }
        }
        let expected = Double(batch * batches) / Double(count)
        let chi2 = histogram.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        #expect(chi2 < 1300, "χ² = \(chi2) over \(count - 1) degrees of freedom")
        #expect(chi2 > 700, "χ² = \(chi2) is too good to be random")
        // The halves and the top bins are reached as often as the rest.
        let upper = histogram[500...].reduce(0, +)
        #expect(abs(Double(upper) / Double(batch * batches) - 0.5) < 0.01)
        #expect(histogram.allSatisfy { $0 > 0 })

        // iid draws repeat within a batch (with replacement); shuffle's never do within an epoch.
        var iid = BatchSampler(count: 100, batchSize: 100, mode: .iid, seed: 5)
        #expect(Set(iid.next()).count < 100)
        var shuffled = BatchSampler(count: 100, batchSize: 100, mode: .shuffle, seed: 5)
        #expect(Set(shuffled.next()).count == 100)
    }

    @Test("the mode's raw values are stable (they are stored in job specs)")
    func modeCoding() {
        #expect(BatchSampler.Mode.iid.rawValue == "iid")
        #expect(BatchSampler.Mode.shuffle.rawValue == "shuffle")
        #expect(BatchSampler.Mode(rawValue: "shuffle") == .shuffle)
    }
}
