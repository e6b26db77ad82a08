package dev.quarry.util;

import java.io.IOException;

/**
 * A user's file is damaged or not what the command needs (truncated, padded, a header that contradicts the file's
 * length, a checksum that does not match, non-finite weights, ...). The message is one line and starts with the
 * file's path. It is an {@link IOException}, so every command already reports it in one line with exit status 2
 * and writes nothing.
 */
public class BadInputException extends IOException {
    public BadInputException(String message) {
        super(oneLine(message));
    }

    /** The first line of {@code s}, so that a library's multi-line message cannot break the one-line rule. */
    public static String oneLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).replace('\r', ' ').strip();
    }
}
