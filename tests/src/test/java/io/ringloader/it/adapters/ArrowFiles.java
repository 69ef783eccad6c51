package io.ringloader.it.adapters;

import io.ringloader.data.Columns;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.ArrowWriter;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Writes test Arrow IPC files: id int64, x float32[2,2] = (id, id+1, id+2, id+3) / 10, name utf8 (null every 5th), flag bool. */
final class ArrowFiles {
    private ArrowFiles() {}

    static final Schema SCHEMA = Columns.schema(Columns.int64("id"), Columns.tensor("x", Columns.DType.FLOAT32, 2, 2),
            Columns.utf8("name"), Columns.bool("flag"));

    /** {@code batches} record batches of {@code rows} rows, ids from {@code firstId}. */
    static Path write(Path file, long firstId, int batches, int rows, boolean stream) throws IOException {
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot root = VectorSchemaRoot.create(SCHEMA, allocator);
             FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
             OutputStream out = Channels.newOutputStream(channel);
             ArrowWriter writer = stream ? new ArrowStreamWriter(root, null, out) : new ArrowFileWriter(root, null, channel)) {
            writer.start();
            long id = firstId;
            for (int b = 0; b < batches; b++) {
                BigIntVector ids = (BigIntVector) root.getVector("id");
                FixedSizeListVector x = (FixedSizeListVector) root.getVector("x");
                VarCharVector names = (VarCharVector) root.getVector("name");
                BitVector flags = (BitVector) root.getVector("flag");
                root.allocateNew();
                Float4Vector values = (Float4Vector) x.getDataVector();
                for (int r = 0; r < rows; r++, id++) {
                    ids.setSafe(r, id);
                    x.startNewValue(r);
                    for (int j = 0; j < 4; j++) values.setSafe(r * 4 + j, (id + j) / 10f);
                    x.setNotNull(r);
                    if (id % 5 == 0) names.setNull(r); else names.setSafe(r, ("row-" + id).getBytes(StandardCharsets.UTF_8));
                    flags.setSafe(r, id % 2 == 0 ? 1 : 0);
                }
                root.setRowCount(rows);
                writer.writeBatch();
            }
            writer.end();
        }
        return file;
    }

    static Path garbage(Path file) throws IOException {
        byte[] junk = new byte[4096];
        new java.util.Random(1).nextBytes(junk);
        return Files.write(file, junk);
    }
}
