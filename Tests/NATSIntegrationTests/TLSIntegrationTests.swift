import Foundation
import NATSClient
import Testing

/// TLS and mutual TLS against a `nats-server` configured with a CA, a server certificate
/// and `verify: true`, all made by `openssl` in a temporary directory.
extension NATSIntegrationTests {
    @Suite(.serialized) struct TLS {
        struct Certificates {
            var directory: URL
            func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        }

        static func makeCertificates() throws -> Certificates {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "nats-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(
                to: directory.appendingPathComponent("server.ext"), atomically: true, encoding: .utf8)
            try "extendedKeyUsage=clientAuth\n".write(
                to: directory.appendingPathComponent("client.ext"), atomically: true, encoding: .utf8)
            let steps: [[String]] = [
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days",
                    "2",
                    "-subj", "/CN=Test CA",
                ],
                [
                    "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
                    "/CN=localhost",
                ],
                [
                    "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                    "server.pem", "-days", "2", "-extfile", "server.ext",
                ],
                [
                    "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj",
                    "/CN=client",
                ],
                [
                    "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                    "client.pem", "-days", "2", "-extfile", "client.ext",
                ],
            ]
            for step in steps {
                try run("openssl", step, in: directory)
            }
            return Certificates(directory: directory)
        }

        @Test func mutualTLS() async throws {
            let certificates = try Self.makeCertificates()
            defer { try? FileManager.default.removeItem(at: certificates.directory) }
            let server = try NATSServerProcess(
                configuration: """
                    tls {
                      cert_file: "\(certificates.path("server.pem"))"
                      key_file: "\(certificates.path("server.key"))"
                      ca_file: "\(certificates.path("ca.pem"))"
                      verify: true
                      timeout: 2
                    }
                    """)
            var options = NATSOptions(servers: [server.url])
            options.tls = NATSTLS(
                caFile: certificates.path("ca.pem"), certificateFile: certificates.path("client.pem"),
                privateKeyFile: certificates.path("client.key"))
            let connection = try await NATSConnection.connect(options)
            #expect(connection.serverInfo.tlsRequired)
            let subscription = try connection.subscribe("secure")
            try await connection.flush()
            try connection.publish("secure", payload: Array("over TLS".utf8))
            let message = try #require(await nextMessage(subscription))
            #expect(message.payload == Array("over TLS".utf8))
            await connection.close()

            // TLS is also used when only the server asks for it (tls_required), with the CA.
            var withoutCertificate = NATSOptions(servers: [server.url])
            withoutCertificate.tls = NATSTLS(caFile: certificates.path("ca.pem"))
            withoutCertificate.connectTimeout = .seconds(3)
            let refused = try await #require(throws: NATSError.self) {
                let connection = try await NATSConnection.connect(withoutCertificate)
                try await connection.flush()
                await connection.close()
            }
            #expect(refused.kind == .tls, "\(refused)")
            print("client without a certificate: \(refused)")

            // A client that does not trust the CA refuses the server.
            var untrusting = NATSOptions(servers: [server.url])
            untrusting.tls = NATSTLS(
                certificateFile: certificates.path("client.pem"), privateKeyFile: certificates.path("client.key"))
            let untrusted = try await #require(throws: NATSError.self) { try await NATSConnection.connect(untrusting) }
            #expect(untrusted.kind == .tls, "\(untrusted)")

            // Missing files are a typed error too.
            var missing = options
            missing.tls?.certificateFile = certificates.path("nope.pem")
            let missingError = try await #require(throws: NATSError.self) { try await NATSConnection.connect(missing) }
            #expect(missingError.kind == .tls)
        }
    }
}
