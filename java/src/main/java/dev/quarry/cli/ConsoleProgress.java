package dev.quarry.cli;

import dev.quarry.util.Progress;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Progress bars on standard error (me.tongfei:progressbar); {@code --quiet} uses {@link Progress#NONE} instead. */
final class ConsoleProgress implements Progress {
    private ProgressBar bar;

    @Override
    public void begin(String task, long total) {
        end();
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(500).build();
    }

    @Override
    public void advance(long steps) {
        if (bar != null) bar.stepBy(steps);
    }

    @Override
    public void end() {
        if (bar != null) bar.close();
        bar = null;
    }

    static Progress forFlags(boolean quiet) {
        return quiet ? Progress.NONE : new ConsoleProgress();
    }
}
