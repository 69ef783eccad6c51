package io.ringloader.adapters.parquet;

import java.nio.ByteBuffer;

/**
 * Reads Thrift's compact protocol, the encoding of Parquet's footer and page headers, just far enough
 * to walk a struct field by field and skip what it does not need. A field header is one byte, the
 * field id's delta from the previous one in the high nibble and the type in the low one; integers are
 * zigzag varints:
 *
 * <pre>
 *   struct := field* STOP(0)      field := [delta:4 | type:4] (id:zigzag-i16 when delta is 0) value
 *   list   := [size:4 | type:4] (size:varint when size is 15) value*
 *   map    := size:varint ([ktype:4 | vtype:4] (key value)* when size > 0)
 * </pre>
 */
final class ThriftCompact {
    static final int STOP = 0, TRUE = 1, FALSE = 2, BYTE = 3, I16 = 4, I32 = 5, I64 = 6, DOUBLE = 7, BINARY = 8,
            LIST = 9, SET = 10, MAP = 11, STRUCT = 12;

    private final ByteBuffer in;
    private final short[] lastId = new short[64];
    private int depth;
    /** The type of the field whose header {@link #nextField} read last. */
    private int type;

    ThriftCompact(ByteBuffer in) {
        this.in = in;
    }

    int position() {
        return in.position();
    }

    /** Starts reading a struct's fields. */
    void beginStruct() {
        if (++depth >= lastId.length) throw new IllegalArgumentException("structs nested more than " + lastId.length + " deep");
        lastId[depth] = 0;
    }

    /** Reads the next field's header and returns its id, or -1 at the struct's end (which it leaves). */
    int nextField() {
        int header = in.get() & 0xff;
        type = header & 0x0f;
        if (type == STOP) {
            depth--;
            return -1;
        }
        int delta = header >>> 4;
        lastId[depth] = delta == 0 ? (short) zigzag(varint()) : (short) (lastId[depth] + delta);
        return lastId[depth];
    }

    int fieldType() {
        return type;
    }

    int readI32() {
        return (int) zigzag(varint());
    }

    long readI64() {
        return zigzag(varint());
    }

    String readString() {
        byte[] b = new byte[(int) varint()];
        in.get(b);
        return new String(b, java.nio.charset.StandardCharsets.UTF_8);
    }

    boolean readBool() {
        return type == TRUE;
    }

    /** Reads a list header and returns its size; {@link #elementType} gives its elements' type. */
    int beginList() {
        int header = in.get() & 0xff;
        elementType = header & 0x0f;
        int size = header >>> 4;
        return size == 15 ? (int) varint() : size;
    }

    private int elementType;

    int elementType() {
        return elementType;
    }

    /** Skips the value of the field just read. */
    void skip() {
        skip(type);
    }

    void skip(int t) {
        switch (t) {
            case TRUE, FALSE -> { } // a field's boolean is in its header
            case BYTE -> in.get();
            case I16, I32, I64 -> varint();
            case DOUBLE -> in.position(in.position() + 8);
            case BINARY -> {
                int length = (int) varint(); // read before position() is: the length's own bytes come first
                in.position(in.position() + length);
            }
            case LIST, SET -> {
                int n = beginList();
                int et = elementType;
                for (int i = 0; i < n; i++) {
                    if (et == TRUE || et == FALSE) in.get(); // a list's booleans take a byte each
                    else skip(et);
                }
            }
            case MAP -> {
                int n = (int) varint();
                if (n > 0) {
                    int kv = in.get() & 0xff;
                    for (int i = 0; i < n; i++) {
                        skip(kv >>> 4);
                        skip(kv & 0x0f);
                    }
                }
            }
            case STRUCT -> {
                beginStruct();
                while (nextField() >= 0) skip();
            }
            default -> throw new IllegalArgumentException("unknown Thrift compact type " + t + " at byte " + in.position());
        }
    }

    private long varint() {
        long v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            int b = in.get() & 0xff;
            v |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) return v;
        }
        throw new IllegalArgumentException("a varint longer than 10 bytes at byte " + in.position());
    }

    private static long zigzag(long v) {
        return (v >>> 1) ^ -(v & 1);
    }
}
