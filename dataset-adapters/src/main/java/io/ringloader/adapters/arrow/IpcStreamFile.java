package io.ringloader.adapters.arrow;

import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageMetadataResult;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One Arrow IPC stream file read message by message, so that a record batch can be passed over without
 * reading it. Every message is a small flatbuffer header followed by a body of known length:
 *
 * <pre>
 *   [schema] [header | body] [header | body] ... [end of stream]
 *                 |                 '-- bodyLength bytes: the batch's buffers
 *                 '-- RecordBatch: length (the row count), buffer offsets, bodyLength
 * </pre>
 *
 * {@link #nextBatch} reads the next record batch's header only and gives its row count; then either
 * {@link #pass} moves the file position past its body (a seek: the body is never read) or {@link #load}
 * reads the body into a {@link VectorLoader}'s root. Dictionary batches (for columns not selected; a
 * selected dictionary column is refused when the dataset is made) are passed the same way.
 */
final class IpcStreamFile implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final ReadChannel in;
    private final Schema schema;
    /** The record batch whose header was read and whose body was neither passed nor loaded, or null. */
    private MessageMetadataResult current;

    private IpcStreamFile(Path file, FileChannel channel) throws IOException {
        this.file = file;
        this.channel = channel;
        this.in = new ReadChannel(channel);
        MessageMetadataResult first = MessageSerializer.readMessage(in);
        if (first == null || first.headerType() != MessageHeader.Schema) {
            throw new IOException("it does not start with a schema message");
        }
        this.schema = MessageSerializer.deserializeSchema(first);
    }

    /** Opens {@code file} and reads its schema; a missing file, or one that is not a stream, is an error naming it. */
    static IpcStreamFile open(Path file) {
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("Arrow IPC stream " + file + " does not exist", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot open the Arrow IPC stream " + file + ": " + e, e);
        }
        try {
            return new IpcStreamFile(file, channel);
        } catch (IOException | RuntimeException e) {
            try {
                channel.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new IllegalArgumentException(file + " is not an Arrow IPC stream: " + e.getMessage(), e);
        }
    }

    Schema schema() {
        return schema;
    }

    /**
     * Reads the header of the next record batch (passing the bodies of dictionary batches and of a
     * current batch neither passed nor loaded) and returns its row count, or -1 at the end of the stream.
     */
    long nextBatch() {
        try {
            if (current != null) pass();
            while (true) {
                MessageMetadataResult m = MessageSerializer.readMessage(in);
                if (m == null) return -1;
                switch (m.headerType()) {
                    case MessageHeader.RecordBatch -> {
                        current = m;
                        org.apache.arrow.flatbuf.RecordBatch header = (org.apache.arrow.flatbuf.RecordBatch) m.getMessage()
                                .header(new org.apache.arrow.flatbuf.RecordBatch());
                        return header.length();
                    }
                    case MessageHeader.DictionaryBatch -> skip(m.getMessageBodyLength());
                    default -> throw new IOException("unexpected message of type " + MessageHeader.name(m.headerType()) + " after the schema");
                }
            }
        } catch (IOException | RuntimeException e) {
            throw damaged(e);
        }
    }

    /** Moves past the current record batch's body without reading it. */
    void pass() {
        try {
            skip(current.getMessageBodyLength());
            current = null;
        } catch (IOException e) {
            throw damaged(e);
        }
    }

    /** Reads the current record batch's body into {@code loader}'s root. */
    void load(VectorLoader loader, BufferAllocator allocator) {
        MessageMetadataResult m = current;
        current = null;
        try {
            ArrowBuf body = MessageSerializer.readMessageBody(in, m.getMessageBodyLength(), allocator);
            // deserializeRecordBatch gives up the body once the batch holds its slices, as ArrowStreamReader relies on.
            try (ArrowRecordBatch batch = MessageSerializer.deserializeRecordBatch(m, body)) {
                loader.load(batch);
            }
        } catch (IOException | RuntimeException e) {
            throw damaged(e);
        }
    }

    private void skip(long bytes) throws IOException {
        long to = channel.position() + bytes;
        if (to > channel.size()) throw new IOException("a message body ends at byte " + to + ", past the end of the file (" + channel.size() + " bytes)");
        channel.position(to);
    }

    private IllegalArgumentException damaged(Exception e) {
        return new IllegalArgumentException(file + " is a damaged Arrow IPC stream: " + e.getMessage(), e);
    }

    @Override
    public void close() throws IOException {
        in.close(); // closes the channel
    }
}
