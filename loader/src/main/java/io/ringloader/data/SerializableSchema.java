package io.ringloader.data;

import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.io.Serial;
import java.io.Serializable;
import java.io.UncheckedIOException;

/**
 * An Arrow {@link Schema} that a dataset recipe can keep: Arrow's {@code Schema} does not serialize, so
 * this keeps its JSON form and rebuilds the schema (once) where it is asked for.
 */
public final class SerializableSchema implements Serializable {
    @Serial
    private static final long serialVersionUID = 1;

    private final String json;
    private transient Schema schema;

    public SerializableSchema(Schema schema) {
        this.json = schema.toJson();
        this.schema = schema;
    }

    public Schema get() {
        if (schema == null) {
            try {
                schema = Schema.fromJSON(json);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot rebuild a schema from its JSON form", e);
            }
        }
        return schema;
    }
}
