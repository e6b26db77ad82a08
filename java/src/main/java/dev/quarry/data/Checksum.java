package dev.quarry.data;

import dev.quarry.util.BadInputException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;

/**
 * An expected digest of a data file: {@code algorithm} (MD5, SHA-256, SHA-512) over the file's bytes, or over its
 * gunzipped content when {@code uncompressed} (MNIST's published md5s are of the raw IDX files, which we keep
 * gzipped). {@code expected} is lower-case hex, or base64 when it ends in '=' (npm's sha512 integrity strings).
 */
public record Checksum(String algorithm, String expected, boolean uncompressed) {
    public static Checksum md5(String hex) {
        return new Checksum("MD5", hex, false);
    }

    public static Checksum md5Uncompressed(String hex) {
        return new Checksum("MD5", hex, true);
    }

    public static Checksum sha256(String hex) {
        return new Checksum("SHA-256", hex, false);
    }

    /** The digest of {@code file} in this checksum's notation. */
    public String of(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return of(in);
        }
    }

    /** The digest of everything {@code in} yields (gunzipped first when {@link #uncompressed}; a raw file is digested as is). */
    public String of(InputStream raw) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        InputStream in = new BufferedInputStream(raw, 1 << 16);
        if (uncompressed) {
            in.mark(2);
            int b0 = in.read(), b1 = in.read();
            in.reset();
            if (b0 == 0x1f && b1 == 0x8b) in = new GZIPInputStream(in, 1 << 16);
        }
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        byte[] d = md.digest();
        return expected.endsWith("=") ? Base64.getEncoder().encodeToString(d) : HexFormat.of().formatHex(d);
    }

    public boolean matches(String actual) {
        return expected.equalsIgnoreCase(actual);
    }

    /** Throws a {@link BadInputException}, in one line naming the file, both digests and {@code fix}, unless {@code file} has this digest. */
    public void verify(Path file, String fix) throws IOException {
        String got;
        try {
            got = of(file);
        } catch (java.util.zip.ZipException | java.io.EOFException e) {
            throw new BadInputException(file + ": corrupt gzip data, " + algorithm + " check impossible; " + fix);
        }
        if (!matches(got))
            throw new BadInputException(file + ": checksum mismatch (" + describe() + " " + got + ", want " + expected + "); " + fix);
    }

    public String describe() {
        return algorithm.toLowerCase(java.util.Locale.ROOT) + (uncompressed ? " of the uncompressed data" : "");
    }
}
