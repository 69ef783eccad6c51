package io.ringloader.remote;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * The secret a trainer and its worker hosts share. It comes from a file ({@code RINGLOADER_TOKEN_FILE}, or
 * {@code --token-file}) or from the environment ({@code RINGLOADER_TOKEN}), never from a command line,
 * where {@code ps} shows it to every user of the machine. It is compared in constant time, and its value
 * appears in no message or log.
 */
public final class Token {
    /** Shorter secrets are refused: a token is what stands between a port and running code on a host. */
    public static final int MIN_LENGTH = 16;
    public static final String ENV = "RINGLOADER_TOKEN", FILE_ENV = "RINGLOADER_TOKEN_FILE";

    private final byte[] secret;

    private Token(byte[] secret, String from) {
        if (secret.length < MIN_LENGTH) {
            throw new IllegalArgumentException("the token from " + from + " has " + secret.length + " bytes; a worker host needs at least "
                    + MIN_LENGTH + " (make one with: head -c 32 /dev/urandom | base64 > token; chmod 600 token)");
        }
        this.secret = secret;
    }

    /** The token in {@code file} (surrounding whitespace, a trailing newline say, is not part of it). */
    public static Token ofFile(Path file) {
        try {
            return new Token(Files.readString(file, StandardCharsets.UTF_8).strip().getBytes(StandardCharsets.UTF_8), file.toString());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the token file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * A new random token (32 bytes, base64) written to {@code file}, readable by its owner only, as
     * {@code head -c 32 /dev/urandom | base64 > token; chmod 600 token} would; give the file to the trainer
     * and to every host.
     */
    public static Token create(Path file) {
        byte[] secret = new byte[32];
        new java.security.SecureRandom().nextBytes(secret);
        try {
            Files.deleteIfExists(file);
            Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, java.util.Base64.getEncoder().encodeToString(secret) + "\n");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot write the token file " + file + ": " + e.getMessage(), e);
        }
        return ofFile(file);
    }

    /** {@code RINGLOADER_TOKEN_FILE}'s file, else {@code RINGLOADER_TOKEN}; an error saying how to give one if neither is set. */
    public static Token fromEnvironment() {
        String file = System.getenv(FILE_ENV);
        if (file != null && !file.isBlank()) return ofFile(Path.of(file));
        String value = System.getenv(ENV);
        if (value != null && !value.isBlank()) return new Token(value.strip().getBytes(StandardCharsets.UTF_8), "$" + ENV);
        throw new IllegalArgumentException("no token for the worker hosts: set " + FILE_ENV + " to a file that holds it (or " + ENV
                + " to it), on the trainer and on every host; it is never given on the command line");
    }

    /** Whether {@code candidate} is this token; in time that does not depend on where they differ. */
    boolean matches(byte[] candidate) {
        return candidate != null && MessageDigest.isEqual(secret, candidate);
    }

    /** The value of the {@code authorization} header a trainer sends. */
    String header() {
        return "Bearer " + new String(secret, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "Token(" + secret.length + " bytes)";
    }
}
