import POSIX

/// An error from the journal: what went wrong, and where, precisely enough to act on.
///
/// `code` is extensible (new codes can be added without breaking callers);
/// `message` is a complete human sentence; `path`, `offset`, `seq` and
/// `errno` locate the problem when they are known.
public struct JournalError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable, machine-readable error kind.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable text, e.g. `"corrupt"`.
        public let rawValue: String
        /// Makes a code; prefer the predefined static members.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's stable text.
        public var description: String { rawValue }

        /// A system call failed (see `errno`).
        public static let io = Code("io")
        /// Writing or syncing an append failed; nothing in that append was stored.
        public static let writeFailed = Code("write_failed")
        /// The journal stopped accepting appends after an earlier write failure.
        public static let failed = Code("failed")
        /// The journal was closed.
        public static let closed = Code("closed")
        /// A record, segment or snapshot on disk is damaged, missing or out of order.
        public static let corrupt = Code("corrupt")
        /// The key does not match the one the journal was written with.
        public static let wrongKey = Code("wrong_key")
        /// A key file is missing, malformed or readable by others.
        public static let keyFile = Code("key_file")
        /// A payload is larger than `JournalOptions.maxPayloadSize`.
        public static let payloadTooLarge = Code("payload_too_large")
        /// An argument is out of range (e.g. a snapshot position not in the chain).
        public static let invalidArgument = Code("invalid_argument")
        /// Another process has the journal open (its `LOCK` file is held).
        public static let inUse = Code("in_use")
        /// The journal is shorter than its head anchor: acknowledged records were removed from its end.
        public static let truncated = Code("truncated")
        /// The head anchor file is missing, malformed, forged, or does not match the journal.
        public static let anchor = Code("anchor")
    }

    /// What kind of error this is.
    public let code: Code
    /// A complete human-readable sentence saying what happened.
    public let message: String
    /// The file concerned, if any.
    public let path: String?
    /// The byte offset in `path`, if known.
    public let offset: Int64?
    /// The record sequence number concerned, if known.
    public let seq: UInt64?
    /// The system error number, for `.io` and `.writeFailed`.
    public let errno: Int32?

    /// Makes an error; `message` should already name the context.
    public init(_ code: Code, _ message: String, path: String? = nil, offset: Int64? = nil, seq: UInt64? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.seq = seq
        self.errno = errno
    }

    /// The message, which already names file, offset, sequence number and errno.
    public var description: String { message }

    /// A failed system call as `.io`, with its message (`"<call> <context>: <strerror> (errno N)"`), path and errno.
    init(_ error: SystemError) {
        self.init(.io, error.description, path: error.path, errno: error.errno)
    }

    /// Runs `body`, reporting a failed system call as `.io`: the journal's public calls throw only `JournalError`.
    static func mappingSystemErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as SystemError { throw JournalError(error) }
    }

    /// Damage found in a segment.
    static func corrupt(_ what: String, path: String, offset: Int64, seq: UInt64?) -> JournalError {
        let seqText = seq.map { ", seq \($0)" } ?? ""
        return JournalError(.corrupt, "journal damaged: \(path), offset \(offset)\(seqText): \(what)", path: path, offset: offset, seq: seq)
    }

    /// Any error as a `JournalError` (errors thrown inside the module already are).
    static func wrap(_ error: any Error) -> JournalError {
        (error as? JournalError) ?? (error as? SystemError).map { JournalError($0) } ?? JournalError(.io, "\(error)")
    }
}
