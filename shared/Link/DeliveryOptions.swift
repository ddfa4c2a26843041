import ArgumentParser

/// The delivery window's settings, the same flags on both ends of the link (hub toward the cloud, cloudhub toward
/// each node).
public struct DeliveryOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("resend-after-ms"),
            help: "An unacknowledged message is sent again after this long, then after twice as long each time (at most 60 s).")
    public var resendAfterMs = 5000

    @Option(name: .customLong("max-sends"),
            help: "Sends of an unacknowledged message before it is moved to the dead letters (its object's next message then goes).")
    public var maxSends = 10

    public init() {}

    public var policy: DeliveryWindow.Policy {
        DeliveryWindow.Policy(window: 64, resendAfter: .milliseconds(resendAfterMs), maxResendInterval: .seconds(60),
                              maxSends: maxSends)
    }
}
