package dev.quarry.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
    static final Path MNIST = Path.of("datasets", "mnist");

    @TempDir
    Path tmp;

    @Test
    void readsTheShippedMnistTestSet() throws IOException {
        Idx.Array images = Idx.read(MNIST.resolve("t10k-images-idx3-ubyte.gz"));
        Idx.Array labels = Idx.read(MNIST.resolve("t10k-labels-idx1-ubyte.gz"));
        assertArrayEquals(new int[] {10000, 28, 28}, images.shape());
        assertArrayEquals(new int[] {10000}, labels.shape());
        int[] counts = new int[10];
        for (int i = 0; i < 10000; i++) counts[labels.at(i)]++;
        assertArrayEquals(new int[] {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, counts);
        long ink = 0;
        for (int i = 0; i < 784; i++) ink += images.at(i);
        assertTrue(ink > 10_000, "the first digit has ink: " + ink);
    }

    @Test
    void readsRawAndGzippedAlike() throws IOException {
        Path raw = tmp.resolve("labels-idx1-ubyte");
        try (GZIPInputStream in = new GZIPInputStream(Files.newInputStream(MNIST.resolve("t10k-labels-idx1-ubyte.gz")))) {
            Files.write(raw, in.readAllBytes());
        }
        assertArrayEquals(Idx.read(MNIST.resolve("t10k-labels-idx1-ubyte.gz")).data(), Idx.read(raw).data());
    }

    @Test
    void refusesTruncatedMalformedAndOversizedFiles() throws IOException {
        byte[] good;
        try (GZIPInputStream in = new GZIPInputStream(Files.newInputStream(MNIST.resolve("t10k-labels-idx1-ubyte.gz")))) {
            good = in.readAllBytes();
        }
        Path truncated = tmp.resolve("truncated");
        Files.write(truncated, Arrays.copyOf(good, good.length - 1));
        assertTrue(assertThrows(IOException.class, () -> Idx.read(truncated)).getMessage().contains("truncated"));
        Path badMagic = tmp.resolve("magic");
        byte[] b = good.clone();
        b[2] = 0x0d; // float data: not supported
        Files.write(badMagic, b);
        assertTrue(assertThrows(IOException.class, () -> Idx.read(badMagic)).getMessage().contains("not an unsigned-byte IDX file"));
        Path trailing = tmp.resolve("trailing");
        Files.write(trailing, Arrays.copyOf(good, good.length + 3));
        assertTrue(assertThrows(IOException.class, () -> Idx.read(trailing)).getMessage().contains("trailing bytes"));
        Path corruptGz = tmp.resolve("corrupt.gz");
        byte[] gz = Files.readAllBytes(MNIST.resolve("t10k-labels-idx1-ubyte.gz"));
        Files.write(corruptGz, Arrays.copyOf(gz, gz.length / 2));
        assertThrows(IOException.class, () -> Idx.read(corruptGz));
        assertTrue(assertThrows(IOException.class, () -> Idx.read(tmp.resolve("missing"))).getMessage().contains("no such file"));
    }

    @Test
    void truncationAnywhereIsRefusedWithTheFileName() throws IOException {
        byte[] images;
        try (GZIPInputStream in = new GZIPInputStream(Files.newInputStream(MNIST.resolve("t10k-images-idx3-ubyte.gz")))) {
            images = in.readNBytes(16 + 3 * 784);
        }
        images[6] = 0; // a header for 3 images: the prefix read above is then a complete file
        images[7] = 3;
        Path whole = tmp.resolve("three-idx3-ubyte");
        Files.write(whole, images);
        assertEquals(3, Idx.read(whole).count());
        // inside the magic, inside the dimensions, at the end of the header, inside the pixels, one byte short
        for (int keep : new int[] {0, 2, 9, 16, 16 + 784 + 5, images.length - 1}) {
            Path cut = tmp.resolve("cut-" + keep + "-idx3-ubyte");
            Files.write(cut, Arrays.copyOf(images, keep));
            String msg = assertThrows(IOException.class, () -> Idx.read(cut)).getMessage();
            assertTrue(msg.startsWith(cut.toString()) && msg.contains("truncated"), keep + " bytes: " + msg);
        }
        Path gz = tmp.resolve("cut-idx3-ubyte.gz");
        try (java.util.zip.GZIPOutputStream out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(gz))) {
            out.write(images, 0, images.length - 100);
        }
        String msg = assertThrows(IOException.class, () -> Idx.read(gz)).getMessage();
        assertTrue(msg.startsWith(gz.toString()) && msg.contains("truncated"), msg);
        Path labels = tmp.resolve("labels-idx1-ubyte");
        Files.write(labels, new byte[] {0, 0, 8, 1, 0, 0, 0, 2, 7, 1});
        String mismatch = assertThrows(IOException.class, () -> Mnist.load(whole, labels)).getMessage();
        assertTrue(mismatch.contains("2 labels for 3 images") && mismatch.startsWith(labels.toString()), mismatch);
    }
}
