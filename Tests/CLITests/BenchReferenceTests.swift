import Cell
import Foundation
import TestSupport
import Testing
@testable import thermosweep

/// python3 on PATH, when it imports torch.
private let torchPython: URL? = {
    guard let python = CLI.which("python3"),
          let r = try? CLI.run(["-c", "import torch"], executable: python, timeout: 300), r.status == 0 else {
        return nil
    }
    return python
}()

/// scripts/bench_reference.py builds the networks `bench` times, on the same inputs. It needs torch,
/// which CI does not install: the suite runs only where python3 imports it.
@Suite(.enabled(if: torchPython != nil,
                "python3 cannot import torch (pip install -r scripts/requirements-bench.txt to run these)"),
        .ownThread(.cpuBound))
struct BenchReferenceTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/bench_reference.py").standardizedFileURL.path

    @Test("--self-test: parameter counts, shapes and FLOPs of every built-in and a few layer lists")
    func selfTestPasses() throws {
        let python = try #require(torchPython)
        let r = try CLI.run([Self.script, "--self-test"], executable: python, timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("checks passed") && !r.stdout.contains("FAILED"), "\(r.stdout)")
    }

    @Test("--describe gives each model's input, parameter count and training FLOPs as the Swift side does")
    func describeMatchesTheCellContract() throws {
        let python = try #require(torchPython)
        let lists = ["conv3x3:8:same,relu,maxpool2,conv2x2:4,avgpool3,dense:12,tanh,dense:10",
                     "conv5x5:4,maxpool2,conv5x5:4,maxpool2,conv5x5:4,dense:10", "dense:32,tanh,dense:10"]
        var models = ModelKind.builtIns
        for text in lists { models.append(try ModelKind(parsing: text)) }
        let r = try CLI.run([Self.script, "--describe", "--models", ModelKind.builtIns.map(\.rawValue).joined(separator: ",")]
                            + lists.flatMap { ["--model", $0] }, executable: python, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let described = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(described.count == models.count)
        for (model, d) in zip(models, described) {
            let shape = BenchCommand.input(for: model, given: nil)
            let placed = try model.placed(input: .image(channels: shape.channels, height: shape.height,
                                                        width: shape.width), classes: 10)
            #expect(d["model"] as? String == model.rawValue)
            #expect(d["input"] as? String == "\(shape)", "\(model)")
            #expect(d["parameters"] as? Int == placed.reduce(0) { $0 + $1.weightCount + $1.biasCount }, "\(model)")
            #expect(d["flops_per_image"] as? Int == placed.trainingFLOPsPerImage, "\(model)")
        }
        #expect(described.last { $0["model"] as? String == "cifar-cnn" }?["parameters"] as? Int == 315_722)
    }
}
