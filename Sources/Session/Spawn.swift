// The one way ThermoSweep starts a process: posix_spawn with the signals a child must handle
// (SIGINT, SIGTERM, SIGPIPE, SIGCHLD) back at their default action and none blocked, whatever the
// parent ignores or blocks.
import Foundation

/// A process could not be started; the message names the executable and the reason.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(description: String) { self.description = description }
}

public enum Spawn {
    /// Starts `executable` with `arguments` (after argv[0]); stdout and stderr appended to the
    /// given files when set (stderr to `stderrDescriptor`, e.g. a pipe, when that is set),
    /// inherited otherwise. `ownProcessGroup` puts it in a group of its own,
    /// so that a Ctrl-C in the terminal reaches only the parent. Returns its pid.
    public static func start(_ executable: String, _ arguments: [String], stdout: String? = nil, stderr: String? = nil,
                             stderrDescriptor: Int32? = nil, ownProcessGroup: Bool = false) throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdout { posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644) }
        if let stderr { posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644) }
        if let stderrDescriptor { posix_spawn_file_actions_adddup2(&actions, stderrDescriptor, 2) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&defaults)
        sigemptyset(&empty)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv = [executable] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArgs { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, &cArgs, environ)
        guard status == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        return pid
    }
}
