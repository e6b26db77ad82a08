package dev.quarry.al;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A list of training-set indices: a text file with one integer per line (blank lines and # comments skipped). */
final class IndexFile {
    private IndexFile() {}

    static int[] read(Path path) throws IOException {
        if (!Files.isRegularFile(path)) throw new IOException(path + ": no such index file");
        List<String> lines = Files.readAllLines(path);
        int[] out = new int[lines.size()];
        int m = 0;
        for (int ln = 0; ln < lines.size(); ln++) {
            String s = lines.get(ln).strip();
            if (s.isEmpty() || s.startsWith("#")) continue;
            try {
                out[m++] = Integer.parseInt(s);
            } catch (NumberFormatException e) {
                throw new IOException(path + ":" + (ln + 1) + ": '" + s + "' is not an index");
            }
        }
        if (m == 0) throw new IOException(path + ": no indices");
        return java.util.Arrays.copyOf(out, m);
    }
}
