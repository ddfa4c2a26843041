// What eventbus does with one MQTT message from the device broker, as a pure function: device and node events go
// to twin, uploads go to the cloud, and malformed device traffic is turned back with an error result on the topic
// the sender waits on (KubeEdge's result shape) instead of entering the pipeline.

import EdgeProtocol

public enum DeviceTraffic: Equatable, Sendable {
    /// For twin (`ke/twin/in`): source `bus`, group `user`, operation `response`, resource = the MQTT topic,
    /// content = the payload (a JSON object).
    case toTwin(Message)
    /// For the cloud (`ke/up`): operation `upload`, resource = the MQTT topic, content = the payload as a string.
    case toCloud(Message)
    /// Refused: an error result to publish (when the topic has a result topic) and the reason to log.
    case rejected(resultTopic: String?, result: [UInt8], reason: String)

    public static func == (lhs: DeviceTraffic, rhs: DeviceTraffic) -> Bool {
        switch (lhs, rhs) {
        case (.toTwin(let a), .toTwin(let b)), (.toCloud(let a), .toCloud(let b)):
            a.route == b.route && a.content == b.content
        case (.rejected(let t1, let r1, let s1), .rejected(let t2, let r2, let s2)):
            t1 == t2 && r1 == r2 && s1 == s2
        default: false
        }
    }

    public static func classify(topic: String, payload: [UInt8], maxPayload: Int, now: Int64) -> DeviceTraffic {
        let isDeviceEvent = topic.hasPrefix(Topics.Device.prefix) || topic.hasPrefix(Topics.Node.prefix)
        guard isDeviceEvent else {
            guard payload.count <= maxPayload else {
                return .rejected(resultTopic: nil, result: [], reason: "payload of \(payload.count) bytes exceeds \(maxPayload)")
            }
            let text = String(decoding: payload, as: UTF8.self)
            return .toCloud(Message(source: "bus", group: "user", operation: "upload", resource: topic,
                                    content: RawJSON(string: text)))
        }
        let resultTopic = Self.resultTopic(for: topic)
        func reject(_ reason: String, eventID: String = "") -> DeviceTraffic {
            let result: JSONValue = [
                "event_id": .string(eventID), "timestamp": .integer(now), "code": 400, "reason": .string(reason),
            ]
            return .rejected(resultTopic: resultTopic, result: (try? result.serialized()) ?? [], reason: reason)
        }
        guard payload.count <= maxPayload else {
            return reject("the payload is \(payload.count) bytes, more than the \(maxPayload) allowed")
        }
        guard let value = try? JSONValue(parsing: payload) else {
            return reject("the payload is not valid JSON")
        }
        guard value.isObject else { return reject("the payload is not a JSON object") }
        let eventID = value["event_id"]?.stringValue ?? ""
        if let timestamp = value["timestamp"], timestamp.int64Value == nil, !timestamp.isNull {
            return reject("timestamp must be an integer (milliseconds)", eventID: eventID)
        }
        guard let content = try? RawJSON(validating: payload) else { return reject("the payload is not valid JSON") }
        return .toTwin(Message(source: "bus", group: "user", operation: "response", resource: topic, content: content))
    }

    /// Where a sender of `topic` waits for an answer: `…/twin/update` → `…/twin/update/result`, and so on.
    static func resultTopic(for topic: String) -> String? {
        for suffix in ["/twin/update", "/twin/get", "/state/update", "/membership/get"] where topic.hasSuffix(suffix) {
            return topic + "/result"
        }
        return nil
    }
}

/// What eventbus does with a cloud message for it (`ke/down/eventbus`) or an output of twin (`ke/twin/out`).
public enum BrokerAction: Equatable, Sendable {
    case publish(topic: String, payload: [UInt8])
    case subscribe(String)
    case unsubscribe(String)
    case ignore(reason: String)

    public static func from(_ message: Message) -> BrokerAction {
        let topic = message.route.resource
        switch message.route.operation {
        case "publish":
            guard !topic.isEmpty else { return .ignore(reason: "publish without a topic") }
            // Content is the payload: a JSON string carries the bytes as text, anything else is sent as JSON.
            let payload = message.content.stringValue.map { Array($0.utf8) } ?? message.content.bytes
            return .publish(topic: topic, payload: payload)
        case "subscribe":
            return topic.isEmpty ? .ignore(reason: "subscribe without a topic") : .subscribe(topic)
        case "unsubscribe":
            return topic.isEmpty ? .ignore(reason: "unsubscribe without a topic") : .unsubscribe(topic)
        case "message":
            // {"message": {"topic": "...", ...}}: the JSON of `message` goes to its topic.
            guard let value = try? message.content.parsed(), let inner = value["message"],
                  let target = inner["topic"]?.stringValue, !target.isEmpty,
                  let bytes = try? inner.serialized() else {
                return .ignore(reason: "a 'message' operation needs content {\"message\":{\"topic\":...}}")
            }
            return .publish(topic: target, payload: bytes)
        default:
            return .ignore(reason: "unknown operation '\(message.route.operation)'")
        }
    }
}
