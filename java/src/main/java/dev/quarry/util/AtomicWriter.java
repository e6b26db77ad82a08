package dev.quarry.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a result set into a directory: every file goes to a temporary name first; at commit the previous
 * results are removed, then the files are renamed in order, the last one staged (timing.json) marking a
 * complete result. A failure before commit leaves the old results untouched and no temporary files.
 */
public final class AtomicWriter {
    private final Path dir;
    private final List<Path[]> pending = new ArrayList<>();

    public AtomicWriter(Path dir) {
        this.dir = dir;
    }

    public Path stage(String name) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + name + ".tmp");
        pending.add(new Path[] {tmp, dir.resolve(name)});
        return tmp;
    }

    public void commit() throws IOException {
        for (int i = pending.size() - 1; i >= 0; i--) Files.deleteIfExists(pending.get(i)[1]);
        for (Path[] p : pending) Files.move(p[0], p[1], StandardCopyOption.ATOMIC_MOVE);
        pending.clear();
    }

    /**
     * Replaces each target by its staged file with one atomic rename, in staging order, without removing anything
     * first: a reader sees either the old or the new version of every file, and the file staged last (a state
     * file) can say which round the others belong to.
     */
    public void commitInPlace() throws IOException {
        for (Path[] p : pending) Files.move(p[0], p[1], StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        pending.clear();
    }

    public void abort() {
        for (Path[] p : pending) {
            try {
                Files.deleteIfExists(p[0]);
            } catch (IOException ignored) {
                // best effort: the temporary names never look like results
            }
        }
    }
}
