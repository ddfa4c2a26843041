import Crypto
import NIOSSL
import X509

/// NIOSSL configurations for the link, built from our PKI types.
public enum LinkTLS {
    static func nioCertificate(_ certificate: Certificate) throws -> NIOSSLCertificate {
        try NIOSSLCertificate(bytes: try PKI.der(certificate), format: .der)
    }

    static func nioKey(_ key: P256.Signing.PrivateKey) throws -> NIOSSLPrivateKey {
        try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)
    }

    /// cloudhub's websocket port: TLS 1.2+, and a client certificate signed by the CA is required (§2.3).
    public static func websocketServer(
        ca: CertificateAuthority, certificate: Certificate, key: P256.Signing.PrivateKey
    ) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try nioCertificate(certificate))], privateKey: .privateKey(try nioKey(key)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates([try nioCertificate(ca.certificate)])
        configuration.certificateVerification = .noHostnameVerification
        return configuration
    }

    /// cloudhub's certificate port: a client certificate is asked for (rotation) but not required (§3.1).
    public static func certificateServer(
        ca: CertificateAuthority, certificate: Certificate, key: P256.Signing.PrivateKey
    ) throws -> TLSConfiguration {
        var configuration = try websocketServer(ca: ca, certificate: certificate, key: key)
        configuration.certificateVerification = .optionalVerification
        return configuration
    }

    /// hub towards cloudhub: trusts only the cloud CA, checks the host name, presents the edge certificate.
    public static func edgeClient(_ identity: EdgeIdentity) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates([try nioCertificate(identity.caCertificate)])
        configuration.certificateVerification = .fullVerification
        configuration.certificateChain = [.certificate(try nioCertificate(identity.certificate))]
        configuration.privateKey = .privateKey(try nioKey(identity.privateKey))
        return configuration
    }
}
