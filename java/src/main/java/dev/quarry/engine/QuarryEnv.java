package dev.quarry.engine;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;

/**
 * The C library's setenv, in a JNI library of its own that links nothing else: {@link QuarryNative} calls it
 * before libquarry (and with it libgomp, which reads its environment once, when it loads) is loaded.
 */
@Properties(value = @Platform(include = "stdlib.h"))
final class QuarryEnv {
    static {
        Loader.load();
    }

    private QuarryEnv() {}

    static native int setenv(String name, String value, int overwrite);
}
