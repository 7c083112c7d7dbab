import Foundation

exit(Marac.run(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
