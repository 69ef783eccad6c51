package io.ringloader.it.adapters;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real Netty HTTP server on 127.0.0.1 for the HTTP adapter's tests: {@code /item/N} answers
 * {@code item-N}; items in {@code failOnce} answer 503 the first time, {@code missing} answers 404.
 * It counts the connections it accepts and the client ports they come from.
 */
final class TestHttpServer implements AutoCloseable {
    final AtomicInteger connections = new AtomicInteger();
    final Set<Integer> clientPorts = ConcurrentHashMap.newKeySet();
    final Set<Long> failOnce = ConcurrentHashMap.newKeySet();
    final Set<Long> failed = ConcurrentHashMap.newKeySet();
    volatile long missing = -1;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;

    TestHttpServer() throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.incrementAndGet();
                        clientPorts.add(ch.remoteAddress().getPort());
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new SimpleChannelInboundHandler<FullHttpRequest>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                long item = Long.parseLong(req.uri().substring(req.uri().lastIndexOf('/') + 1));
                                HttpResponseStatus status = HttpResponseStatus.OK;
                                String body = "item-" + item;
                                if (item == missing) {
                                    status = HttpResponseStatus.NOT_FOUND;
                                    body = "no such item";
                                } else if (failOnce.contains(item) && failed.add(item)) {
                                    status = HttpResponseStatus.SERVICE_UNAVAILABLE;
                                    body = "busy";
                                }
                                var res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
                                res.headers().set(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
                                ctx.writeAndFlush(res);
                            }
                        });
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    String template() {
        return "http://127.0.0.1:" + port() + "/item/{i}";
    }

    @Override
    public void close() {
        server.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
