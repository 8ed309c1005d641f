import NIOCore
import NIOSSL

/// The pipeline's NATS handler for one TCP connection: runs the handshake (`INFO`, the TLS
/// upgrade, `CONNECT` + `PING`, `PONG`), answers the server's `PING`s, and hands every
/// other frame to the ``NATSConnection`` once connected. Lives on the channel's event loop.
final class NATSChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case awaitingInfo
        case awaitingPong(ServerInfo)
        case connected
        case failed
    }

    private var phase = Phase.awaitingInfo
    private var parser = NATSFrameParser()
    private let handshake: EventLoopPromise<ServerInfo>
    private let connection: NATSConnection
    private let address: NATSServerAddress
    private let tlsContext: NIOSSLContext?
    private let connectTimeout: TimeAmount
    private var timeout: Scheduled<Void>?
    private var tlsError: NATSError?

    init(
        connection: NATSConnection, address: NATSServerAddress, tlsContext: NIOSSLContext?,
        connectTimeout: TimeAmount, handshake: EventLoopPromise<ServerInfo>
    ) {
        self.connection = connection
        self.address = address
        self.tlsContext = tlsContext
        self.connectTimeout = connectTimeout
        self.handshake = handshake
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let contextBox = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: connectTimeout) { [self] in
            failHandshake(
                NATSError(.timeout, "no handshake with \(address.host):\(address.port) within \(connectTimeout)"),
                context: contextBox.value)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        parser.append(buffer.readableBytesView)
        do {
            while let frame = try parser.next() {
                handle(frame, context: context)
                if case .failed = phase { return }
            }
        } catch {
            fail(error, context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .connected = phase, context.channel.isWritable {
            connection.channelBecameWritable(context.channel)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch phase {
        case .connected:
            phase = .failed
            connection.channelClosed(context.channel)
        case .awaitingInfo, .awaitingPong:
            failHandshake(
                tlsError ?? NATSError(.connectionLost, "\(address.host):\(address.port) closed during the handshake"),
                context: context)
        case .failed:
            break
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let natsError: NATSError
        if let error = error as? NATSError {
            natsError = error
        } else if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            natsError = NATSError(.tls, "TLS with \(address.host):\(address.port): \(error)")
            tlsError = natsError
        } else {
            natsError = NATSError(.connectionLost, "\(address.host):\(address.port): \(error)")
        }
        fail(natsError, context: context)
    }

    private func fail(_ error: NATSError, context: ChannelHandlerContext) {
        switch phase {
        case .connected:
            // The phase stays `.connected`: `channelInactive`, which the close brings, is what
            // tells the connection to reconnect (a reset by a killed server comes this way).
            connection.recordError(error)
            context.close(promise: nil)
        case .awaitingInfo, .awaitingPong:
            failHandshake(error, context: context)
        case .failed:
            break
        }
    }

    private func failHandshake(_ error: NATSError, context: ChannelHandlerContext) {
        switch phase {
        case .awaitingInfo, .awaitingPong:
            phase = .failed
            timeout?.cancel()
            handshake.fail(error)
            context.close(promise: nil)
        case .connected, .failed:
            break
        }
    }

    private func handle(_ frame: NATSFrame, context: ChannelHandlerContext) {
        switch frame {
        case .ping:
            var buffer = context.channel.allocator.buffer(capacity: 6)
            NATSProtocolEncoder.writePong(into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        case .ok:
            break
        case .info(let json):
            let info: ServerInfo
            do {
                info = try ServerInfo(json: json)
            } catch {
                fail(error, context: context)
                return
            }
            switch phase {
            case .awaitingInfo:
                startSession(info, context: context)
            case .connected:
                connection.updateServerInfo(info)
            case .awaitingPong, .failed:
                break
            }
        case .pong:
            switch phase {
            case .awaitingPong(let info):
                phase = .connected
                timeout?.cancel()
                handshake.succeed(info)
            case .connected:
                connection.receivedPong()
            case .awaitingInfo, .failed:
                break
            }
        case .error(let reason):
            let lowered = reason.lowercased()
            let kind: NATSError.Kind =
                lowered.contains("authorization") || lowered.contains("authentication") ? .authorization : .serverError
            let error = NATSError(kind, "server \(address.host):\(address.port): -ERR '\(reason)'")
            switch phase {
            case .connected:
                connection.recordError(error)
            case .awaitingInfo, .awaitingPong:
                failHandshake(error, context: context)
            case .failed:
                break
            }
        case .message(let sid, let message):
            if case .connected = phase {
                connection.deliver(sid: sid, message)
            }
        }
    }

    /// After `INFO`: the TLS upgrade when either side wants it, then `CONNECT` and `PING`.
    private func startSession(_ info: ServerInfo, context: ChannelHandlerContext) {
        let useTLS = info.tlsRequired || address.tls || connection.options.tls != nil
        if useTLS {
            do {
                let sslContext = try tlsContext ?? NATSConnection.makeTLSContext(NATSTLS())
                let serverName = connection.options.tls?.serverName ?? address.host
                let isIPAddress = (try? SocketAddress(ipAddress: serverName, port: 0)) != nil
                let sslHandler = try NIOSSLClientHandler(
                    context: sslContext, serverHostname: isIPAddress ? nil : serverName)
                try context.pipeline.syncOperations.addHandler(sslHandler, position: .first)
            } catch let error as NATSError {
                failHandshake(error, context: context)
                return
            } catch {
                failHandshake(NATSError(.tls, "TLS setup for \(address.host): \(error)"), context: context)
                return
            }
        }
        let json: String
        do {
            json = try connection.connectJSON(address: address, tls: useTLS)
        } catch {
            failHandshake(error, context: context)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: json.utf8.count + 16)
        NATSProtocolEncoder.writeConnect(json, into: &buffer)
        NATSProtocolEncoder.writePing(into: &buffer)
        phase = .awaitingPong(info)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}
