import Bus
import EdgeProtocol
import Logging
import ServiceLifecycle

/// A message on the bus that could not be used: the topic it came on and why.
public struct MalformedMessage: Error, CustomStringConvertible, Sendable {
    public let topic: String
    public let reason: String

    public init(topic: String, reason: String) {
        self.topic = topic
        self.reason = reason
    }

    public var description: String { "malformed message on '\(topic)': \(reason)" }
}

extension BusMessage {
    /// Decodes the payload as a KubeEdge envelope, or throws `MalformedMessage` naming the topic and the reason.
    public func envelope() throws(MalformedMessage) -> Message {
        do {
            return try MessageCodec.decode(payload)
        } catch {
            throw MalformedMessage(topic: topic, reason: "\(error)")
        }
    }
}

extension BusMessage {
    /// The payload as a KubeEdge envelope, or nil after logging it as dropped (topic and reason), the same way
    /// `handleMessages` does: for code that cannot throw, such as a bus intake.
    public func envelope(orLogTo logger: Logger) -> Message? {
        do {
            return try envelope()
        } catch {
            logger.error("dropped malformed message", metadata: [
                "topic": "\(error.topic)", "reason": "\(error.reason)", "bytes": "\(payload.count)",
            ])
            return nil
        }
    }
}

extension ServiceContext {
    /// Handles every received message in order. A message whose handler throws is logged with its topic and the
    /// reason, and the loop goes on: bad input never stops a service. On graceful shutdown it handles the messages
    /// already received, then returns.
    public func handleMessages(_ handle: @Sendable (BusMessage) async throws -> Void) async {
        let bus = self.bus
        await withGracefulShutdownHandler {
            await handleAll(handle)
        } onGracefulShutdown: {
            bus.finishReceiving()
        }
    }

    private func handleAll(_ handle: @Sendable (BusMessage) async throws -> Void) async {
        var abandoned = 0
        defer {
            if abandoned > 0 {
                logger.warning("the shutdown bound passed with received messages not yet handled",
                               metadata: ["messages": "\(abandoned)"])
            }
        }
        for await message in bus.messages {
            if Task.isCancelled {
                abandoned += 1  // past the drain bound: the rest is not worked on
                continue
            }
            do {
                try await handle(message)
            } catch let error as MalformedMessage {
                logger.error("dropped malformed message", metadata: [
                    "topic": "\(error.topic)", "reason": "\(error.reason)", "bytes": "\(message.payload.count)",
                ])
            } catch is CancellationError where Task.isCancelled {
                abandoned += 1
            } catch {
                logger.error("failed to handle message", metadata: [
                    "topic": "\(message.topic)", "reason": "\(error)",
                ])
            }
        }
    }
}
