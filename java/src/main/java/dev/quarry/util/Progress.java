package dev.quarry.util;

/** Progress of long work: a task with a known number of steps. {@link #NONE} reports nothing. */
public interface Progress {
    Progress NONE = new Progress() {
        @Override
        public void begin(String task, long total) {}

        @Override
        public void advance(long steps) {}

        @Override
        public void end() {}
    };

    void begin(String task, long total);

    void advance(long steps);

    void end();
}
