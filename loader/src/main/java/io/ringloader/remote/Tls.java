package io.ringloader.remote;

import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;

import javax.net.ssl.SSLContext;
import java.nio.file.Path;
import java.security.NoSuchAlgorithmException;

/**
 * The TLS of the data connections, from the PEM files that Flight's own TLS takes (read by the same
 * Netty code, so that a certificate and key Flight accepts are accepted here too).
 */
final class Tls {
    private Tls() {}

    /** A host's: its certificate chain and private key. */
    static SSLContext server(Path cert, Path key) {
        try {
            return ((JdkSslContext) SslContextBuilder.forServer(cert.toFile(), key.toFile()).sslProvider(SslProvider.JDK).build()).context();
        } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException("--tls-cert " + cert + " --tls-key " + key + ": " + e.getMessage(), e);
        }
    }

    /** A trainer's: trusting the PEM certificates in {@code trust}, or the JDK's when null. */
    static SSLContext client(Path trust) {
        try {
            if (trust == null) return SSLContext.getDefault();
            return ((JdkSslContext) SslContextBuilder.forClient().trustManager(trust.toFile()).sslProvider(SslProvider.JDK).build()).context();
        } catch (javax.net.ssl.SSLException | IllegalArgumentException | NoSuchAlgorithmException e) {
            throw new IllegalArgumentException("remoteTls: cannot trust " + trust + ": " + e.getMessage(), e);
        }
    }
}
