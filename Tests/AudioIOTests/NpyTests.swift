import AudioIO
import Foundation
import Testing
import TestSupport

@Suite struct NpyTests {
    /// Runs a numpy snippet with Debian's python3 (the first python3 on PATH may lack numpy).
    @discardableResult
    private func numpy(_ code: String) throws -> String {
        let result = try runProcess(TestPaths.python, ["-c", "import numpy as np\n" + code])
        try #require(result.status == 0, "python failed: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(arguments: [[], [0], [5], [2, 3], [2, 3, 4], [1, 1, 1, 7]])
    func roundTrip(shape: [Int]) throws {
        let dir = TemporaryDirectory()
        let url = dir.file("a.npy")
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float($0) * 0.25 - 3 }
        try Npy.write(values, shape: shape, to: url)
        let back = try Npy.read(url)
        #expect(back.shape == shape)
        #expect(back.values == values)
        // NumPy's data offset is a multiple of 64 in its own files; ours too.
        let bytes = [UInt8](try Data(contentsOf: url))
        #expect((10 + Int(bytes[8]) + Int(bytes[9]) << 8) % 64 == 0)
    }

    @Test func specialValuesSurvive() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("special.npy")
        let values: [Float] = [.infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        try Npy.write(values, shape: [5], to: url)
        let back = try Npy.read(url).values
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
        try Npy.write([.nan], shape: [1], to: url)
        #expect(try Npy.read(url).values[0].isNaN)
    }

    @Test func readsFloat32WrittenByNumpy() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("np32.npy")
        try numpy("np.save('\(url.path)', (np.arange(24, dtype=np.float32) * 0.5 - 1).reshape(2, 3, 4))")
        let (shape, values) = try Npy.read(url)
        #expect(shape == [2, 3, 4])
        #expect(values == (0..<24).map { Float($0) * 0.5 - 1 })
    }

    @Test func readsFloat64WrittenByNumpy() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("np64.npy")
        try numpy("np.save('\(url.path)', np.linspace(-1, 1, 7, dtype=np.float64).reshape(7, 1))")
        let (shape, values) = try Npy.read(url)
        #expect(shape == [7, 1])
        let expected = (0..<7).map { Float(-1 + 2 * Double($0) / 6) }
        #expect(Signals.maxDifference(values, expected) == 0)
    }

    @Test func readsZeroDimensionalAndVersion2FilesFromNumpy() throws {
        let dir = TemporaryDirectory()
        let scalar = dir.file("scalar.npy")
        let v2 = dir.file("v2.npy")
        try numpy("""
            np.save('\(scalar.path)', np.float32(2.5))
            with open('\(v2.path)', 'wb') as f:
                np.lib.format.write_array(f, np.ones((3, 2), np.float32), version=(2, 0))
            """)
        let s = try Npy.read(scalar)
        #expect(s.shape == [])
        #expect(s.values == [2.5])
        let two = try Npy.read(v2)
        #expect(two.shape == [3, 2])
        #expect(two.values == [Float](repeating: 1, count: 6))
    }

    @Test func numpyReadsOurFiles() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("ours.npy")
        try Npy.write((0..<6).map { Float($0) / 4 }, shape: [3, 2], to: url)
        let out = try numpy("""
            a = np.load('\(url.path)')
            print(a.dtype, a.shape, a.flags['C_CONTIGUOUS'], float(a[2, 1]), float(a.sum()))
            """)
        #expect(out == "float32 (3, 2) True 1.25 3.75")
    }

    @Test func shapeMismatchOnWriteIsAnError() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("bad.npy")
        let error = try #require(throws: NpyError.self) { try Npy.write([1, 2, 3], shape: [2, 2], to: url) }
        #expect(isOneLineNaming(error, url.path))
        #expect(throws: NpyError.self) { try Npy.write([], shape: [-1], to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func missingFileIsAnError() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("missing.npy")
        let error = try #require(throws: NpyError.self) { try Npy.read(url) }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(error.reason.localizedCaseInsensitiveContains("no such file"), "\(error)")
    }

    @Test func badMagicIsAnError() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("text.npy")
        try Data("this is not numpy data at all\n".utf8).write(to: url)
        let error = try #require(throws: NpyError.self) { try Npy.read(url) }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(error.reason.contains("magic"))
    }

    @Test(arguments: [
        ("np.arange(6, dtype=np.int32)", "dtype"),
        ("np.arange(6, dtype='>f4')", "dtype"),
        ("np.asfortranarray(np.ones((2, 3), np.float32))", "Fortran"),
    ])
    func unsupportedArraysAreErrors(expression: String, word: String) throws {
        let dir = TemporaryDirectory()
        let url = dir.file("unsupported.npy")
        try numpy("np.save('\(url.path)', \(expression))")
        let error = try #require(throws: NpyError.self) { try Npy.read(url) }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(error.reason.contains(word), "\(error)")
    }

    @Test func truncatedDataIsAnError() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("short.npy")
        try Npy.write([Float](repeating: 1, count: 100), shape: [10, 10], to: url)
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 3).write(to: url)
        let error = try #require(throws: NpyError.self) { try Npy.read(url) }
        #expect(isOneLineNaming(error, url.path), "\(error)")
        #expect(error.reason.contains("truncated"))
        // A header cut short is reported too.
        try bytes.prefix(40).write(to: url)
        let headerError = try #require(throws: NpyError.self) { try Npy.read(url) }
        #expect(headerError.reason.contains("truncated"), "\(headerError)")
    }

    @Test func malformedHeaderIsAnError() throws {
        let dir = TemporaryDirectory()
        let url = dir.file("garbled.npy")
        var header = Array("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }".utf8)
        header += [UInt8](repeating: 0x20, count: 128 - 10 - header.count - 1) + [0x0A]
        let bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count), 0] + header + [0, 0, 0, 0]
        try Data(bytes).write(to: url)
        let error = try #require(throws: NpyError.self) { try Npy.read(url) }
        #expect(isOneLineNaming(error, url.path), "\(error)")
    }
}
