package dev.quarry.engine;

import java.io.File;
import java.io.IOException;
import org.bytedeco.javacpp.Loader;

/**
 * Loads libopenblas.so.0 and the GCC runtime it was built with from the OpenBLAS preset's platform jar (unpacked
 * where JavaCPP caches every native library), so that libquarry.so finds them by SONAME. Only these files are
 * loaded, not the preset's Java API: its JNI wrapper of all of BLAS and LAPACK (24 MB) is never called by Quarry
 * and is left out of the shaded jar.
 */
final class OpenBlasLibs {
    /** In dependency order. */
    private static final String[] LIBS = {"libgcc_s.so.1", "libquadmath.so.0", "libgfortran.so.5", "libopenblas.so.0"};

    private OpenBlasLibs() {}

    static void load() {
        String dir = "/org/bytedeco/openblas/" + Loader.getPlatform() + "/";
        for (String lib : LIBS) {
            File file;
            try {
                file = Loader.cacheResource(OpenBlasLibs.class, dir + lib);
            } catch (IOException e) {
                throw new UnsatisfiedLinkError("cannot unpack " + dir + lib + ": " + e);
            }
            if (file == null) {
                throw new UnsatisfiedLinkError(dir + lib + " is not on the class path (org.bytedeco:openblas, classifier "
                        + Loader.getPlatform() + ")");
            }
            System.load(file.getAbsolutePath());
        }
    }
}
