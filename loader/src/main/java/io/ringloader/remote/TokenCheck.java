package io.ringloader.remote;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Refuses every call of a worker host that does not carry the shared {@link Token}, before any of its
 * messages is read: gRPC parses a call's messages only for the listener this returns, and a refused call
 * gets none. Each refusal is logged with the peer's address (never the token it sent).
 */
final class TokenCheck implements ServerInterceptor {
    private static final Logger LOG = LoggerFactory.getLogger(TokenCheck.class);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";

    private final Token token;
    private final AtomicLong refused = new AtomicLong();

    TokenCheck(Token token) {
        this.token = token;
    }

    /** Calls refused so far. */
    long refused() {
        return refused.get();
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        String value = headers.get(AUTHORIZATION);
        String why = value == null ? "no token" : !value.startsWith(BEARER) ? "no bearer token"
                : token.matches(value.substring(BEARER.length()).getBytes(StandardCharsets.UTF_8)) ? null : "a wrong token";
        if (why == null) return next.startCall(call, headers);
        refused.incrementAndGet();
        LOG.warn("ringloader worker-host: refused a call of {} from {}: {}", call.getMethodDescriptor().getFullMethodName(),
                call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), why);
        call.close(Status.UNAUTHENTICATED.withDescription("ringloader worker-host: " + why + " (give the host's token: "
                + Token.FILE_ENV + " or " + Token.ENV + ")"), new Metadata());
        return new ServerCall.Listener<>() {};
    }
}
