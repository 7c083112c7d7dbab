import Foundation

// A parent may start us with SIGTERM/SIGINT blocked (Dispatch worker threads block
// signals, and a spawned child inherits the mask): unblock them, so that stopping
// `marac requests watch` works however it was started.
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
for number in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&stopSignals, number) }
sigprocmask(SIG_UNBLOCK, &stopSignals, nil)

exit(Marac.run(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
