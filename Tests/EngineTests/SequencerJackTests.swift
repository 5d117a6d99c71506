import AudioIO
@testable import Engine
import Foundation
import JackTestSupport
import Testing
import TestSupport

/// A `transport jack` sequence on a real jackd (dummy driver): it holds while JACK transport is
/// stopped, and steps at the transport's position once it rolls: without a timebase master at
/// the sequence's own tempo, from transport frame 0 (step 0 first); with one, at its tempo.
@Suite(.serialized)
struct SequencerJackTests {
    @Test func followsJackTransportWhenItRolls() throws {
        let seconds = 4, hits = Self.hits
        let (server, driver, tap) = try Self.transportRig(bpm: 120, seconds: seconds)
        defer {
            driver.stop()
            server.stop()
        }
        let instrument = driver.instrument
        tap.client.stopTransport()
        try tap.client.locateTransport(frame: 0)
        tap.start()
        #expect(waitUntil(20) { tap.frames.load(ordering: .relaxed) >= 44100 })
        let stoppedUntil = tap.frames.load(ordering: .relaxed)
        let stoppedStatus = instrument.status().nodes.first?.sequence
        tap.client.startTransport()
        #expect(waitUntil(30) { tap.frames.load(ordering: .relaxed) >= seconds * 44100 })
        let recorded = tap.recording()[0]
        let status = instrument.status().nodes.first?.sequence
        tap.client.stopTransport()

        // Stopped: the sequence plays but holds, so nothing sounds.
        #expect(recorded[..<stoppedUntil].allSatisfy { $0 == 0 }, "silent while transport is stopped")
        #expect(stoppedStatus?.playing == true && stoppedStatus?.stepsStarted == 0, "\(String(describing: stoppedStatus))")
        // Rolling: hits at the pattern's offsets from the first (step 0), within 12 ms.
        let onsets = Self.onsets(recorded)
        // Blocks are computed about a latency ahead of when they are heard, so the blocks heard
        // just after transport starts were computed while it still stood: step 0 may come up to
        // the node's latency (1024 samples here) late. The grid is therefore anchored on the later hits (the median of their
        // offsets from the pattern), and every hit after the first must fall within 12 ms of it.
        let step = 44100.0 * 60 / (120 * 4)
        let first = try #require(onsets.first)
        var offsets: [Int] = []
        for k in 0..<64 where hits.contains(k % 8) { offsets.append(Int((Double(k) * step).rounded())) }
        func nearest(_ t: Int) -> Int { offsets.min { abs(first + $0 - t) < abs(first + $1 - t) }! }
        let anchors = onsets.dropFirst().map { $0 - nearest($0) }.sorted()
        let anchor = anchors.isEmpty ? first : anchors[anchors.count / 2]
        let expected = offsets.map { anchor + $0 }.filter { $0 < recorded.count - 2048 }
        let errors = expected.dropFirst().map { e in onsets.map { abs($0 - e) }.min() ?? Int.max }
        print("transport jack: stopped \(stoppedUntil) samples silent; \(onsets.count) onsets while rolling, step 0 heard \(first - anchor) samples after the grid, largest error after it \(errors.max() ?? -1) samples; status \(String(describing: status))")
        #expect(onsets.count == expected.count, "onsets \(onsets), expected \(expected)")
        #expect(errors.allSatisfy { $0 <= 529 }, "errors \(errors)")
        let latency = try #require(instrument.latency(of: "drum"))
        #expect(first - anchor >= -529 && first - anchor <= latency + 529, "step 0 at \(first - anchor) from the grid (latency \(latency))")
        #expect(status?.transport == "jack" && (status?.stepsStarted ?? 0) > 8)
        #expect(instrument.xruns.load(ordering: .relaxed) == 0)
    }

    /// The 8-step pattern both transport tests play.
    static let hits = [0, 3, 4, 6]

    /// A dummy jackd; the engine with tiny-drum.ts (block 512) sequencing `hits` at `bpm`,
    /// following JACK transport, playing; and a tap connected to its output, able to record
    /// `seconds`. The caller stops the driver, then the server.
    static func transportRig(bpm: Float, seconds: Int) throws -> (JackServer, JackDriver, JackTap) {
        let server = try JackServer(sampleRate: 44100, period: 512)
        do {
            let driver = try JackDriver.open(clientName: "timbre", server: server.name) { configuration in
                configuration.modelsDirectories = [Signals.models]
                configuration.defaultBlock = 512
            }
            do {
                let instrument = driver.instrument
                try instrument.createNow(NodeSpec(label: "drum", model: "tiny-drum.ts", method: .decode, block: 512))
                try instrument.sequence("drum", .configure(SequenceSettings(steps: 8, bpm: bpm, followsTransport: true)))
                for step in hits {
                    try instrument.sequence("drum", .step(index: step, SequenceStep(latents: [0, 0.3, -0.2, 0.25], velocity: 1)))
                }
                try instrument.sequence("drum", .play)
                try driver.start(connect: false)
                let tap = try JackTap(name: "tap", server: server.name, playing: [], recordChannels: 1, recordFrames: seconds * 44100)
                try tap.client.connect("timbre:drum_out_1", tap.inputName(0))
                return (server, driver, tap)
            } catch {
                driver.stop()
                throw error
            }
        } catch {
            server.stop()
            throw error
        }
    }

    /// Onsets: the first sample above 0.01 after at least 1500 quieter ones.
    static func onsets(_ recorded: [Float]) -> [Int] {
        var onsets: [Int] = []
        var quiet = 1500
        for (i, v) in recorded.enumerated() {
            if abs(v) > 0.01 {
                if quiet >= 1500 { onsets.append(i) }
                quiet = 0
            } else {
                quiet += 1
            }
        }
        return onsets
    }

    /// The distance in samples of each onset after the first to the nearest hit of an 8-step
    /// pattern (`hits`) at `bpm` in sixteenths, on a grid anchored on the median of those onsets'
    /// offsets (as `followsJackTransportWhenItRolls` anchors it).
    static func gridErrors(_ onsets: [Int], hits: [Int], bpm: Double, rate: Double = 44100) -> [Int] {
        guard let first = onsets.first, onsets.count > 1 else { return [] }
        let step = rate * 60 / (bpm * 4)
        var offsets: [Int] = []
        for k in 0..<256 where hits.contains(k % 8) { offsets.append(Int((Double(k) * step).rounded())) }
        func nearest(_ t: Int) -> Int { offsets.min { abs(first + $0 - t) < abs(first + $1 - t) }! }
        let anchors = onsets.dropFirst().map { $0 - nearest($0) }.sorted()
        let anchor = anchors[anchors.count / 2]
        return onsets.dropFirst().map { t in offsets.map { abs(anchor + $0 - t) }.min()! }
    }

    /// With a JACK client as timebase master (bar, beat, tick at 150 bpm), a `transport jack`
    /// sequence whose own tempo is 100 bpm steps at the master's 150: every hit after the first
    /// within 12 ms of a 150 bpm grid; the same onsets against a 100 bpm grid (the control) miss
    /// by far more; as many hits as 150 bpm gives; silent while transport stands.
    @Test func followsATimebaseMastersTempo() throws {
        let seconds = 5, hits = Self.hits
        let (server, driver, tap) = try Self.transportRig(bpm: 100, seconds: seconds)
        defer {
            driver.stop()
            server.stop()
        }
        let instrument = driver.instrument
        try tap.client.becomeTimebaseMaster(bpm: 150)
        tap.client.stopTransport()
        try tap.client.locateTransport(frame: 0)
        tap.start()
        #expect(waitUntil(20) { tap.frames.load(ordering: .relaxed) >= 22050 })
        let stoppedUntil = tap.frames.load(ordering: .relaxed)
        tap.client.startTransport()
        #expect(waitUntil(30) { tap.frames.load(ordering: .relaxed) >= seconds * 44100 })
        let recorded = tap.recording()[0]
        let status = instrument.status().nodes.first?.sequence
        tap.client.stopTransport()

        let onsets = Self.onsets(recorded)
        let errors = Self.gridErrors(onsets, hits: hits, bpm: 150)
        let control = Self.gridErrors(onsets, hits: hits, bpm: 100)
        let rolling = Double(recorded.count - stoppedUntil) / 44100
        // Hits of the 8-step pattern while it rolled: 4 per 8 sixteenths, at 150 bpm 10 sixteenths a second.
        let expectedHits = rolling * 10 / 2
        print("""
            transport jack with a timebase master at 150 bpm (sequence's own 100): \(onsets.count) onsets in \
            \(String(format: "%.2f", rolling)) s rolling (150 bpm gives about \(Int(expectedHits)), 100 bpm about \(Int(rolling * 20 / 6))); \
            largest error after the first: \(errors.max() ?? -1) samples on the 150 bpm grid, \(control.max() ?? -1) on the 100 bpm grid; \
            status \(String(describing: status))
            """)
        #expect(recorded[..<stoppedUntil].allSatisfy { $0 == 0 }, "silent while transport is stopped")
        #expect(onsets.count >= 8 && abs(Double(onsets.count) - expectedHits) <= 2, "as many hits as 150 bpm gives: \(onsets)")
        #expect(errors.allSatisfy { $0 <= 529 }, "within 12 ms of the master's grid: \(errors)")
        #expect((control.max() ?? 0) > 2000, "the sequence's own tempo does not fit (the control)")
        #expect(status?.transport == "jack" && status?.bpm == 100)
        #expect(instrument.xruns.load(ordering: .relaxed) == 0)
    }

    /// A session saved by `session/save` (from an offline instrument here) read back by `timbre
    /// serve --session`: the node runs with the saved sequence playing, and its steps advance.
    @Test func serveReadsASavedSessionBack() throws {
        let dir = TemporaryDirectory("sequencer-serve")
        var configuration = Instrument.Configuration(sampleRate: 44100, period: 512, modelsDirectories: [Signals.models])
        configuration.filesDirectories = [dir.url]
        _ = try OfflineRenderer.render(
            input: AudioBuffer(sampleRate: 44100, channelCount: 1, frameCount: 4096), frames: 4096, configuration: configuration,
            events: [RenderEvent(frame: 0) { instrument in
                try instrument.createNow(NodeSpec(label: "drum", model: "tiny-drum.ts", method: .decode, block: 512))
                try instrument.set("drum", .gain(0.8))
                try instrument.sequence("drum", .configure(SequenceSettings(steps: 12, bpm: 140, swing: 0.1)))
                try instrument.sequence("drum", .step(index: 0, SequenceStep(latents: [0, 0.3, -0.2, 0.25], velocity: 1)))
                try instrument.sequence("drum", .step(index: 6, SequenceStep(latents: [0, -0.3, 0.2, 0.1], velocity: 0.9)))
                try instrument.sequence("drum", .play)
                try instrument.saveSession(to: "saved.txt")
            }])
        let saved = try String(contentsOf: dir.file("saved.txt"), encoding: .utf8)
        #expect(saved.contains("/timbre/seq drum steps 12 bpm 140 swing 0.1\n") && saved.contains("/timbre/set drum gain 0.8\n"), "\(saved)")

        let server = try JackServer(sampleRate: 44100, period: 512)
        defer { server.stop() }
        let (serve, port) = try serveSession(saved, in: dir, server: server)
        defer { if serve.process.isRunning { _ = serve.stop() } }
        var sequences: [[String: Any]] = []
        #expect(waitUntil(30) {
            let text = (try? runTimbre(["status", "--json", "--port", String(port)]))?.stdout ?? ""
            guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  let nodes = json["nodes"] as? [[String: Any]], let sequence = nodes.first?["sequence"] as? [String: Any] else { return false }
            sequences.append(sequence)
            return (sequence["stepsStarted"] as? Int ?? 0) >= 3
        }, "serve never played the saved sequence: \(serve.process.isRunning ? "" : serve.stop())")
        let last = try #require(sequences.last)
        print("serve --session (saved): \(last)")
        #expect(last["playing"] as? Bool == true && last["steps"] as? Int == 12 && last["bpm"] as? Double == 140)
        #expect(last["transport"] as? String == "internal" && (last["swing"] as? Double).map { abs($0 - 0.1) < 1e-6 } == true)
        let table = try runTimbre(["status", "--port", String(port)])
        #expect(table.stdout.contains("drum: sequence of 12 steps at 140.0 bpm"), "\(table.stdout)")
    }
}
