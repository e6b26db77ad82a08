package dev.quarry.al;

import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Learning curves (test accuracy against labelled images) as PNG and SVG, drawn with XChart. */
final class Plots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
            new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};

    private Plots() {}

    /** One curve: mean accuracy per label count, with a mean ± std band when {@code std} is not null. */
    record Curve(String name, double[] labels, double[] mean, double[] std) {}

    static XYChart chart(String title, List<Curve> curves) {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle("labelled images").yAxisTitle("test accuracy").build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideSE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setPlotGridLinesVisible(true);
        for (int i = 0; i < curves.size(); i++) {
            Curve c = curves.get(i);
            Color color = PALETTE[i % PALETTE.length];
            if (c.std() != null && c.labels().length > 1) {
                int n = c.labels().length;
                double[] bx = new double[2 * n], by = new double[2 * n];
                for (int j = 0; j < n; j++) {
                    bx[j] = c.labels()[j];
                    by[j] = c.mean()[j] + c.std()[j];
                    bx[2 * n - 1 - j] = c.labels()[j];
                    by[2 * n - 1 - j] = c.mean()[j] - c.std()[j];
                }
                XYSeries band = chart.addSeries(c.name() + " ± std", bx, by);
                band.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.PolygonArea);
                band.setMarker(SeriesMarkers.NONE);
                band.setFillColor(new Color(color.getRed(), color.getGreen(), color.getBlue(), 50));
                band.setLineColor(new Color(color.getRed(), color.getGreen(), color.getBlue(), 0));
                band.setShowInLegend(false);
            }
            XYSeries s = chart.addSeries(c.name(), c.labels(), c.mean());
            s.setMarker(SeriesMarkers.CIRCLE);
            s.setLineColor(color);
            s.setMarkerColor(color);
        }
        return chart;
    }

    /** Writes {@code chart} as PNG and SVG to the two (temporary) paths. */
    static void write(XYChart chart, Path png, Path svg) throws IOException {
        try (OutputStream o = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(chart, o, BitmapEncoder.BitmapFormat.PNG);
        }
        try (OutputStream o = Files.newOutputStream(svg)) {
            VectorGraphicsEncoder.saveVectorGraphic(chart, o, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        }
    }
}
