#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

// The few POSIX calls the model library makes directly: it lives in the light front end,
// which links FoundationEssentials only (no Foundation, whose Process and FileHandle would
// map its NSString layer and ICU into every `timbre send`).
enum POSIX {
    /// The size of a file in bytes, nil when it does not exist.
    static func size(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// Whether `path` is a regular file (symlinks followed).
    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// The last system error as text.
    static var lastError: String { String(cString: strerror(errno)) }

    /// The home folder from the password database (when HOME is unset).
    static var homeFromPasswordDatabase: String {
        guard let entry = getpwuid(getuid()), let home = entry.pointee.pw_dir else { return "/" }
        return String(cString: home)
    }

    /// Reads a file in pieces of up to 1 MiB, handing each to `body`.
    static func read(_ path: String, _ body: (UnsafeRawBufferPointer) -> Void) throws(ModelStoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelStoreError("read a file", path, "cannot open it (\(lastError))") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw ModelStoreError("read a file", path, "cannot read it (\(lastError))") }
            if count == 0 { return }
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// Runs `program` with `arguments` (stdin and stdout on /dev/null), waits, and returns its
    /// exit status (128 + the signal when a signal ended it) and, with `captureErrors`, its
    /// stderr; otherwise stderr is this process's (a progress bar on the terminal).
    static func run(_ program: String, _ arguments: [String], captureErrors: Bool) throws(ModelStoreError) -> (status: Int32, errors: String) {
        var pipeEnds: [Int32] = [-1, -1]
        if captureErrors {
            guard pipe(&pipeEnds) == 0 else { throw ModelStoreError("run a program", program, "cannot make a pipe (\(lastError))") }
            // Close-on-exec: the child keeps only the copy dup2 puts on its stderr.
            for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        if captureErrors { posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2) }
        // The child starts with no signal blocked, whatever this thread blocks.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) }
        argv.append(nil)
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, &attributes, argv, environ)
        if captureErrors { close(pipeEnds[1]) }
        guard spawned == 0 else {
            if captureErrors { close(pipeEnds[0]) }
            throw ModelStoreError("run a program", program, "cannot run it (\(String(cString: strerror(spawned))))")
        }
        var errors: [UInt8] = []
        if captureErrors {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = Glibc.read(pipeEnds[0], &chunk, chunk.count)
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                errors += chunk[0..<count]
            }
            close(pipeEnds[0])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, String(decoding: errors, as: UTF8.self))
    }
}
