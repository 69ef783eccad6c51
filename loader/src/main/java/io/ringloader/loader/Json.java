package io.ringloader.loader;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Just enough JSON for {@link LoaderState}: objects, arrays, strings, integers, booleans and null. The
 * loader has no JSON library of its own, and a state is a few fields, so it does not take one on.
 */
final class Json {
    private Json() {}

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    /** Parses {@code text}: a Map for an object (in field order), a List, a String, a Long, a Boolean or null. */
    static Object parse(String text) {
        Json.Parser p = new Parser(text);
        p.space();
        Object v = p.value();
        p.space();
        if (p.at < text.length()) throw p.error("unexpected text after the value");
        return v;
    }

    private static final class Parser {
        final String s;
        int at;

        Parser(String s) {
            this.s = s;
        }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException("not a ringloader state (JSON): " + what + " at character " + at);
        }

        void space() {
            while (at < s.length() && Character.isWhitespace(s.charAt(at))) at++;
        }

        char peek() {
            if (at >= s.length()) throw error("unexpected end");
            return s.charAt(at);
        }

        void expect(char c) {
            if (peek() != c) throw error("expected '" + c + "'");
            at++;
        }

        Object value() {
            char c = peek();
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> word("true", Boolean.TRUE);
                case 'f' -> word("false", Boolean.FALSE);
                case 'n' -> word("null", null);
                default -> {
                    if (c == '-' || Character.isDigit(c)) yield number();
                    throw error("unexpected '" + c + "'");
                }
            };
        }

        Object word(String w, Object v) {
            if (!s.startsWith(w, at)) throw error("expected " + w);
            at += w.length();
            return v;
        }

        Long number() {
            int from = at;
            if (peek() == '-') at++;
            while (at < s.length() && Character.isDigit(s.charAt(at))) at++;
            if (at < s.length() && (s.charAt(at) == '.' || s.charAt(at) == 'e' || s.charAt(at) == 'E')) throw error("expected an integer");
            try {
                return Long.parseLong(s.substring(from, at));
            } catch (NumberFormatException e) {
                throw error("bad number");
            }
        }

        String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = peek();
                at++;
                if (c == '"') return b.toString();
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = peek();
                at++;
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        if (at + 4 > s.length()) throw error("bad \\u escape");
                        try {
                            b.append((char) Integer.parseInt(s.substring(at, at + 4), 16));
                        } catch (NumberFormatException x) {
                            throw error("bad \\u escape");
                        }
                        at += 4;
                    }
                    default -> throw error("bad escape \\" + e);
                }
            }
        }

        List<Object> array() {
            expect('[');
            List<Object> out = new ArrayList<>();
            space();
            if (peek() == ']') {
                at++;
                return out;
            }
            while (true) {
                space();
                out.add(value());
                space();
                if (peek() == ']') {
                    at++;
                    return out;
                }
                expect(',');
            }
        }

        Map<String, Object> object() {
            expect('{');
            Map<String, Object> out = new LinkedHashMap<>();
            space();
            if (peek() == '}') {
                at++;
                return out;
            }
            while (true) {
                space();
                String key = string();
                space();
                expect(':');
                space();
                out.put(key, value());
                space();
                if (peek() == '}') {
                    at++;
                    return out;
                }
                expect(',');
            }
        }
    }
}
