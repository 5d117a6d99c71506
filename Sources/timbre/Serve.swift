import ArgumentParser
import Control
import Foundation
import Protocol

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The live instrument: RAVE models on JACK, each node on its own bus, toggled over OSC.",
        discussion: """
        A JACK client 'timbre' with inputs in_1/in_2, a master pair master_out_1/_2 and a pair \
        <label>_out_1/_2 per node. Control it with OSC on 127.0.0.1 (see docs/OSC.md), \
        `timbre send` and `timbre status`. Models load in the background and join without \
        disturbing the nodes already playing. Stop with /timbre/quit or Ctrl-C.
        """)

    @Option(help: "A session file whose commands run at start (time 0 before audio starts) and later at their @times.")
    var session: String?

    @Flag(help: "With --session: reload the file whenever it is saved, applying only what changed (new nodes created, removed nodes freed, changed settings set; unchanged nodes keep playing untouched).")
    var watch = false

    @Option(help: "UDP port for OSC.")
    var port: Int = defaultOSCPort

    @Option(help: "Address to listen on (default: this machine only).")
    var host: String = "127.0.0.1"

    @Option(name: .customLong("models-dir"), help: "A folder models may be loaded from (repeatable; default: the current folder).")
    var modelsDirs: [String] = []

    @Option(name: .customLong("files-dir"), help: "A folder /timbre/seq/encode may read and /timbre/session/save may write in (repeatable; default: read from the models folders, write nowhere).")
    var filesDirs: [String] = []

    @Option(help: "Default block in samples at the model's rate (raised to a model's minimum block).")
    var block: Int = 2048

    @Option(name: .customLong("inference-allowance"), help: "Time allowed for inference, in blocks (1 = one block, as nn~; lower it when the machine has headroom).")
    var inferenceAllowance: Double = 1

    @Flag(name: .customLong("no-connect"), help: "Leave routing to the user (by default the first capture ports feed in_1/in_2 and the master goes to the first playback ports).")
    var noConnect = false

    @Option(help: "The JACK server's name (default: JACK's default, or $JACK_DEFAULT_SERVER).")
    var server: String?

    @Option(name: .customLong("worker-nice"), help: "Nice value of the inference workers: below 0 (e.g. -15) they win the cores from other programs and still never compete with JACK (needs the right to raise priority).")
    var workerNice: Int = 0

    @Flag(name: .customLong("realtime-workers"), help: "Run inference at real-time priority 1, below every JACK thread, so other programs cannot take the workers' cores (needs real-time rights).")
    var realtimeWorkers = false

    @Flag(name: .customLong("no-batch"), help: "Run every node on its own instance (by default nodes of one model, method and block share batched calls, each with its own streaming state).")
    var noBatch = false

    @Option(name: .customLong("batch-limit"), help: "The most nodes one batched call carries.")
    var batchLimit: Int = 8

    @Option(help: "The JACK client's name.")
    var name: String = "timbre"

    @Flag(help: "Open a JACK MIDI input <name>:midi_in for controllers mapped with /timbre/midi/map (ALSA devices reach it through a2jmidid; see docs/OSC.md).")
    var midi = false

    func run() throws {
        guard block > 0, inferenceAllowance >= 0 else { throw ValidationError("--block must be positive and --inference-allowance not negative") }
        guard batchLimit > 0 else { throw ValidationError("--batch-limit must be positive") }
        guard !watch || session != nil else { throw ValidationError("--watch needs --session FILE") }
        var options = LiveServer.Options()
        options.port = port
        options.host = host
        options.modelsDirectories = modelsDirectories(modelsDirs)
        options.block = block
        options.inferenceAllowance = inferenceAllowance
        options.connect = !noConnect
        options.session = session.map { URL(fileURLWithPath: $0) }
        options.server = server
        options.clientName = name
        options.workerRealtimePriority = realtimeWorkers ? 1 : 0
        options.workerNice = workerNice
        options.batchNodes = !noBatch
        options.batchLimit = batchLimit
        options.filesDirectories = filesDirs.isEmpty ? nil : filesDirs.map { URL(fileURLWithPath: $0) }
        options.midi = midi
        options.watch = watch
        try LiveServer.run(options) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
