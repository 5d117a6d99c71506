@testable import Console
import Protocol
import Testing

/// What Tab offers in `timbre repl`, word by word (the tmux test drives the same through a terminal).
@Suite struct CompleterTests {
    static let completer = Completer(labels: { ["drums", "hit"] }, models: { ["drums.ts", "kits/hit.ts", "my models/v2.ts"] })

    func offers(_ line: String) -> [String] { Self.completer.complete(line).candidates }

    @Test func commandsFirst() {
        #expect(Set(offers("")) == Set(ControlCommand.syntax.map(\.name) + ["help", "exit"]))
        #expect(offers("tog") == ["toggle"])
        let s = offers("s")
        #expect(s.contains("set") && s.contains("status") && s.allSatisfy { $0.hasPrefix("s") })
        #expect(offers("dance").isEmpty)
        #expect(Self.completer.complete("tog").word == "tog")
    }

    @Test func labelsModelsMethodsAndOptions() {
        #expect(offers("toggle ") == ["drums", "hit"])
        #expect(offers("/timbre/toggle d") == ["drums"])
        #expect(offers("toggle drums ") == ["drums.ts", "kits/hit.ts", "my models/v2.ts"])
        #expect(offers("toggle drums k") == ["kits/hit.ts"])
        #expect(offers("free ") == ["drums", "hit"])
        #expect(Set(offers("toggle drums drums.ts ")) == Set(NodeMethod.allCases.map(\.rawValue) + ["block", "seed", "input"]))
        #expect(offers("toggle drums drums.ts encode ") == ["block", "input", "seed"])
        #expect(offers("toggle drums drums.ts encode seed 3 ") == ["block", "input"], "options not typed yet")
        #expect(offers("toggle drums drums.ts encode block ").isEmpty, "a number: nothing to offer")
        #expect(offers("toggle drums drums.ts input ") == ["drums", "hit", "in1", "in2", "mix", "stereo"])
        #expect(offers("models ").isEmpty && offers("status ").isEmpty)
    }

    @Test func parametersAndTheirWords() {
        #expect(offers("set ") == ["drums", "hit"])
        #expect(Set(offers("set drums ")) == Set(NodeParameter.names))
        #expect(offers("set drums lat") == ["latent", "latents"])
        #expect(offers("set drums input ") == ["drums", "hit", "in1", "in2", "mix", "stereo"])
        #expect(offers("set drums mute ") == ["0", "1"])
        #expect(Set(offers("set drums eq 0 ")) == Set(EQKind.allCases.map(\.rawValue) + ["off"]))
        #expect(offers("set drums gain ").isEmpty)
    }

    @Test func helpCompletesCommandsAndParameters() {
        #expect(Set(offers("help ")) == Set(ControlCommand.syntax.map(\.name)))
        #expect(Set(offers("help set ")) == Set(NodeParameter.names))
    }

    /// A word opened with a quote may hold spaces (a model path with a space).
    @Test func quotedWords() {
        let completion = Self.completer.complete("toggle drums \"my m")
        #expect(completion.word == "my m")
        #expect(completion.candidates == ["my models/v2.ts"])
        #expect(Completer.split("set \"a b\" c") == (["set", "a b"], "c"))
    }

    /// Commands other helpers add complete from their usage alone.
    @Test func usagesOfOtherCommands() {
        let midi = Completer.usageWords("LABEL PARAM... cc N [chan C] [range LO HI] [curve lin|exp]")
        #expect(midi.map(\.text) == ["LABEL", "PARAM...", "cc", "N", "chan", "C", "range", "LO", "HI", "curve", "lin|exp"])
        #expect(midi.map(\.depth) == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
        let c = Self.completer
        #expect(c.usageCandidates(midi, []) == ["drums", "hit"])
        #expect(Set(c.usageCandidates(midi, ["drums"])) == Set(NodeParameter.names))
        #expect(c.usageCandidates(midi, ["drums", "bias", "3"]).contains("cc"))
        #expect(c.usageCandidates(midi, ["drums", "gain", "cc", "7", "curve"]) == ["lin", "exp"])
        #expect(c.usageCandidates(midi, ["drums", "gain", "cc", "7"]) == ["chan", "range", "curve"])
        let swap = Completer.usageWords("LABEL MODEL [fade SECONDS]")
        #expect(c.usageCandidates(swap, ["drums"]) == ["drums.ts", "kits/hit.ts", "my models/v2.ts"])
        #expect(c.usageCandidates(swap, ["drums", "drums.ts"]) == ["fade"])
        let trigger = Completer.usageWords("LABEL trigger note N|any [latents V...]")
        #expect(c.usageCandidates(trigger, ["drums", "trigger", "note"]) == ["any"])
    }
}
