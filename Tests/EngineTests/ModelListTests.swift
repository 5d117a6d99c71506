import Engine
import Foundation
import Testing
import TestSupport

/// `ModelLibrary.available()`: the names `/timbre/models` lists and the REPL completes.
@Suite struct ModelListTests {
    @Test func listsLoadableModelsByTheNamesCommandsUse() throws {
        let root = TemporaryDirectory("timbre-models")
        let first = root.file("first"), second = root.file("second"), outside = root.file("outside")
        let files = FileManager.default
        for folder in [first, second, outside, first.appendingPathComponent("kits/deep/er/est"), first.appendingPathComponent(".hidden")] {
            try files.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        let model = TestPaths.fixture("models/tiny-deterministic.ts")
        for path in ["a.ts", "kits/b.ts", "kits/deep/c.ts", "kits/deep/er/est/too-deep.ts", ".hidden/h.ts", ".dot.ts"] {
            try files.copyItem(at: model, to: first.appendingPathComponent(path))
        }
        try Data("not a model".utf8).write(to: first.appendingPathComponent("notes.txt"))
        try files.copyItem(at: model, to: second.appendingPathComponent("a.ts"))
        try files.copyItem(at: model, to: second.appendingPathComponent("z.ts"))
        try files.copyItem(at: model, to: outside.appendingPathComponent("out.ts"))
        // A symlink leading out of the folders: `resolve` refuses it, so it is not listed.
        try files.createSymbolicLink(at: first.appendingPathComponent("escape.ts"), withDestinationURL: outside.appendingPathComponent("out.ts"))

        let library = ModelLibrary(directories: [first, second])
        let names = library.available()
        #expect(names == ["a.ts", "kits/b.ts", "kits/deep/c.ts", "z.ts"])
        for name in names { #expect(throws: Never.self) { try library.resolve(name) } }
        #expect(throws: (any Error).self) { try library.resolve("escape.ts") }
        // The control: the deep file exists and resolves; it is left out only by the depth limit.
        #expect(throws: Never.self) { try library.resolve("kits/deep/er/est/too-deep.ts") }
        #expect(library.available(depth: 5).contains("kits/deep/er/est/too-deep.ts"))
        #expect(ModelLibrary(directories: [root.file("missing")]).available().isEmpty)
    }
}
