import AudioIO
import Benchmarks
@testable import Engine
import Foundation
import JackTestSupport
import Testing
import TestSupport

/// A background `timbre` process (e.g. `serve`), stopped when released.
final class BackgroundProcess: @unchecked Sendable {
    let process = Process()
    let errors = Pipe()

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = TestPaths.timbreExecutable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    func stop() -> String {
        if process.isRunning {
            process.interrupt()
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning { process.terminate() }
        }
        process.waitUntilExit()
        return String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}


/// Resident memory of this process, in bytes.
/// glibc's `malloc_trim` (declared in <malloc.h>, which Glibc's module map leaves out).
@_silgen_name("malloc_trim") private func mallocTrim(_ pad: Int) -> Int32

func residentBytes() -> Int {
    // Hand freed heap pages back first, so the figure is live memory rather than what
    // earlier tests in this process freed and the allocator kept.
    _ = mallocTrim(0)
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// `timbre serve --session` (the commands written to `dir/session.txt`) on `server`, with the
/// fixture models, no automatic connections, OSC on a random port.
func serveSession(_ commands: String, in dir: TemporaryDirectory, server: JackServer) throws -> (BackgroundProcess, Int) {
    try commands.write(to: dir.file("session.txt"), atomically: true, encoding: .utf8)
    let port = Int.random(in: 50000...59000)
    let serve = try BackgroundProcess(["serve", "--session", dir.file("session.txt").path, "--models-dir", Signals.models.path,
                                       "--no-connect", "--port", String(port), "--server", server.name])
    return (serve, port)
}

/// A node's bus recorded through JACK against the same bus rendered offline: JACK may add
/// whole cycles (of 512) between the tap's ports and timbre's, so the shift with the smallest
/// largest difference is the alignment; returns it and that difference.
func bestAlignment(_ recorded: [Float], _ rendered: [Float]) -> (shift: Int, error: Float) {
    var best = (shift: -1, error: Float.infinity)
    for cycles in 0...8 {
        let shift = cycles * 512
        var worst: Float = 0
        for t in 0..<(rendered.count - 4096) where t + shift < recorded.count {
            worst = max(worst, abs(recorded[t + shift] - rendered[t]))
        }
        if worst < best.error { best = (shift, worst) }
    }
    return best
}

/// The engine on a real jackd (dummy driver, a server name of its own, stopped at the end).
@Suite(.serialized)
struct JackTests {
    /// `bench capacity` on the project's test model: starts its own dummy jackd, measures the
    /// bound, adds nodes up to the cap, reports each count, and stops the server.
    @Test func capacityBenchmarkRunsOnItsOwnServer() throws {
        let model = TestPaths.fixture("models/tiny-deterministic.ts")
        var lines: [String] = []
        let result = try CapacityBenchmark.run(model: model, block: 512, seconds: 0.5, maximumNodes: 2) { lines.append($0) }
        #expect(result.block == 512 && result.cores == ProcessInfo.processInfo.activeProcessorCount)
        #expect(result.medianBlockMilliseconds > 0 && result.computeBound > 2, "a tiny model leaves room for many nodes")
        #expect(result.steps.map(\.nodes) == Array(1...result.steps.count) && result.steps.count <= 2)
        #expect(result.capacity == result.steps.filter { $0.dropouts == 0 && $0.xruns == 0 }.count)
        #expect(result.capacity >= 1, "one node of a tiny model runs cleanly: \(lines.joined(separator: "; "))")
        #expect(lines.contains { $0.contains("compute bound") })
        if result.startedServer { #expect(!JackServer.isRunning(result.server)) }
    }

    /// A jackd killed outright (SIGKILL) stays in JACK's registry of eight servers; eight such
    /// deaths would stop every later server from starting. The reclaim finds the dead entry
    /// and frees it the way JACK allows (a server of that name starts and exits cleanly).
    @Test func deadServersAreReclaimedFromJACKsRegistry() throws {
        let name = "timbre-killed-\(getpid())-\(Int.random(in: 0...1_000_000))"
        let jackd = Process()
        jackd.executableURL = URL(fileURLWithPath: "/usr/bin/jackd")
        jackd.arguments = ["-n", name, "-d", "dummy"]
        jackd.standardOutput = FileHandle.nullDevice
        jackd.standardError = FileHandle.nullDevice
        try jackd.run()
        #expect(waitUntil(10) { JackServer.isRunning(name) })
        #expect(JackServer.registeredServers().contains { $0.name == name && $0.pid == jackd.processIdentifier })
        kill(jackd.processIdentifier, SIGKILL)
        jackd.waitUntilExit()
        #expect(JackServer.registeredServers().contains { $0.name == name }, "a killed server stays registered")
        let reclaimed = JackServer.reclaimStaleRegistrations()
        #expect(reclaimed.contains(name))
        #expect(!JackServer.registeredServers().contains { $0.name == name })
        // And a server starts afterwards, as usual.
        let server = try JackServer()
        #expect(JackServer.isRunning(server.name))
        server.stop()
        #expect(!JackServer.registeredServers().contains { $0.name == server.name }, "a clean stop frees the entry")
    }

    /// `bench capacity` on the batchable test model: its nodes share lanes (the third node
    /// joins the first one's), each step reports the nodes per call, and `--no-batch` turns it off.
    @Test func capacityBenchmarkReportsSharedCalls() throws {
        let model = TestPaths.fixture("models/tiny-batched.ts")
        let lanes = try CapacityBenchmark.run(model: model, block: 512, seconds: 0.5, maximumNodes: 3) { _ in }
        #expect(lanes.batched && lanes.batchLimit == 8)
        #expect(lanes.steps.count == 3 && lanes.steps.allSatisfy { $0.averageBatch != nil })
        #expect((lanes.steps.last?.averageBatch ?? 0) > 1, "three nodes in two lanes: one lane carries two per call")
        let alone = try CapacityBenchmark.run(model: model, block: 512, seconds: 0.5, maximumNodes: 2, batch: false) { _ in }
        #expect(!alone.batched && alone.steps.allSatisfy { $0.averageBatch == nil })
    }

    /// `serve --session` through JACK gives the samples `timbre render` gives, after latency
    /// alignment; a second node, staggered to another block phase (period 512, block 2048),
    /// gives its render's samples too, at the same reported latency.
    @Test func serveMatchesRender() throws {
        let server = try JackServer(sampleRate: 44100, period: 512)
        defer { server.stop() }
        let dir = TemporaryDirectory()
        // Silence first, so the node's fade-in (which starts with its output) happens over silence in both.
        let input = [Float](repeating: 0, count: 8820) + Signals.noise(frames: 3 * 44100, seed: 8)
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [input]), to: dir.file("in.wav"))
        let (serve, port) = try serveSession("/timbre/toggle a tiny-deterministic.ts\n/timbre/toggle b tiny-deterministic.ts\n",
                                             in: dir, server: server)
        var log = ""
        defer { if serve.process.isRunning { log = serve.stop() } }
        let probe = try JackClient(name: "probe", server: server.name)
        #expect(waitUntil(20) { probe.ports(matching: "timbre:[ab]_out_1").count == 2 }, "serve did not create the nodes' ports")

        let tap = try JackTap(name: "tap", server: server.name, playing: [input], recordChannels: 2, recordFrames: input.count + 22050)
        if !serve.process.isRunning { Issue.record("serve stopped: \(serve.stop())") }
        // The ports exist before serve activates its client; connections wait for that.
        #expect(waitUntil(20) { (try? tap.client.connect(tap.outputName(0), "timbre:in_1")) != nil })
        try tap.client.connect("timbre:a_out_1", tap.inputName(0))
        try tap.client.connect("timbre:b_out_1", tap.inputName(1))
        // Both nodes play (over silence) before the input starts.
        var status = ""
        #expect(waitUntil(20) {
            status = (try? runTimbre(["status", "--json", "--port", String(port)]))?.stdout ?? ""
            return status.components(separatedBy: "\"phaseSamples\"").count == 3
        }, "status: \(status)")
        let nodes = try #require((try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])?["nodes"] as? [[String: Any]])
        let phases = nodes.compactMap { $0["phaseSamples"] as? Int }
        #expect(phases.count == 2 && phases[0] != phases[1] && phases.allSatisfy { $0 % 512 == 0 },
                "phases \(phases): the two nodes' blocks complete in the same cycles")
        #expect(nodes.allSatisfy { $0["latencySamples"] as? Int == 4096 })
        tap.start()
        #expect(waitUntil(30) { tap.frames.load(ordering: .relaxed) >= input.count + 22050 })
        let recorded = tap.recording()
        log = serve.stop()

        let render = try runTimbre(["render", "--session", dir.file("session.txt").path, "--input", dir.file("in.wav").path,
                                    "--out", dir.file("out").path, "--models-dir", Signals.models.path])
        #expect(render.status == 0, "\(render.stderr)")
        #expect(render.stdout.contains("a: latency 4096 samples"))
        #expect(render.stdout.contains("b: latency 4096 samples"))

        for (index, label) in ["a", "b"].enumerated() {
            let rendered = try AudioFile.read(dir.file("out/\(label).wav")).channels[0]
            let best = bestAlignment(recorded[index], rendered)
            let energy = rendered.map { $0 * $0 }.reduce(0, +)
            #expect(energy > 100, "the rendered node \(label) is not silent")
            #expect(best.error < 1e-4, "\(label): best alignment \(best.shift) samples, largest difference \(best.error); serve log: \(log)")
            print("serve vs render, node \(label) (phase \(phases.count == 2 ? phases[index] : -1)): aligned at \(best.shift) samples of JACK routing, largest difference \(best.error)")
        }
    }

    /// Lanes through JACK: four nodes of the batchable test model (three `forward`, one
    /// `encode`) started by `serve --session` share batched calls (two lanes per model and
    /// method, one per worker; a lane's nodes at one block phase), and each gives, through
    /// JACK, the samples `timbre render` gives (one instance per node, no lanes).
    @Test func lanesThroughJACKMatchRender() throws {
        let server = try JackServer(sampleRate: 44100, period: 512)
        defer { server.stop() }
        let dir = TemporaryDirectory()
        let input = [Float](repeating: 0, count: 8820) + Signals.noise(frames: 3 * 44100, seed: 9)
        try AudioFile.write(AudioBuffer(sampleRate: 44100, channels: [input]), to: dir.file("in.wav"))
        let labels = ["c", "d", "e", "f"]
        let (serve, port) = try serveSession(
            "/timbre/toggle c tiny-batched.ts\n/timbre/toggle d tiny-batched.ts\n/timbre/toggle e tiny-batched.ts\n/timbre/toggle f tiny-batched.ts encode\n",
            in: dir, server: server)
        var log = ""
        defer { if serve.process.isRunning { log = serve.stop() } }
        let probe = try JackClient(name: "probe", server: server.name)
        #expect(waitUntil(20) { probe.ports(matching: "timbre:[cdef]_out_1").count == 4 }, "serve did not create the nodes' ports")
        let tap = try JackTap(name: "tap", server: server.name, playing: [input], recordChannels: 4, recordFrames: input.count + 22050)
        #expect(waitUntil(20) { (try? tap.client.connect(tap.outputName(0), "timbre:in_1")) != nil })
        for (index, label) in labels.enumerated() { try tap.client.connect("timbre:\(label)_out_1", tap.inputName(index)) }
        var status = ""
        #expect(waitUntil(20) {
            status = (try? runTimbre(["status", "--json", "--port", String(port)]))?.stdout ?? ""
            return status.components(separatedBy: "\"phaseSamples\"").count == 5
        }, "status: \(status)")
        tap.start()
        #expect(waitUntil(30) { tap.frames.load(ordering: .relaxed) >= input.count + 22050 })
        let recorded = tap.recording()
        status = (try? runTimbre(["status", "--json", "--port", String(port)]))?.stdout ?? status
        log = serve.stop()

        let engine = try JSONDecoder().decode(EngineStatus.self, from: Data(status.utf8))
        let byLabel = Dictionary(uniqueKeysWithValues: engine.nodes.map { ($0.label, $0) })
        // c and e share a lane (the first forward lane), d has the other worker's lane.
        #expect(byLabel["c"]?.lane?.members == 2 && byLabel["e"]?.lane?.members == 2, "\(status)")
        #expect(byLabel["c"]?.phaseSamples == byLabel["e"]?.phaseSamples, "a lane's nodes complete their blocks together")
        #expect((byLabel["c"]?.lane?.averageBatch ?? 0) > 1.5, "c and e share calls: \(status)")
        #expect(byLabel["d"]?.lane?.members == 1 && byLabel["f"]?.lane != nil)
        #expect(engine.nodes.allSatisfy { $0.dropouts == 0 && $0.errors == 0 }, "\(status)")

        let render = try runTimbre(["render", "--session", dir.file("session.txt").path, "--input", dir.file("in.wav").path,
                                    "--out", dir.file("out").path, "--models-dir", Signals.models.path])
        #expect(render.status == 0, "\(render.stderr)")
        for (index, label) in labels.enumerated() {
            let rendered = try AudioFile.read(dir.file("out/\(label).wav")).channels[0]
            let best = bestAlignment(recorded[index], rendered)
            #expect(rendered.map { $0 * $0 }.reduce(0, +) > 100, "the rendered node \(label) is not silent")
            #expect(best.error < 1e-4, "\(label): best alignment \(best.shift) samples, largest difference \(best.error); serve log: \(log)")
            print("lanes through JACK vs render, node \(label) (lane \(byLabel[label]?.lane.map { "\($0.members) nodes, \($0.averageBatch) per call" } ?? "none")): aligned at \(best.shift), largest difference \(best.error)")
        }
    }

    /// 200 toggles while a steady node plays: nothing crashes, memory settles, the steady
    /// node never drops out and JACK never misses a cycle. The workers run at nice -10 (as
    /// `serve --worker-nice` lets a musician run them) so that other programs on this 2-core
    /// machine cannot starve them; the loader runs at nice 10 either way.
    @Test func twoHundredTogglesLeaveTheOtherNodesAlone() throws {
        let server = try JackServer(sampleRate: 44100, period: 512)
        defer { server.stop() }
        let driver = try JackDriver.open(clientName: "timbre", server: server.name) {
            $0.modelsDirectories = [Signals.models]
            $0.workerNice = -10
        }
        defer { driver.stop() }
        try driver.start(connect: false)
        let instrument = driver.instrument
        let tap = try JackTap(name: "tap", server: server.name, playing: [Signals.noise(frames: 44100)], loop: true,
                              recordChannels: 0, recordFrames: 0)
        try tap.client.connect(tap.outputName(0), "timbre:in_1")
        tap.start()
        try instrument.createNow(NodeSpec(label: "steady", model: "tiny-deterministic.ts"))
        // Two steady nodes of the batchable model, one in each of its lanes: the toggled
        // batchable nodes join one of those lanes and leave it again.
        try instrument.createNow(NodeSpec(label: "steady-lane-1", model: "tiny-batched.ts"))
        try instrument.createNow(NodeSpec(label: "steady-lane-2", model: "tiny-batched.ts"))
        let steadyLabels = ["steady", "steady-lane-1", "steady-lane-2"]
        #expect(waitUntil(5) { instrument.status().nodes.filter { steadyLabels.contains($0.label) && $0.blocks > 5 }.count == 3 })
        let xrunsBefore = instrument.xruns.load(ordering: .relaxed)

        var memoryAt20 = 0
        var sharedLane = false
        let models = ["tiny-streaming.ts", "tiny-batched.ts", "tiny-stereo.ts", "tiny-deterministic.ts"]
        for toggle in 1...200 {
            // Odd toggles create (with a model that changes every two), even ones free.
            let spec = NodeSpec(label: "t", model: models[(toggle / 2) % models.count], method: toggle % 4 == 1 ? .encode : .forward)
            let outcome = Result { () -> NodeEvent in
                let done = DispatchSemaphore(value: 0)
                nonisolated(unsafe) var result: Result<NodeEvent, Error>!
                instrument.toggle(spec) { result = $0; done.signal() }
                done.wait()
                return try result.get()
            }
            let event = try outcome.get()
            #expect(event == (toggle % 2 == 1 ? .created(label: "t", latency: 4096) : .freed(label: "t")))
            if toggle % 2 == 1, spec.model == "tiny-batched.ts", spec.method == .forward {
                sharedLane = sharedLane || instrument.status().nodes.first { $0.label == "t" }?.lane?.members == 2
            }
            usleep(useconds_t(Int.random(in: 5_000...40_000)))
            if toggle == 20 {
                _ = waitUntil(2) { instrument.status().nodes.count == 3 }
                memoryAt20 = residentBytes()
            }
        }
        _ = waitUntil(2) { instrument.status().nodes.count == 3 }
        let memoryAt200 = residentBytes()
        let xruns = instrument.xruns.load(ordering: .relaxed) - xrunsBefore
        let steady = instrument.status().nodes.filter { steadyLabels.contains($0.label) }
        print("200 toggles: resident memory \(memoryAt20 / 1_000_000) MB after 20, \(memoryAt200 / 1_000_000) MB after 200; steady nodes \(steady.map { "\($0.label): \($0.dropouts) dropouts, \($0.blocks) blocks" }.joined(separator: "; ")); \(xruns) xruns")
        #expect(abs(memoryAt200 - memoryAt20) < 20_000_000)
        #expect(steady.count == 3 && steady.allSatisfy { $0.dropouts == 0 && $0.blocks > 20 })
        #expect(sharedLane, "a toggled batchable node shared a steady node's lane")
        #expect(xruns == 0)
    }

    /// Loading a real RAVE model (hundreds of milliseconds of work, ports registered) while a
    /// node plays: the playing node never drops out and JACK never misses a cycle. Workers at
    /// nice -10, as in the toggle test above.
    @Test(.needsSharedModels)
    func loadingARealModelNeverCostsTheAudioThreadACycle() throws {
        let shared = TestPaths.sharedModels
        let server = try JackServer(sampleRate: 44100, period: 512)
        defer { server.stop() }
        let driver = try JackDriver.open(clientName: "timbre", server: server.name) {
            $0.modelsDirectories = [Signals.models, shared]
            $0.workerNice = -10
        }
        defer { driver.stop() }
        try driver.start(connect: false)
        let instrument = driver.instrument
        let tap = try JackTap(name: "tap", server: server.name, playing: [Signals.noise(frames: 44100)], loop: true,
                              recordChannels: 0, recordFrames: 0)
        try tap.client.connect(tap.outputName(0), "timbre:in_1")
        tap.start()
        try instrument.createNow(NodeSpec(label: "steady", model: "tiny-deterministic.ts"))
        #expect(waitUntil(5) { (instrument.status().nodes.first?.blocks ?? 0) > 5 })
        let xrunsBefore = instrument.xruns.load(ordering: .relaxed)
        for toggle in 1...20 {
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var result: Result<NodeEvent, Error>!
            instrument.toggle(NodeSpec(label: "rave", model: "drums-v2small-causal.ts")) { result = $0; done.signal() }
            done.wait()
            _ = try result.get()
            usleep(useconds_t(toggle % 2 == 1 ? 300_000 : 50_000))
        }
        let steady = try #require(instrument.status().nodes.first { $0.label == "steady" })
        let xruns = instrument.xruns.load(ordering: .relaxed) - xrunsBefore
        print("20 toggles of drums-v2small-causal.ts: steady node \(steady.dropouts) dropouts over \(steady.blocks) blocks; \(xruns) xruns")
        #expect(steady.dropouts == 0)
        #expect(xruns == 0)
    }

    /// A clear message when no server runs.
    @Test func sayingNoServerRuns() throws {
        #expect {
            _ = try JackClient(name: "timbre", server: "no-such-server-\(getpid())")
        } throws: { error in
            "\(error)".contains("no JACK server 'no-such-server")
        }
    }
}
