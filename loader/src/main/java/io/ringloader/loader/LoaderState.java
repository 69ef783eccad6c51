package io.ringloader.loader;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where a loader is: the address of the next batch to deliver, and a fingerprint of what decides the
 * addresses. Nothing else (no buffers, no random state): a batch is a function of the seed, the epoch and
 * its index alone, so the address is enough to carry on exactly, with any number of workers in any mode.
 * Take it with {@link DataLoader#state()}, save {@link #toJson()} or {@link #toBytes()} beside the model's
 * checkpoint, and give it back with {@link DataLoader.Builder#resumeFrom}.
 *
 * <pre>{@code
 * {"format":"ringloader.LoaderState","version":1,"epoch":3,"batches":17,"alsoDelivered":[],
 *  "fingerprint":{"datasetSize":60000,"batchSize":256,"dropLast":false,"seed":42,"rank":0,"worldSize":1,
 *                 "sampler":"RandomSampler[]","batchSampler":"SamplerBatches[...]","order":"5f1c0b..."},
 *  "shards":[],"shardsEnded":[]}
 * }</pre>
 *
 * @param epoch         the epoch to carry on
 * @param batches       batches 0 to {@code batches - 1} of it were delivered (for a stream: how many, of all shards)
 * @param alsoDelivered with {@code inOrder(false)}, batches after those that were delivered too (ascending)
 * @param fingerprint   what decides the batches; a loader refuses a state whose fingerprint differs from its own
 * @param shards        for a streaming dataset, the batches delivered of each shard in this epoch (empty for a map-style dataset)
 * @param shardsEnded   for a streaming dataset, the shards seen to end in this epoch
 */
public record LoaderState(int epoch, long batches, List<Long> alsoDelivered, Fingerprint fingerprint, List<Long> shards,
                          List<Long> shardsEnded) {
    /** The version of the format this build writes and reads. */
    public static final int VERSION = 1;
    private static final String FORMAT = "ringloader.LoaderState";

    public LoaderState {
        if (epoch < 0 || batches < 0) throw new IllegalArgumentException("a state's epoch and batches cannot be negative: " + epoch + ", " + batches);
        alsoDelivered = List.copyOf(alsoDelivered);
        shards = List.copyOf(shards);
        shardsEnded = List.copyOf(shardsEnded);
        Objects.requireNonNull(fingerprint, "fingerprint");
    }

    /**
     * What decides the order and the contents of the batches.
     *
     * @param datasetSize  samples in the dataset (-1 for a stream)
     * @param batchSize    samples per batch
     * @param dropLast     whether a short last batch is dropped
     * @param seed         the loader's seed
     * @param rank         this trainer's rank
     * @param worldSize    the number of trainers
     * @param sampler      the sampler, type and parameters ("RandomSampler[]")
     * @param batchSampler the batch sampler, type and parameters
     * @param order        a digest of the epoch's batches (their sample indices), in hex: a sampler of your own that
     *                     changed its mind gives another; for a stream, its shard count ("shards=8")
     */
    public record Fingerprint(long datasetSize, int batchSize, boolean dropLast, long seed, int rank, int worldSize, String sampler,
                              String batchSampler, String order) {
        public Fingerprint {
            Objects.requireNonNull(sampler, "sampler");
            Objects.requireNonNull(batchSampler, "batchSampler");
            Objects.requireNonNull(order, "order");
        }

        /** The fields in order, as name and value, for comparing and for JSON. */
        private List<Map.Entry<String, Object>> fields() {
            return List.of(Map.entry("datasetSize", datasetSize), Map.entry("batchSize", (long) batchSize), Map.entry("dropLast", dropLast),
                    Map.entry("seed", seed), Map.entry("rank", (long) rank), Map.entry("worldSize", (long) worldSize),
                    Map.entry("sampler", sampler), Map.entry("batchSampler", batchSampler), Map.entry("order", order));
        }

        /** The first field in which {@code loader}'s differs, as "seed: 42 in the state, 7 in this loader"; null if none. */
        String firstDifference(Fingerprint loader) {
            List<Map.Entry<String, Object>> mine = fields(), theirs = loader.fields();
            for (int i = 0; i < mine.size(); i++) {
                Object a = mine.get(i).getValue(), b = theirs.get(i).getValue();
                if (!a.equals(b)) return mine.get(i).getKey() + ": " + show(a) + " in the state, " + show(b) + " in this loader";
            }
            return null;
        }

        private static String show(Object v) {
            return v instanceof String s ? Json.quote(s) : String.valueOf(v);
        }
    }

    /** The state as one line of JSON. */
    public String toJson() {
        StringBuilder b = new StringBuilder();
        b.append("{\"format\":").append(Json.quote(FORMAT)).append(",\"version\":").append(VERSION)
                .append(",\"epoch\":").append(epoch).append(",\"batches\":").append(batches)
                .append(",\"alsoDelivered\":").append(longs(alsoDelivered)).append(",\"fingerprint\":{");
        String sep = "";
        for (Map.Entry<String, Object> f : fingerprint.fields()) {
            b.append(sep).append(Json.quote(f.getKey())).append(':')
                    .append(f.getValue() instanceof String s ? Json.quote(s) : String.valueOf(f.getValue()));
            sep = ",";
        }
        return b.append("},\"shards\":").append(longs(shards)).append(",\"shardsEnded\":").append(longs(shardsEnded)).append('}').toString();
    }

    /** {@link #toJson()} in UTF-8. */
    public byte[] toBytes() {
        return toJson().getBytes(StandardCharsets.UTF_8);
    }

    private static String longs(List<Long> values) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < values.size(); i++) b.append(i == 0 ? "" : ",").append(values.get(i));
        return b.append(']').toString();
    }

    /** Reads a state written by {@link #toJson()}; an unknown version or a missing field is an error that says which. */
    public static LoaderState fromJson(String json) {
        if (!(Json.parse(json) instanceof Map<?, ?> top)) throw new IllegalArgumentException("not a ringloader state: the JSON is not an object");
        if (!FORMAT.equals(top.get("format"))) {
            throw new IllegalArgumentException("not a ringloader state: \"format\" is " + top.get("format") + ", not \"" + FORMAT + "\"");
        }
        long version = number(top, "version");
        if (version != VERSION) {
            throw new IllegalArgumentException("a ringloader state of version " + version + ", and this ringloader reads version " + VERSION
                    + ": resume it with the ringloader that wrote it");
        }
        if (!(top.get("fingerprint") instanceof Map<?, ?> f)) throw new IllegalArgumentException("not a ringloader state: no \"fingerprint\" object");
        Fingerprint fp = new Fingerprint(number(f, "datasetSize"), Math.toIntExact(number(f, "batchSize")), bool(f, "dropLast"),
                number(f, "seed"), Math.toIntExact(number(f, "rank")), Math.toIntExact(number(f, "worldSize")), text(f, "sampler"),
                text(f, "batchSampler"), text(f, "order"));
        return new LoaderState(Math.toIntExact(number(top, "epoch")), number(top, "batches"), numbers(top, "alsoDelivered"), fp,
                numbers(top, "shards"), numbers(top, "shardsEnded"));
    }

    /** Reads {@link #toBytes()}. */
    public static LoaderState fromBytes(byte[] bytes) {
        return fromJson(new String(bytes, StandardCharsets.UTF_8));
    }

    private static long number(Map<?, ?> m, String key) {
        if (m.get(key) instanceof Long l) return l;
        throw missing(key, "an integer");
    }

    private static String text(Map<?, ?> m, String key) {
        if (m.get(key) instanceof String s) return s;
        throw missing(key, "a string");
    }

    private static boolean bool(Map<?, ?> m, String key) {
        if (m.get(key) instanceof Boolean b) return b;
        throw missing(key, "true or false");
    }

    private static List<Long> numbers(Map<?, ?> m, String key) {
        if (!(m.get(key) instanceof List<?> list)) throw missing(key, "a list of integers");
        List<Long> out = new ArrayList<>();
        for (Object o : list) {
            if (!(o instanceof Long l)) throw missing(key, "a list of integers");
            out.add(l);
        }
        return out;
    }

    private static IllegalArgumentException missing(String key, String what) {
        return new IllegalArgumentException("not a ringloader state: \"" + key + "\" must be " + what);
    }
}
