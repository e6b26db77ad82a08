package dev.quarry.data;

import dev.quarry.testing.LogProbPools;
import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.nn.BatchNorm2d;
import dev.quarry.nn.Checkpoint;
import dev.quarry.nn.Linear;
import dev.quarry.nn.Sequential;
import dev.quarry.util.BadInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.zip.GZIPOutputStream;
import org.jetbrains.bio.npy.NpyFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutation fuzzing of every reader of user files (.npy pools and image/label pairs, IDX raw and gzip,
 * CIFAR-10 binary, safetensors checkpoints): each damaged input must either parse or be refused with
 * {@link BadInputException} (exit 2 in the CLI) within {@link #LIMIT}; a hang, an out-of-memory error or any other
 * exception fails the test and names the seed and the mutation, so the case can be replayed.
 *
 * <p>By default each format gets at most {@value #DEFAULT_SECONDS} s (about 25 s for the twelve seed files, including a pass that
 * truncates every seed file at every offset). {@code -Dquarry.fuzz.iterations=N} runs exactly N random mutations
 * per format with no time cap; {@code -Dquarry.fuzz.seed=S} changes the seed.
 */
class ReaderFuzzTest {
    static final Duration LIMIT = Duration.ofSeconds(2);
    static final double DEFAULT_SECONDS = 1.8;
    static final Integer ITERATIONS = Integer.getInteger("quarry.fuzz.iterations");
    static final long SEED = Long.getLong("quarry.fuzz.seed", 20240601L);

    @TempDir
    static Path tmp;

    static Device cpu;
    static Sequential model;

    @BeforeAll
    static void setUp() {
        cpu = Device.cpu();
        model = new Sequential(List.of(new BatchNorm2d(cpu, 3, 1), new Linear(cpu, 3, 4, 1, 2)));
    }

    @AfterAll
    static void tearDown() {
        if (model != null) model.close();
    }

    /** What a reader does with one file: parse it (result ignored) or throw. */
    interface Reader {
        void read(Path p) throws Exception;
    }

    /** A seed file and how to damage it in format-aware ways beyond the generic byte mutations. */
    record Format(String name, String file, byte[] seed, Reader reader, List<Function<SplittableRandom, byte[]>> headerEdits,
                  boolean prefixesRefused) {
        Format(String name, String file, byte[] seed, Reader reader, List<Function<SplittableRandom, byte[]>> headerEdits) {
            this(name, file, seed, reader, headerEdits, true);
        }
    }

    // ---- seed files -------------------------------------------------------------------------------------------

    static byte[] npy(Object data, int[] shape) throws IOException {
        Path p = tmp.resolve("seed-" + System.nanoTime() + ".npy");
        if (data instanceof float[] f) NpyFile.write(p, f, shape);
        else if (data instanceof double[] d) NpyFile.write(p, d, shape);
        else if (data instanceof long[] l) NpyFile.write(p, l, shape);
        else NpyFile.write(p, (byte[]) data, shape);
        return Files.readAllBytes(p);
    }

    static float[] logSoftmax(int n, int k, int c, long seed) {
        return LogProbPools.logSoftmax(n, k, c, new SplittableRandom(seed));
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(b)) {
            g.write(raw);
        }
        return b.toByteArray();
    }

    static byte[] idx(int[] shape, long seed) {
        int count = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * shape.length + count);
        b.putInt(0x0800 | shape.length);
        for (int d : shape) b.putInt(d);
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < count; i++) b.put((byte) (shape.length == 1 ? r.nextInt(10) : r.nextInt(256)));
        return b.array();
    }

    /** The .npy header text of {@code file} replaced by {@code dict} (length field updated, no padding rules). */
    static byte[] withNpyHeader(byte[] file, String dict) {
        int len = (file[8] & 0xff) | (file[9] & 0xff) << 8;
        byte[] d = dict.getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(10 + d.length + file.length - 10 - len).order(ByteOrder.LITTLE_ENDIAN);
        b.put(file, 0, 8).putShort((short) d.length).put(d).put(file, 10 + len, file.length - 10 - len);
        return b.array();
    }

    static String randomDim(SplittableRandom r) {
        return switch (r.nextInt(8)) {
            case 0 -> "0";
            case 1 -> "-" + r.nextInt(5);
            case 2 -> Long.toString(r.nextLong(1L << 31, 1L << 40));
            case 3 -> Integer.toString(Integer.MAX_VALUE - r.nextInt(3));
            case 4 -> "x";
            case 5 -> Integer.toString(r.nextInt(1, 70000));
            default -> Integer.toString(r.nextInt(1, 6));
        };
    }

    static List<Function<SplittableRandom, byte[]>> npyEdits(byte[] seed) {
        int len = (seed[8] & 0xff) | (seed[9] & 0xff) << 8;
        String dict = new String(seed, 10, len, StandardCharsets.ISO_8859_1);
        String[] descrs = {"<f4", "<f8", ">f4", ">f8", "|u1", "<i8", "<i4", "<f2", "|O", "<U3", "", "<f4'", "f4", "|b1"};
        return List.of(
                r -> withNpyHeader(seed, dict.replaceFirst("'shape': \\([^)]*\\)", "'shape': (" + String.join(", ",
                        java.util.stream.IntStream.range(0, r.nextInt(0, 6)).mapToObj(i -> randomDim(r)).toList()) + (r.nextBoolean() ? "," : "") + ")")),
                r -> withNpyHeader(seed, dict.replaceFirst("'descr': '[^']*'", "'descr': '" + descrs[r.nextInt(descrs.length)] + "'")),
                r -> withNpyHeader(seed, dict.replace("False", r.nextBoolean() ? "True" : "Maybe")),
                r -> withNpyHeader(seed, dict.substring(0, r.nextInt(dict.length() + 1))),
                r -> {
                    byte[] b = seed.clone(); // the header length field
                    int v = r.nextBoolean() ? r.nextInt(65536) : len + r.nextInt(-9, 10);
                    b[8] = (byte) v;
                    b[9] = (byte) (v >>> 8);
                    return b;
                },
                r -> {
                    byte[] b = seed.clone(); // version byte
                    b[6] = (byte) r.nextInt(0, 5);
                    return b;
                });
    }

    static List<Function<SplittableRandom, byte[]>> idxEdits(byte[] seed, boolean gz) {
        return List.of(r -> {
            byte[] b = seed.clone();
            int rank = b[3] & 0xff;
            int at = r.nextInt(0, 1 + rank); // 0: magic, else a dimension
            int v = switch (r.nextInt(5)) {
                case 0 -> r.nextInt();
                case 1 -> 0;
                case 2 -> Integer.MAX_VALUE;
                case 3 -> ByteBuffer.wrap(b, 4 * at, 4).getInt() + r.nextInt(-3, 4);
                default -> 0x0800 | r.nextInt(0, 7);
            };
            ByteBuffer.wrap(b).putInt(4 * at, v);
            try {
                return gz ? gzip(b) : b;
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    static byte[] replaceAscii(byte[] file, String from, String to) {
        String s = new String(file, StandardCharsets.ISO_8859_1);
        return s.replaceFirst(java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to)).getBytes(StandardCharsets.ISO_8859_1);
    }

    static List<Function<SplittableRandom, byte[]>> safetensorsEdits(byte[] seed) {
        long headLen = ByteBuffer.wrap(seed, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(seed, 8, (int) headLen, StandardCharsets.UTF_8);
        return List.of(
                r -> {
                    byte[] b = seed.clone(); // the header length
                    long v = switch (r.nextInt(4)) {
                        case 0 -> r.nextLong();
                        case 1 -> headLen + r.nextInt(-16, 17);
                        case 2 -> Integer.MAX_VALUE + (long) r.nextInt(3);
                        default -> r.nextInt(0, seed.length + 10);
                    };
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v);
                    return b;
                },
                r -> { // a number in the header (a shape dimension or an offset) replaced, length kept by padding
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\d+").matcher(header);
                    List<int[]> spans = new ArrayList<>();
                    while (m.find()) spans.add(new int[] {m.start(), m.end()});
                    int[] s = spans.get(r.nextInt(spans.size()));
                    String[] vals = {"-1", "0", "1e3", "9223372036854775807", "99999999999999999999", "2147483648", "4", "1.5", "null", "\"7\""};
                    String h = header.substring(0, s[0]) + vals[r.nextInt(vals.length)] + header.substring(s[1]);
                    return safetensors(h, seed, (int) headLen);
                },
                r -> {
                    String[] edits = {"F32", "F16", "F32", "I64", "\"shape\"", "\"shap\"", "\"data_offsets\"", "\"offsets\"", "\"dtype\"", "\"dtyp\""};
                    int i = r.nextInt(edits.length / 2) * 2;
                    return safetensors(header.replaceFirst(java.util.regex.Pattern.quote(edits[i]), edits[i + 1]), seed, (int) headLen);
                },
                r -> safetensors(header.replaceFirst("\"" + Checkpoint.CRC_KEY + "\":\"[0-9a-f]{8}\"",
                        "\"" + Checkpoint.CRC_KEY + "\":\"" + (r.nextBoolean() ? String.format("%08x", r.nextInt()) : "zz") + "\""), seed, (int) headLen),
                r -> safetensors(r.nextBoolean() ? "[1,2,3]" : "{\"__metadata__\":[]}", seed, (int) headLen),
                r -> { // a finite weight replaced by NaN or infinity (the checksum also catches it when present)
                    byte[] b = seed.clone();
                    int off = 8 + (int) headLen + 4 * r.nextInt((seed.length - 8 - (int) headLen) / 4);
                    float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putFloat(off, bad[r.nextInt(3)]);
                    return b;
                });
    }

    /** {@code seed}'s data section behind a new header text. */
    static byte[] safetensors(String header, byte[] seed, int oldLen) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + seed.length - 8 - oldLen).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(seed, 8 + oldLen, seed.length - 8 - oldLen);
        return b.array();
    }

    static byte[] cifar(int records, long seed) {
        byte[] b = new byte[records * Cifar10.RECORD];
        new SplittableRandom(seed).nextBytes(b);
        for (int i = 0; i < records; i++) b[i * Cifar10.RECORD] = (byte) (i % 10);
        return b;
    }

    // ---- mutation ---------------------------------------------------------------------------------------------

    /** One random mutation of {@code seed}; {@code what} receives its description. */
    static byte[] mutate(Format f, SplittableRandom r, StringBuilder what) {
        byte[] s = f.seed();
        int n = s.length;
        switch (r.nextInt(f.headerEdits().isEmpty() ? 7 : 9)) { // 7 and 8: a format-aware edit
            case 0 -> {
                int at = r.nextInt(n + 1);
                what.append("truncate at ").append(at);
                return Arrays.copyOf(s, at);
            }
            case 1 -> {
                byte[] b = s.clone();
                int flips = r.nextInt(1, 9);
                what.append(flips).append(" bit flips at");
                // bias towards the header, where damage matters most
                for (int i = 0; i < flips; i++) {
                    int at = r.nextBoolean() ? r.nextInt(Math.min(n, 160)) : r.nextInt(n);
                    b[at] ^= (byte) (1 << r.nextInt(8));
                    what.append(' ').append(at);
                }
                return b;
            }
            case 2 -> {
                int at = r.nextInt(n + 1), len = r.nextInt(1, 17);
                byte[] ins = new byte[len];
                r.nextBytes(ins);
                what.append("insert ").append(len).append(" bytes at ").append(at);
                byte[] b = new byte[n + len];
                System.arraycopy(s, 0, b, 0, at);
                System.arraycopy(ins, 0, b, at, len);
                System.arraycopy(s, at, b, at + len, n - at);
                return b;
            }
            case 3 -> {
                int at = r.nextInt(n), len = Math.min(n - at, r.nextInt(1, 65));
                what.append("delete ").append(len).append(" bytes at ").append(at);
                byte[] b = new byte[n - len];
                System.arraycopy(s, 0, b, 0, at);
                System.arraycopy(s, at + len, b, at, n - at - len);
                return b;
            }
            case 4 -> {
                int at = r.nextInt(n), len = Math.min(n - at, r.nextInt(1, 129));
                byte fill = r.nextBoolean() ? 0 : (byte) 0xff;
                what.append("fill ").append(len).append(" bytes at ").append(at).append(" with ").append(fill & 0xff);
                byte[] b = s.clone();
                Arrays.fill(b, at, at + len, fill);
                return b;
            }
            case 5 -> {
                int len = r.nextInt(1, 4097);
                what.append("append ").append(len).append(" bytes");
                byte[] b = Arrays.copyOf(s, n + len);
                byte[] tail = new byte[len];
                r.nextBytes(tail);
                System.arraycopy(tail, 0, b, n, len);
                return b;
            }
            case 6 -> {
                byte[] b = s.clone();
                int at = r.nextInt(Math.min(n, 64));
                b[at] = (byte) r.nextInt(256);
                what.append("random byte at ").append(at);
                return b;
            }
            default -> {
                int e = r.nextInt(f.headerEdits().size());
                what.append("format edit ").append(e);
                return f.headerEdits().get(e).apply(r);
            }
        }
    }

    /** Runs one input; returns true when it parsed, false when it was refused properly. */
    static boolean check(Format f, byte[] input, String what) throws IOException {
        Path p = tmp.resolve(f.file());
        Files.write(p, input);
        try {
            return assertTimeoutPreemptively(LIMIT, () -> {
                try {
                    f.reader().read(p);
                    return true;
                } catch (BadInputException e) {
                    assertFalse(e.getMessage().isBlank() || e.getMessage().contains("\n"), "one-line message: " + e.getMessage());
                    return false;
                }
            }, () -> f.name() + ": " + what + " (seed " + SEED + ") did not finish within " + LIMIT);
        } catch (org.opentest4j.AssertionFailedError e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(f.name() + ": " + what + " (seed " + SEED + ", " + input.length + " bytes) threw " + t, t);
        }
    }

    void fuzz(Format f) throws IOException {
        long t0 = System.nanoTime();
        // every truncation of the seed file (a prefix of each length), then random mutations
        int parsed = 0, refused = 0;
        // every offset in the first 160 bytes (the headers), then 64 evenly spaced ones, and one byte short
        java.util.TreeSet<Integer> cuts = new java.util.TreeSet<>();
        int n = f.seed().length;
        for (int at = 0; at < Math.min(n, 160); at++) cuts.add(at);
        for (int j = 0; j < 64; j++) cuts.add((int) ((long) n * j / 64));
        cuts.add(n - 1);
        for (int at : cuts) {
            if (check(f, Arrays.copyOf(f.seed(), at), "truncate at " + at)) parsed++;
            else refused++;
        }
        int truncations = parsed + refused;
        if (f.prefixesRefused()) assertEquals(0, parsed, f.name() + ": a truncated file was accepted");
        assertTrue(check(f, f.seed(), "the seed file itself"), f.name() + ": the unmodified seed file must parse");
        SplittableRandom rng = new SplittableRandom(SEED ^ f.name().hashCode());
        long deadline = t0 + (long) (DEFAULT_SECONDS * 1e9);
        int limit = ITERATIONS != null ? ITERATIONS : Integer.MAX_VALUE, i = 0;
        for (; i < limit && (ITERATIONS != null || System.nanoTime() < deadline); i++) {
            StringBuilder what = new StringBuilder("mutation " + i + ": ");
            if (check(f, mutate(f, rng, what), what.toString())) parsed++;
            else refused++;
        }
        System.out.printf("fuzz %-22s %6d truncations + %7d mutations in %5.1f s: %d parsed, %d refused%n", f.name(), truncations, i,
                (System.nanoTime() - t0) / 1e9, parsed, refused - truncations);
    }

    // ---- the formats ------------------------------------------------------------------------------------------

    @Test
    void npyPoolFloat32() throws IOException {
        byte[] seed = npy(logSoftmax(6, 3, 4, 1), new int[] {6, 3, 4});
        fuzz(new Format("npy pool f4", "pool.npy", seed, p -> NpyReader.read(p, "f4", "f8"), npyEdits(seed)));
    }

    @Test
    void npyPoolFloat64AndVersion2() throws IOException {
        float[] f = logSoftmax(4, 2, 3, 2);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        byte[] v1 = npy(d, new int[] {4, 2, 3});
        // the same array as format version 2 (a 4-byte header length)
        int len = (v1[8] & 0xff) | (v1[9] & 0xff) << 8;
        ByteBuffer b = ByteBuffer.allocate(v1.length + 2).order(ByteOrder.LITTLE_ENDIAN);
        b.put(v1, 0, 6).put((byte) 2).put((byte) 0).putInt(len).put(v1, 10, v1.length - 10);
        fuzz(new Format("npy pool f8 v1", "pool64.npy", v1, p -> NpyReader.read(p, "f4", "f8"), npyEdits(v1)));
        fuzz(new Format("npy pool f8 v2", "pool64v2.npy", b.array(), p -> NpyReader.read(p, "f4", "f8"), List.of()));
    }

    @Test
    void npyImageLabelPair() throws IOException {
        byte[] px = new byte[5 * 4 * 4 * 3];
        new SplittableRandom(3).nextBytes(px);
        byte[] images = replaceAscii(npy(px, new int[] {5, 4, 4, 3}), "'|i1'", "'|u1'"); // the library writes byte[] as |i1
        byte[] labels = npy(new long[] {0, 1, 2, 1, 0}, new int[] {5});
        Path goodLabels = tmp.resolve("good-labels.npy"), goodImages = tmp.resolve("good-images.npy");
        Files.write(goodLabels, labels);
        Files.write(goodImages, images);
        fuzz(new Format("npy images u1", "images.npy", images, p -> NpyImages.load(p, goodLabels, 3), npyEdits(images)));
        fuzz(new Format("npy labels i8", "labels.npy", labels, p -> NpyImages.load(goodImages, p, 3), npyEdits(labels)));
    }

    @Test
    void idxRawAndGzip() throws IOException {
        byte[] images = idx(new int[] {3, 5, 4}, 4), labels = idx(new int[] {3}, 5);
        Path goodLabels = tmp.resolve("good-labels-idx1-ubyte");
        Files.write(goodLabels, labels);
        fuzz(new Format("idx raw", "images-idx3-ubyte", images, p -> Mnist.load(p, goodLabels), idxEdits(images, false)));
        byte[] gz = gzip(images);
        fuzz(new Format("idx gzip (compressed)", "images-idx3-ubyte.gz", gz, Idx::read, idxEdits(images, true)));
        Path goodGz = tmp.resolve("good-images-idx3-ubyte.gz");
        Files.write(goodGz, gz);
        fuzz(new Format("idx gzip labels", "labels-idx1-ubyte.gz", gzip(labels), p -> Mnist.load(goodGz, p),
                idxEdits(labels, true)));
    }

    @Test
    void cifarBinary() throws IOException {
        byte[] seed = cifar(2, 6);
        fuzz(new Format("cifar10 bin", "data_batch.bin", seed, p -> Cifar10.load(List.of(p)), List.of(r -> {
            byte[] b = seed.clone();
            b[Cifar10.RECORD * r.nextInt(2)] = (byte) r.nextInt(256);
            return b;
        }), false)); // a prefix of whole records is a valid, smaller file
    }

    @Test
    void safetensorsCheckpoint() throws IOException {
        Path p = tmp.resolve("seed.safetensors");
        Checkpoint.save(p, model, null, Map.of("model", "fuzz"));
        byte[] seed = Files.readAllBytes(p);
        fuzz(new Format("safetensors", "model.safetensors", seed, f -> Checkpoint.load(f, model, null), safetensorsEdits(seed)));
        fuzz(new Format("safetensors metadata", "meta.safetensors", seed, Checkpoint::metadata, safetensorsEdits(seed), false));
        // without the checksum (files from other tools): damage must still be refused or parse, never crash
        long headLen = ByteBuffer.wrap(seed, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(seed, 8, (int) headLen, StandardCharsets.UTF_8).replaceFirst(",?\"" + Checkpoint.CRC_KEY + "\":\"[0-9a-f]{8}\"", "");
        byte[] plain = safetensors(header, seed, (int) headLen);
        fuzz(new Format("safetensors no crc", "plain.safetensors", plain, f -> Checkpoint.load(f, model, null), safetensorsEdits(plain)));
    }
}
