package io.ringloader.adapters.http;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Records fetched over HTTP, one GET per sample ({@code {i}} in the URL template is the sample index),
 * by a Netty client that each worker builds in {@link #open}: its own {@code EventLoopGroup}, its own
 * keep-alive connection, shut down in {@link #close}. This is the case that breaks after {@code fork()}
 * (an event loop's threads do not survive it); here the runtime is simply made where it runs.
 *
 * <p>Transient failures (no connection, a timeout, a 5xx answer) are retried with exponential backoff;
 * what still fails, and any 4xx answer, is an error naming the URL and the status. A sample's attempts,
 * waits included, fit in half the loader's {@code timeout} ({@link WorkerContext#timeoutMillis}): a
 * server that does not answer is an error naming its URL before the loader declares the worker hung. The decoder turns a
 * body into the sample's columns; the default keeps the body as a binary column {@code body}.
 */
public final class HttpDataset implements MapDataset {
    /** Writes one response body into a sample. */
    @FunctionalInterface
    public interface Decoder extends Serializable {
        void decode(byte[] body, long index, SampleWriter out) throws Exception;
    }

    private final String template;
    private final long size;
    private final io.ringloader.data.SerializableSchema schema;
    private final Decoder decoder;
    private final int attempts;
    private final long timeoutMillis;

    private transient EventLoopGroup group;
    private transient Bootstrap bootstrap;
    private transient Channel channel;
    private transient CompletableFuture<FullHttpResponse> pending;
    /** The loader's timeout (0: none known); one sample's attempts may take half of it in all. */
    private transient long loaderTimeoutMillis;

    private HttpDataset(String template, long size, Schema schema, Decoder decoder, int attempts, long timeoutMillis) {
        if (!template.contains("{i}")) throw new IllegalArgumentException("the URL template needs {i} for the sample index: " + template);
        URI uri = URI.create(template.replace("{i}", "0"));
        if (!"http".equals(uri.getScheme())) throw new IllegalArgumentException("HttpDataset speaks plain http, not " + uri.getScheme() + ": " + template);
        this.template = template;
        this.size = size;
        this.schema = new io.ringloader.data.SerializableSchema(schema);
        this.decoder = decoder;
        this.attempts = attempts;
        this.timeoutMillis = timeoutMillis;
    }

    /** {@code size} bodies, as a binary column {@code body}. */
    public static HttpDataset of(String urlTemplate, long size) {
        return new HttpDataset(urlTemplate, size, Columns.schema(Columns.binary("body")), (body, i, out) -> out.setBytes(0, body), 4, 5000);
    }

    /** {@code size} records decoded into {@code schema} by {@code decoder}. */
    public static HttpDataset of(String urlTemplate, long size, Schema schema, Decoder decoder) {
        return new HttpDataset(urlTemplate, size, schema, decoder, 4, 5000);
    }

    /** How many times a request is tried (default 4) and how long one may take (default 5 s). */
    public HttpDataset withRetries(int attempts, long timeoutMillis) {
        return new HttpDataset(template, size, sampleSchema(), decoder, attempts, timeoutMillis);
    }

    @Override
    public Schema sampleSchema() {
        return schema.get();
    }

    @Override
    public long size() {
        return size;
    }

    /** This worker's own event loop (one thread) and client. */
    @Override
    public void open(WorkerContext context) {
        loaderTimeoutMillis = context.timeoutMillis();
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeoutMillis)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(64 << 20),
                                new SimpleChannelInboundHandler<FullHttpResponse>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
                                        CompletableFuture<FullHttpResponse> p = pending;
                                        if (p != null) p.complete(response.retainedDuplicate());
                                    }

                                    @Override
                                    public void channelInactive(ChannelHandlerContext ctx) {
                                        CompletableFuture<FullHttpResponse> p = pending;
                                        if (p != null) p.completeExceptionally(new IOException("the server closed the connection"));
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        CompletableFuture<FullHttpResponse> p = pending;
                                        if (p != null) p.completeExceptionally(cause);
                                        ctx.close();
                                    }
                                });
                    }
                });
    }

    @Override
    public void read(long index, SampleWriter out) throws Exception {
        URI uri = URI.create(template.replace("{i}", Long.toString(index)));
        long budgetMillis = loaderTimeoutMillis / 2;
        long deadline = loaderTimeoutMillis > 0 ? System.nanoTime() / 1_000_000 + budgetMillis : Long.MAX_VALUE;
        Exception last = null;
        int attempt = 0;
        while (attempt < attempts) {
            long left = deadline == Long.MAX_VALUE ? timeoutMillis : deadline - System.nanoTime() / 1_000_000;
            if (left <= 0) break;
            attempt++;
            try {
                byte[] body = get(uri, Math.min(timeoutMillis, left));
                decoder.decode(body, index, out);
                return;
            } catch (PermanentFailure e) {
                throw new IOException("GET " + uri + " (sample " + index + ") " + e.getMessage());
            } catch (IOException | TimeoutException | ExecutionException e) {
                last = e;
                closeChannel();
                if (attempt < attempts) Thread.sleep(Math.max(0, Math.min(50L << (attempt - 1), deadline - System.nanoTime() / 1_000_000))); // 50, 100, 200 ms ...
            }
        }
        Throwable cause = last instanceof ExecutionException ee ? ee.getCause() : last;
        if (attempt < attempts) {
            throw new IOException("GET " + uri + " (sample " + index + ") failed " + attempt + " of " + attempts + " times in " + budgetMillis
                    + " ms, the half of the loader's timeout (" + loaderTimeoutMillis + " ms) a sample may wait; the last: " + cause
                    + ". Raise DataLoader.Builder.timeout, or lower the attempts or their timeout with HttpDataset.withRetries", last);
        }
        throw new IOException("GET " + uri + " (sample " + index + ") failed " + attempts + " times; the last: " + cause, last);
    }

    private byte[] get(URI uri, long timeoutMillis) throws Exception {
        if (channel == null || !channel.isActive()) {
            int port = uri.getPort() < 0 ? 80 : uri.getPort();
            channel = bootstrap.clone().option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, timeoutMillis))
                    .connect(uri.getHost(), port).sync().channel();
        }
        String path = uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        request.headers().set(HttpHeaderNames.HOST, uri.getHost()).set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        CompletableFuture<FullHttpResponse> response = new CompletableFuture<>();
        pending = response;
        channel.writeAndFlush(request);
        FullHttpResponse r = response.get(timeoutMillis, TimeUnit.MILLISECONDS);
        try {
            int status = r.status().code();
            if (status >= 500) throw new IOException("returned " + r.status());
            if (status >= 400) throw new PermanentFailure("returned " + r.status());
            if (!r.headers().contains(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE, true) && r.protocolVersion() == HttpVersion.HTTP_1_0) {
                closeChannel();
            }
            return ByteBufUtil.getBytes(r.content());
        } finally {
            r.release();
            pending = null;
        }
    }

    private void closeChannel() {
        if (channel != null) channel.close().awaitUninterruptibly(timeoutMillis);
        channel = null;
    }

    /** The event loop goes down with the worker's dataset. */
    @Override
    public void close() {
        closeChannel();
        if (group != null) group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        group = null;
    }

    private static final class PermanentFailure extends Exception {
        PermanentFailure(String message) {
            super(message);
        }
    }
}
