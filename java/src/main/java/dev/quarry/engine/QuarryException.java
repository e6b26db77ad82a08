package dev.quarry.engine;

/** A failed op or engine call: the message names the op and the shapes involved. */
public class QuarryException extends RuntimeException {
    private final int status;

    public QuarryException(int status, String message) {
        super(message);
        this.status = status;
    }

    public QuarryException(String message) {
        this(QuarryNative.QY_ERR_INVALID, message);
    }

    /** The native status code (QY_ERR_*), or QY_ERR_INVALID for checks made in Java. */
    public int status() {
        return status;
    }
}
