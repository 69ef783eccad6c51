package io.ringloader.it.loader;

import io.ringloader.data.Columns;
import io.ringloader.data.IterableDataset;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.vector.types.pojo.Schema;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** Datasets the loader tests use; each is a small serializable recipe. */
final class Datasets {
    private Datasets() {}

    /**
     * Every column type, with values derived from the index and from the sample's random stream (so that
     * results can be compared across worker counts and modes): x float32[2,4] (random), id int64,
     * name utf8 (null every 7th), flag bool, w float64, blob binary (i % 5 bytes), small int8.
     */
    record Numbers(long n) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.tensor("x", Columns.DType.FLOAT32, 2, 4), Columns.int64("id"), Columns.utf8("name"),
                    Columns.bool("flag"), Columns.float64("w"), Columns.binary("blob"), Columns.int8("small"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) {
            MemorySegment x = out.tensor(0);
            var random = out.random();
            for (int j = 0; j < 8; j++) x.setAtIndex(JAVA_FLOAT, j, (float) random.nextDouble());
            out.setLong(1, i);
            if (i % 7 == 0) out.setNull(2); else out.setString(2, "sample-" + i);
            out.setBoolean(3, i % 3 == 0);
            out.setDouble(4, i * 0.5);
            byte[] blob = new byte[(int) (i % 5)];
            for (int j = 0; j < blob.length; j++) blob[j] = (byte) (i + j);
            out.setBytes(5, blob);
            out.setByte(6, (byte) i);
        }
    }

    /** id int64 and a utf8 column whose values are {@code size} bytes long: batches outgrow their first estimate. */
    record BigStrings(long n, int length) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"), Columns.utf8("text"), Columns.binary("more"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) {
            out.setLong(0, i);
            out.setString(1, Character.toString('a' + (int) (i % 26)).repeat(length));
            out.setBytes(2, Long.toString(i).getBytes(StandardCharsets.UTF_8));
        }
    }

    /** id int64 and {@code bytes} random bytes per sample, drawn from the sample's index: a byte out of place changes a batch's digest. */
    record RandomBytes(long n, int bytes) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"), Columns.binary("bytes"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) {
            byte[] b = new byte[bytes];
            new java.util.SplittableRandom(i).nextBytes(b);
            out.setLong(0, i);
            out.setBytes(1, b);
        }
    }

    /** Throws at sample {@code failAt}. */
    record Failing(long n, long failAt) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) {
            if (i == failAt) throw new IllegalStateException("sample " + i + " is corrupt on purpose");
            out.setLong(0, i);
        }
    }

    /** Never returns from sample {@code hangAt}. */
    record Hanging(long n, long hangAt) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) throws InterruptedException {
            if (i == hangAt) waitForever();
            out.setLong(0, i);
        }

        static void waitForever() throws InterruptedException {
            Object lock = new Object();
            synchronized (lock) {
                while (true) lock.wait();
            }
        }
    }

    /** Exits the worker's JVM with {@code code} at sample {@code exitAt}, after a line on stderr. */
    record Exiting(long n, long exitAt, int code) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) {
            if (i == exitAt) {
                System.err.println("about to exit at sample " + i);
                System.exit(code);
            }
            out.setLong(0, i);
        }
    }

    /** Sleeps {@code millis} per sample: slow enough to kill a worker in the middle of an epoch. */
    record Slow(long n, long millis) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) throws InterruptedException {
            Thread.sleep(millis);
            out.setLong(0, i);
        }
    }

    /** Its open() starts a helper process that ignores SIGTERM (a database proxy, say). */
    record WithStubbornHelper(String mark) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public long size() {
            return 10;
        }

        @Override
        public void open(WorkerContext context) throws java.io.IOException {
            new ProcessBuilder("sh", "-c", "trap '' TERM; exec sleep " + mark).start();
        }

        @Override
        public void read(long i, SampleWriter out) {
            out.setLong(0, i);
        }
    }

    /** Its open() throws. */
    record OpenFails() implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public long size() {
            return 10;
        }

        @Override
        public void open(WorkerContext context) {
            throw new IllegalStateException("cannot reach the database (on purpose) from worker " + context.workerId());
        }

        @Override
        public void read(long i, SampleWriter out) {
            out.setLong(0, i);
        }
    }

    /**
     * A stream of {@code total} samples cut into {@code shardCount} uneven shards: shard k holds the ids
     * congruent to k mod (shardCount + 1), and the ids of the extra residue go to shard 0; so with more
     * than one shard, sizes differ, and shard 1 is empty when {@code emptyShard}.
     */
    record Sharded(long total, boolean emptyShard) implements IterableDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"), Columns.int32("shard"));
        }

        @Override
        public SampleSource stream(WorkerContext ctx) {
            int shard = ctx.shardIndex(), shards = ctx.shardCount();
            long[] next = {0};
            return out -> {
                while (next[0] < total) {
                    long id = next[0]++;
                    if (owner(id, shards) == shard) {
                        out.setLong(0, id);
                        out.setInt(1, shard);
                        return true;
                    }
                }
                return false;
            };
        }

        int owner(long id, int shards) {
            if (shards == 1) return 0;
            int r = (int) (id % (shards + 1));
            if (r == shards) return 0;
            if (emptyShard && r == 1) return 0;
            return r;
        }
    }

    /** A dataset of {@code n} samples with one int64 column, "id". */
    interface LikeIds extends MapDataset {
        long n();

        @Override
        default Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        default long size() {
            return n();
        }
    }

    /** A dataset with {@link Numbers}' schema and size, that reads its samples in a way of its own. */
    interface LikeNumbers extends MapDataset {
        long n();

        @Override
        default Schema sampleSchema() {
            return new Numbers(n()).sampleSchema();
        }

        @Override
        default long size() {
            return n();
        }
    }

    /** Numbers that also note, in this JVM, every sample index read (thread and inline workers only). */
    record Recording(long n) implements LikeNumbers {
        static final java.util.Set<Long> READ = java.util.concurrent.ConcurrentHashMap.newKeySet();

        @Override
        public void read(long i, SampleWriter out) {
            READ.add(i);
            new Numbers(n).read(i, out);
        }
    }

    /** Numbers whose samples in {@code broken} throw (a corrupt image, say). */
    record Broken(long n, java.util.Set<Long> broken) implements LikeNumbers {
        @Override
        public void read(long i, SampleWriter out) {
            if (broken.contains(i)) {
                out.setLong(1, i); // half written when it throws: the batch must not keep any of it
                out.setString(2, "half");
                throw new IllegalArgumentException("sample " + i + " cannot be decoded (on purpose)");
            }
            new Numbers(n).read(i, out);
        }
    }

    /**
     * Numbers that, the first time sample {@code at} is read on this machine (a marker file says), kill
     * their own worker ({@code hang} false: {@code kill -9} from inside, as the OOM killer would) or hang
     * in a sleep that an interrupt ends ({@code hang} true).
     */
    record FailsOnce(long n, long at, String marker, boolean hang) implements LikeNumbers {
        @Override
        public void read(long i, SampleWriter out) throws Exception {
            if (i == at) {
                try {
                    java.nio.file.Files.createFile(java.nio.file.Path.of(marker));
                    if (hang) {
                        Thread.sleep(Long.MAX_VALUE);
                    } else {
                        new ProcessBuilder("kill", "-9", Long.toString(ProcessHandle.current().pid())).start().waitFor();
                        Thread.sleep(Long.MAX_VALUE);
                    }
                } catch (java.nio.file.FileAlreadyExistsException second) {
                    // the successor reads it as any other sample
                }
            }
            new Numbers(n).read(i, out);
        }
    }

    /**
     * Sample 0 exits its worker with code 3; every other sample sleeps {@code millis} (in {@code Thread.sleep},
     * which a closed ring does not end); {@code close()} leaves a file {@code closed-<worker id>} in {@code dir}.
     */
    record ExitOrStall(long n, long millis, String dir) implements LikeIds {
        private static final ThreadLocal<Integer> WORKER = new ThreadLocal<>();

        @Override
        public void open(WorkerContext context) {
            WORKER.set(context.workerId());
        }

        @Override
        public void read(long i, SampleWriter out) throws InterruptedException {
            if (i == 0) System.exit(3);
            Thread.sleep(millis);
            out.setLong(0, i);
        }

        @Override
        public void close() throws java.io.IOException {
            java.nio.file.Files.writeString(java.nio.file.Path.of(dir, "closed-" + WORKER.get()), "closed");
        }
    }

    /** Crashes its worker's JVM in native code at sample {@code at}: strlen(NULL), as a broken decoder would. */
    record Segfaults(long n, long at) implements LikeIds {
        @Override
        public void read(long i, SampleWriter out) throws Exception {
            if (i == at) crash(out);
            else out.setLong(0, i);
        }

        private static void crash(SampleWriter out) {
            java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
            java.lang.invoke.MethodHandle strlen = linker.downcallHandle(linker.defaultLookup().find("strlen").orElseThrow(),
                    java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.ADDRESS));
            try {
                out.setLong(0, (long) strlen.invokeExact(MemorySegment.NULL));
            } catch (Throwable t) {
                throw new IllegalStateException("strlen(NULL) returned instead of crashing", t);
            }
        }
    }

    /** {@code perShard} samples in every shard: its shard, its position, and a draw of its random stream. */
    record RandomStream(long perShard) implements IterableDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int32("shard"), Columns.int64("position"), Columns.int64("draw"));
        }

        @Override
        public SampleSource stream(WorkerContext ctx) {
            long[] next = {0};
            return out -> {
                if (next[0] == perShard) return false;
                out.setInt(0, ctx.shardIndex());
                out.setLong(1, next[0]++);
                out.setLong(2, out.random().nextLong());
                return true;
            };
        }
    }

    /**
     * {@code perShard} samples in every shard (shard, position, a tag string); the sample at position p of
     * shard s throws when {@code s * 1000 + p} is in {@code broken}, after writing half of itself.
     */
    record BrokenStream(long perShard, java.util.Set<Long> broken) implements IterableDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int32("shard"), Columns.utf8("tag"), Columns.int64("position"));
        }

        @Override
        public SampleSource stream(WorkerContext ctx) {
            long[] next = {0};
            return out -> {
                if (next[0] == perShard) return false;
                long p = next[0]++;
                out.setInt(0, ctx.shardIndex());
                out.setString(1, (p % 3 == 0 ? "x" : "tag-") + ctx.shardIndex() + "-" + p);
                if (broken.contains(ctx.shardIndex() * 1000L + p)) throw new java.io.IOException("record " + p + " is damaged (on purpose)");
                out.setLong(2, p);
                return true;
            };
        }
    }
}
