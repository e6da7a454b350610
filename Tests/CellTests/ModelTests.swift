import Cell
import Foundation
import Testing

/// Models as layer lists: parsing, the built-in aliases, the shape check's messages, and the text a
/// record keeps.
@Suite struct ModelTests {
    @Test func builtInNamesAreAliasesOfLayerLists() throws {
        #expect(ModelKind.lenet816.layerList == "conv5x5:8,relu,maxpool2,conv5x5:16,relu,maxpool2,dense:10")
        #expect(ModelKind.lenet48.layerList == "conv5x5:4,relu,maxpool2,conv5x5:8,relu,maxpool2,dense:10")
        #expect(ModelKind.cnn3264.layerList == "conv3x3:32,relu,maxpool2,conv3x3:64,relu,maxpool2,dense:128,relu,dense:10")
        #expect(ModelKind.cifarCNN.layerList == ModelKind.cnn3264.layerList)
        #expect(ModelKind.names == "lenet-8-16, lenet-4-8, cnn-32-64, cifar-cnn")
        for model in ModelKind.builtIns {
            #expect(try ModelKind(parsing: model.rawValue) == model && model.isBuiltIn)
            #expect(ModelKind(rawValue: model.rawValue) == model)
        }
    }

    @Test func aListIsKeptInItsCanonicalSpelling() throws {
        let model = try ModelKind(parsing: " conv3x3:8:same , tanh,avgpool2,conv1x1:4:valid,maxpool3,dense:16,relu,dense:10 ")
        #expect(model.rawValue == "conv3x3:8:same,tanh,avgpool2,conv1x1:4,maxpool3,dense:16,relu,dense:10")
        #expect(model.layers == [.conv(kernel: 3, channels: 8, same: true), .tanh, .avgPool(2),
                                 .conv(kernel: 1, channels: 4, same: false), .maxPool(3), .dense(16), .relu, .dense(10)])
        #expect(!model.isBuiltIn)
    }

    @Test func recordsKeepTheNameOrTheList() throws {
        let encoder = JSONEncoder()
        #expect(String(decoding: try encoder.encode(ModelKind.lenet816), as: UTF8.self) == "\"lenet-8-16\"")
        let list = try ModelKind(parsing: "conv5x5:8,relu,maxpool2,dense:10")
        #expect(String(decoding: try encoder.encode(list), as: UTF8.self) == "\"conv5x5:8,relu,maxpool2,dense:10\"")
        #expect(try JSONDecoder().decode(ModelKind.self, from: try encoder.encode(list)) == list)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ModelKind.self, from: Data("\"conv5x5\"".utf8)) }
    }

    @Test(arguments: [
        ("resnet", "unknown model 'resnet': give one of lenet-8-16"),
        ("", "the model is empty"),
        ("conv3x3:8,,dense:10", "layer 2 of 'conv3x3:8,,dense:10' is empty"),
        ("conv3x5:8,dense:10", "layer 1 'conv3x5:8' of 'conv3x5:8,dense:10' has a 3x5 kernel: kernels are square"),
        ("conv3x3:0,dense:10", "layer 1 'conv3x3:0' of 'conv3x3:0,dense:10' has channel count 0: give 1 to 1024"),
        ("conv3x3,dense:10", "layer 1 'conv3x3' of 'conv3x3,dense:10' is not a conv layer"),
        ("conv3x3:8:full,dense:10", "has padding 'full'"),
        ("conv3x3:8,maxpool,dense:10", "layer 2 'maxpool' of 'conv3x3:8,maxpool,dense:10' has no whole number"),
        ("conv3x3:8,sigmoid,dense:10", "layer 2 'sigmoid' of 'conv3x3:8,sigmoid,dense:10' is not a layer"),
        ("dense:70000", "has width 70000: give 1 to 65536"),
    ])
    func badListsAreRefusedNamingTheLayer(text: String, message: String) {
        #expect(throws: ModelError.self) { try ModelKind(parsing: text) }
        do { _ = try ModelKind(parsing: text) } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test(arguments: [
        ("conv5x5:8,maxpool16,dense:10", 1, 14, 14,
         "layer 2 'maxpool16' of model conv5x5:8,maxpool16,dense:10 pools 16×16 windows, larger than its input 8×10×10"),
        ("conv5x5:8,relu,maxpool2,conv5x5:16,relu,maxpool2,conv5x5:4,dense:10", 1, 28, 28,
         "layer 7 'conv5x5:4' of model conv5x5:8,relu,maxpool2,conv5x5:16,relu,maxpool2,conv5x5:4,dense:10 has a 5×5 kernel larger than its input 16×4×4"),
        ("lenet-8-16", 1, 8, 8, "layer 4 'conv5x5:16' of model lenet-8-16 has a 5×5 kernel larger than its input 8×2×2"),
        ("conv3x3:8,relu", 3, 32, 32,
         "the last layer 2 'relu' of model conv3x3:8,relu (output 8×30×30) is not dense: end the list with dense:10"),
        ("conv3x3:8,dense:5", 3, 32, 32, "the last layer 2 'dense:5' of model conv3x3:8,dense:5 gives 5 outputs, but the data has 10 classes"),
        ("dense:20,conv3x3:8,dense:10", 1, 28, 28,
         "layer 2 'conv3x3:8' of model dense:20,conv3x3:8,dense:10 needs an image input, but its input is the flat vector of 20"),
        ("conv15x15:1024,conv15x15:1024,dense:10", 3, 32, 32, "has more than 100000000 parameters"),
    ])
    func listsThatDoNotFitTheInputAreRefusedNamingLayerAndShapes(text: String, c: Int, h: Int, w: Int, message: String) throws {
        let model = try ModelKind(parsing: text)
        #expect(throws: ModelError.self) { try model.validate(channels: c, height: h, width: w, classes: 10) }
        do { try model.validate(channels: c, height: h, width: w, classes: 10) } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test func placedLayersCarryShapesAndGroupNames() throws {
        let model = try ModelKind(parsing: "conv3x3:8:same,relu,maxpool2,conv2x2:4,avgpool3,dense:12,tanh,dense:10")
        let placed = try model.placed(input: .image(channels: 3, height: 17, width: 13), classes: 10)
        #expect(placed.map(\.output.description) == ["8×17×13", "8×17×13", "8×8×6", "4×7×5", "4×2×1", "12", "12", "10"])
        #expect(placed.compactMap(\.groupName) == ["conv1", "conv2", "dense1", "dense2"])
        #expect(placed.map(\.weightCount) == [8 * 3 * 9, 0, 0, 4 * 8 * 4, 0, 12 * 8, 0, 10 * 12])
    }

    @Test("training FLOPs per image: forward 2·K·K·C·OC·OH·OW and 2·in·out, ×3, the first layer ×2")
    func trainingFLOPsAgainstAHandCount() throws {
        // lenet-8-16 on 1×28×28: conv 5×5 1→8 to 24×24, conv 5×5 8→16 to 8×8, dense 256→10.
        let lenet = try ModelKind.lenet816.placed(input: .image(channels: 1, height: 28, width: 28), classes: 10)
        let lenetForward = [2 * 25 * 1 * 8 * 576, 2 * 25 * 8 * 16 * 64, 2 * 256 * 10]
        #expect(lenet.filter(\.layer.hasParameters).map(\.forwardFLOPs) == lenetForward)
        #expect(lenet.trainingFLOPsPerImage == 2 * 230_400 + 3 * 409_600 + 3 * 5_120)
        #expect(lenet.trainingFLOPsPerImage == 1_704_960)
        // cifar-cnn on 3×32×32: conv 3×3 3→32 to 30×30, conv 3×3 32→64 to 13×13 (after the pool of
        // 15×15), dense 64·6·6 = 2304 → 128, dense 128 → 10.
        let cifar = try ModelKind.cifarCNN.placed(input: .image(channels: 3, height: 32, width: 32), classes: 10)
        #expect(cifar.trainingFLOPsPerImage
                == 2 * (2 * 9 * 3 * 32 * 900) + 3 * (2 * 9 * 32 * 64 * 169) + 3 * (2 * 2304 * 128) + 3 * (2 * 128 * 10))
        #expect(cifar.trainingFLOPsPerImage == 23_577_600)
        // The convention counts only layers with weights; `same` padding keeps H×W.
        let padded = try ModelKind(parsing: "conv3x3:4:same,tanh,avgpool2,dense:10")
            .placed(input: .image(channels: 2, height: 6, width: 6), classes: 10)
        #expect(padded.trainingFLOPsPerImage == 2 * (2 * 9 * 2 * 4 * 36) + 3 * (2 * 36 * 10))
    }
}
