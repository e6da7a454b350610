import Cell

/// A record shaped like a cell result: 45 kB of nested objects and arrays of 17-digit numbers, with
/// a trivial job's `format` (the benchmarks of what the coordinator does with a real result's size).
public enum RealSizedRecord {
    public static let bytes: [UInt8] = {
        var rng = SplitMix64(seed: 45)
        func number() -> String { "\(Double(rng.next() >> 11) / Double(1 << 53) * 3 - 1)" }
        var groups: [String] = []
        while groups.joined(separator: ",").utf8.count < 44_000 {
            let blocks = (0..<10).map { _ in number() }.joined(separator: ",")
            groups.append(#"{"name":"conv\#(groups.count).weight","estimates":{"diffusion":{"value":\#(number()),"#
                          + #""seLogT":\#(number()),"blocks":[\#(blocks)]}},"filters":[\#(blocks)]}"#)
        }
        return Array(#"{"format":"thermosweep-trivial/1","thermometer":{"groups":[\#(groups.joined(separator: ","))]}}"#.utf8)
    }()
}
