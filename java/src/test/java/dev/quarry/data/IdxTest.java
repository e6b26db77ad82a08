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
}
