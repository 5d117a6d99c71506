import Foundation
import ModelHost
import Testing
import TestSupport
import Torch

/// Plans derived from method parameters: what each kind feeds, calls and reads.
struct CallPlanTests {
    static func model(_ name: String) throws -> NNModel { try NNModel(contentsOf: TestPaths.fixture("models/\(name)")) }
    typealias Shape = CallPlan.Shape

    @Test func forwardFeedsAudioAndCallsForward() throws {
        let plan = try CallPlan(model: try Self.model("tiny-stereo.ts"), kind: .forward, block: 2048)
        #expect(plan.steps == [.feedInput, .call(.init(method: "forward", input: Shape(channels: 2, frames: 2048), output: Shape(channels: 2, frames: 2048)))])
        #expect(plan.audioInChannels == 2 && plan.output == Shape(channels: 2, frames: 2048))
        #expect(plan.latentSize == 0 && plan.latentFrames == 0)
    }

    @Test func encodeTransformsLatentsBetweenEncodeAndDecode() throws {
        let plan = try CallPlan(model: try Self.model("tiny-streaming.ts"), kind: .encode, block: 1024)
        let latent = Shape(channels: 4, frames: 4)  // ratio 256
        #expect(plan.steps == [
            .feedInput,
            .call(.init(method: "encode", input: Shape(channels: 1, frames: 1024), output: latent)),
            .transformLatents,
            .call(.init(method: "decode", input: latent, output: Shape(channels: 1, frames: 1024))),
        ])
        #expect(plan.buffers == [Shape(channels: 1, frames: 1024), latent, Shape(channels: 1, frames: 1024)])
        #expect(plan.latentSize == 4 && plan.latentFrames == 4)
        #expect(plan.description == "input [1, 1024] → encode → [4, 4] → transform → decode → [1, 1024]")
    }

    @Test func decodeFeedsLatentsWithATriggerOnChannelZero() throws {
        // The drum-style fixture: decode [D+1, 256, 1, 1], channel 0 the trigger.
        let plan = try CallPlan(model: try Self.model("tiny-drum.ts"), kind: .decode, block: 512)
        #expect(plan.steps == [.feedLatents(triggerChannel: 0),
                               .call(.init(method: "decode", input: Shape(channels: 4, frames: 2), output: Shape(channels: 1, frames: 512)))])
        #expect(plan.audioInChannels == 1 && plan.latentSize == 4 && plan.latentFrames == 2)
    }

    @Test func priorFeedsTheTemperatureThenTransformsAndDecodes() throws {
        let plan = try CallPlan(model: try Self.model("tiny-drum.ts"), kind: .prior, block: 512)
        #expect(plan.steps.first == .feedTemperature)
        #expect(plan.calls.map(\.method) == ["prior", "decode"])
        #expect(plan.input == Shape(channels: 1, frames: 2) && plan.latentSize == 4)
        #expect(plan.steps[2] == .transformLatents)
    }

    /// msprior's combined export (`prior` [L, r, L + 1, r]) is told from RAVE's prior (a temperature
    /// channel in) by its parameters: the input is encoded, the attributes set, the latents kept.
    @Test func msPriorEncodesTheInputAndKeepsTheLatents() throws {
        let methods = [NNMethod(name: "encode", inChannels: 1, inRatio: 1, outChannels: 8, outRatio: 512),
                       NNMethod(name: "decode", inChannels: 8, inRatio: 512, outChannels: 1, outRatio: 1),
                       NNMethod(name: "prior", inChannels: 8, inRatio: 512, outChannels: 9, outRatio: 512)]
        let plan = try CallPlan(methods: methods, kind: .prior, block: 2048, source: "combined.ts")
        #expect(plan.steps == [
            .feedInput,
            .call(.init(method: "encode", input: Shape(channels: 1, frames: 2048), output: Shape(channels: 8, frames: 4))),
            .priorAttributes,
            .call(.init(method: "prior", input: Shape(channels: 8, frames: 4), output: Shape(channels: 9, frames: 4))),
            .keepLatents(8),
            .transformLatents,
            .call(.init(method: "decode", input: Shape(channels: 8, frames: 4), output: Shape(channels: 1, frames: 2048))),
        ])
        #expect(plan.buffers.map(\.channels) == [1, 8, 9, 8, 1])
        #expect(plan.latentSize == 8 && plan.latentFrames == 4 && plan.audioInChannels == 1 && plan.readsInput)
        #expect(!plan.sharesLanes)
        // RAVE's prior (temperature in) keeps its plan, and shares lanes.
        let rave = try CallPlan(model: try Self.model("tiny-drum.ts"), kind: .prior, block: 512)
        #expect(rave.steps.first == .feedTemperature && rave.sharesLanes)
        // A prior whose output is neither the latents nor latents plus one channel is refused.
        let odd = [methods[0], methods[1], NNMethod(name: "prior", inChannels: 8, inRatio: 512, outChannels: 10, outRatio: 512)]
        #expect(throws: TorchError.self) { try CallPlan(methods: odd, kind: .prior, block: 2048, source: "odd.ts") }
    }

    @Test func methodKindRunsOneMethodAsItIs() throws {
        let plan = try CallPlan(model: try Self.model("tiny-v1.ts"), kind: .method("encode"), block: 256)
        #expect(plan.steps == [.feedInput, .call(.init(method: "encode", input: Shape(channels: 1, frames: 256), output: Shape(channels: 2, frames: 2)))])
    }

    /// Parameters that cannot make a kind's chain are refused with one line naming the model and the reason.
    @Test(arguments: [
        ([NNMethod(name: "forward", inChannels: 1, inRatio: 1, outChannels: 3, outRatio: 1)], CallPlan.Kind.forward, "has 3 output channels; a node takes 1 or 2"),
        ([NNMethod(name: "forward", inChannels: 1, inRatio: 2, outChannels: 1, outRatio: 1)], .forward, "'forward' does not map audio to audio"),
        ([NNMethod(name: "encode", inChannels: 1, inRatio: 1, outChannels: 8, outRatio: 256),
          NNMethod(name: "decode", inChannels: 4, inRatio: 256, outChannels: 1, outRatio: 1)], .encode, "'encode' [1, 1, 8, 256] does not feed 'decode' [4, 256, 1, 1]"),
        ([NNMethod(name: "decode", inChannels: 4, inRatio: 256, outChannels: 1, outRatio: 1)], .prior, "no method 'prior'"),
        ([NNMethod(name: "decode", inChannels: 4, inRatio: 256, outChannels: 4, outRatio: 256)], .decode, "'decode' does not give audio"),
        ([NNMethod(name: "decode", inChannels: 4, inRatio: 0, outChannels: 1, outRatio: 1)], .decode, "channels and ratios must be positive"),
        ([NNMethod(name: "decode", inChannels: 4, inRatio: 300, outChannels: 1, outRatio: 1)], .decode, "block 1024 is not a multiple of method 'decode''s ratio 300"),
    ])
    func badParametersAreRefused(methods: [NNMethod], kind: CallPlan.Kind, reason: String) throws {
        let error = try #require(throws: TorchError.self) {
            try CallPlan(methods: methods, kind: kind, block: 1024, source: "bad.ts")
        }
        #expect(error.description.hasPrefix("bad.ts: "), "\(error)")
        #expect(error.description.contains(reason), "\(error)")
    }

    /// The executor is the one call-and-check: a model that returns another shape than its
    /// parameters state is refused with the shapes named.
    @Test func executorChecksTheShapeAModelReturns() throws {
        let model = try Self.model("tiny-deterministic.ts")
        // Claim `forward` gives two channels: the model gives one.
        let plan = try CallPlan(methods: [NNMethod(name: "forward", inChannels: 1, inRatio: 1, outChannels: 2, outRatio: 1)],
                                kind: .forward, block: 512, source: model.url.path)
        let executor = try PlanExecutor(plan: plan, model: model)
        final class Silence: PlanStream {
            func readInput(into destination: UnsafeMutableBufferPointer<Float>) { destination.update(repeating: 0) }
        }
        let stream = Silence()
        let error = try #require(throws: TorchError.self) { try executor.run(batch: 1) { _ in stream } }
        #expect(error.description.contains("'forward' returned [1, 1, 512], expected [1, 2, 512]"), "\(error)")
    }
}
