package io.ringloader.cli.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The report of {@code bench --compare}: Markdown tables with ratios to the best peer, and one chart per
 * workload (its figure against the number of workers, a line per implementation).
 */
final class CompareReport {
    /** What each workload is measured by, and whether more is better. */
    record Metric(String workload, String field, String unit, boolean higherIsBetter) {}

    static final List<Metric> METRICS = List.of(
            new Metric("tiny", "samples_per_s", "samples/s", true),
            new Metric("wide", "gb_per_s", "GB/s", true),
            new Metric("wide-long", "gb_per_s", "GB/s", true),
            new Metric("cpu", "samples_per_s", "samples/s", true),
            new Metric("cpu-long", "samples_per_s", "samples/s", true),
            new Metric("startup", "ms", "ms to the first batch", false),
            new Metric("train", "steps_per_s", "training steps/s", true));

    /** One figure: an implementation, a workload, a number of workers (loader threads for DJL), a value. */
    record Entry(String impl, String workload, int workers, double value, Map<String, String> fields) {
        boolean ours() {
            return impl.startsWith("ringloader");
        }

        boolean peer() {
            return impl.startsWith("pytorch") || impl.equals("djl");
        }
    }

    private final List<Entry> entries;
    /** The single-thread copies of one wide batch (the physical limit), by workload ("wide", "wide-long"), then implementation. */
    private final Map<String, Map<String, List<Double>>> copies;
    private final Machine machine;
    private final double minutes;
    private final List<String> missing;

    private CompareReport(List<Entry> entries, Map<String, Map<String, List<Double>>> copies, Machine machine, double minutes, List<String> missing) {
        this.entries = entries;
        this.copies = copies;
        this.machine = machine;
        this.minutes = minutes;
        this.missing = missing;
    }

    private static final Pattern FIELD = Pattern.compile("\"(\\w+)\":\\s*(\"([^\"]*)\"|[-+0-9.eE]+)");

    static CompareReport of(List<String> lines, Machine machine, double minutes, List<String> missing) {
        List<Entry> entries = new ArrayList<>();
        Map<String, Map<String, List<Double>>> copies = new TreeMap<>();
        for (String line : lines) {
            Map<String, String> f = new LinkedHashMap<>();
            Matcher m = FIELD.matcher(line);
            while (m.find()) f.put(m.group(1), m.group(3) != null ? m.group(3) : m.group(2));
            String impl = f.get("impl"), workload = f.get("workload");
            if (impl == null) continue; // the run's own summary line
            if (impl.startsWith("memcpy")) {
                copies.computeIfAbsent(workload, k -> new TreeMap<>()).computeIfAbsent(impl, k -> new ArrayList<>()).add(Double.parseDouble(f.get("gb_per_s")));
                continue;
            }
            Optional<Metric> metric = METRICS.stream().filter(x -> x.workload().equals(workload)).findFirst();
            if (metric.isEmpty() || !f.containsKey(metric.get().field())) continue;
            int workers = f.containsKey("workers") ? Integer.parseInt(f.get("workers")) : 0;
            entries.add(new Entry(impl, workload, workers, Double.parseDouble(f.get(metric.get().field())), f));
        }
        return new CompareReport(entries, copies, machine, minutes, missing);
    }

    private List<Entry> of(String workload) {
        return entries.stream().filter(e -> e.workload().equals(workload))
                .sorted(Comparator.comparingInt(Entry::workers).thenComparing(Entry::impl)).toList();
    }

    private static boolean better(Metric m, double a, double b) {
        return m.higherIsBetter() ? a > b : a < b;
    }

    /** The best peer figure with {@code workers} workers (or loader threads). */
    private OptionalDouble bestPeer(Metric m, int workers) {
        return of(m.workload()).stream().filter(e -> e.peer() && e.workers() == workers).mapToDouble(Entry::value)
                .reduce((a, b) -> better(m, a, b) ? a : b);
    }

    private Optional<Entry> find(String impl, String workload, int workers) {
        return of(workload).stream().filter(e -> e.impl().equals(impl) && e.workers() == workers).findFirst();
    }

    /** How many times better {@code value} is than {@code reference} (>1: better, for either direction of the metric). */
    private static double ratio(Metric m, double value, double reference) {
        return m.higherIsBetter() ? value / reference : reference / value;
    }

    /** The summary: ringloader with 2 process workers against the best peer with 2. */
    String summary(String chartPrefix) {
        StringBuilder sb = new StringBuilder();
        sb.append("| workload | figure | ringloader, 2 process workers | best peer with 2 workers | ringloader / best peer |\n");
        sb.append("|---|---|---:|---|---:|\n");
        for (Metric m : METRICS) {
            Optional<Entry> ours = find("ringloader-process", m.workload(), 2);
            Optional<Entry> peer = of(m.workload()).stream().filter(e -> e.peer() && e.workers() == 2)
                    .reduce((a, b) -> better(m, a.value(), b.value()) ? a : b);
            if (ours.isEmpty() || peer.isEmpty()) continue;
            sb.append(String.format(Locale.ROOT, "| `%s` | %s | %s | %s (%s) | %s |%n", m.workload(), m.unit(), number(ours.get().value()),
                    number(peer.get().value()), peer.get().impl(), times(ratio(m, ours.get().value(), peer.get().value()))));
            Optional<Entry> warm = find("ringloader-process-warm", m.workload(), 2);
            if (warm.isPresent()) {
                sb.append(String.format(Locale.ROOT, "| `%s`, warm (`warmWorkers`) | %s | %s | %s (%s) | %s |%n", m.workload(), m.unit(),
                        number(warm.get().value()), number(peer.get().value()), peer.get().impl(), times(ratio(m, warm.get().value(), peer.get().value()))));
            }
        }
        sb.append("\n| scaling, 2 workers / 1 worker | `cpu` | `cpu-long` | `wide-long` |\n|---|---:|---:|---:|\n");
        for (String impl : List.of("ringloader-process", "ringloader-thread", "pytorch-fork", "pytorch-spawn", "djl")) {
            StringBuilder row = new StringBuilder("| " + impl + " |");
            boolean any = false;
            for (String w : List.of("cpu", "cpu-long", "wide-long")) {
                Optional<Entry> one = find(impl, w, 1), two = find(impl, w, 2);
                any |= one.isPresent() && two.isPresent();
                row.append(one.isPresent() && two.isPresent() ? String.format(Locale.ROOT, " %.2f |", two.get().value() / one.get().value()) : " |");
            }
            if (any) sb.append(row).append('\n');
        }
        // The long workloads, where epoch 2 is past the JIT's warm-up: memory speed, and what a short job sees.
        sb.append("\n| ringloader, 2 process workers | timed epoch | epoch 1 | epoch 1 / timed | x memcpy of the same run | worker private memory |\n");
        sb.append("|---|---:|---:|---:|---:|---:|\n");
        for (String w : List.of("wide-long", "cpu-long")) {
            Optional<Entry> e = find("ringloader-process", w, 2);
            if (e.isEmpty()) continue;
            Metric m = METRICS.stream().filter(x -> x.workload().equals(w)).findFirst().orElseThrow();
            double first = epoch1(m, e.get());
            OptionalDouble copy = memcpy(w);
            String rss = e.get().fields().get("worker_rss_mib");
            sb.append(String.format(Locale.ROOT, "| `%s` (%s) | %s | %s | %s | %s | %s |%n", w, m.unit(), number(e.get().value()),
                    first > 0 ? number(first) : "", first > 0 ? String.format(Locale.ROOT, "%.2f", first / e.get().value()) : "",
                    copy.isPresent() && m.unit().equals("GB/s") ? times(e.get().value() / copy.getAsDouble()) : "",
                    rss == null ? "" : rss + " MiB"));
        }
        if (!chartPrefix.isEmpty()) {
            sb.append('\n');
            for (Metric m : METRICS) sb.append(String.format(Locale.ROOT, "![%s](%s%s.png) ", m.workload(), chartPrefix, m.workload()));
            sb.append('\n');
        }
        return sb.toString();
    }

    /** The whole report: summary, then a table per workload with every figure. */
    String markdown(String chartPrefix, String title) {
        StringBuilder sb = new StringBuilder();
        sb.append(title.isEmpty() ? "# ringloader against PyTorch's DataLoader and DJL's pipeline\n\n" : title);
        sb.append("Machine: ").append(machine.line()).append(".  \n");
        sb.append(String.format(Locale.ROOT, "Command: `./ringloader bench --compare` (%.1f minutes). Workloads: `docs/benchmarks.md`. "
                + "Each figure is epoch 2 of a loader with persistent workers (startup: the median of 5 fresh loaders), "
                + "one measurement at a time in a fresh process; this machine is shared, so compare within one run.%n%n", minutes));
        if (!missing.isEmpty()) {
            sb.append("Missing measurements:\n");
            for (String s : missing) sb.append("- ").append(s).append('\n');
            sb.append('\n');
        }
        sb.append("## Summary\n\n").append(summary(chartPrefix)).append('\n');
        sb.append("""
                Peers: `pytorch-fork` and `pytorch-spawn` are PyTorch's `DataLoader` with that start method
                (`pytorch` with 0 workers loads on the main process); `djl` is DJL's `RandomAccessDataset`
                pipeline, whose "workers" are its loader threads. PyTorch's `cpu` dataset runs the kernel in pure
                Python on the first 512 samples only (about 100x slower than the JVM), and `cpu-long` on the first
                1,024 (fork, 1 and 2 workers), so compare them by scaling. "epoch 1" is the first epoch's figure in
                the same run, before the JIT's warm-up is over; "worker private memory" is the largest `RssAnon`
                of a process worker at the end of the timed epoch.
                For `startup`, a fork worker is a copy of the warm parent process, where ringloader starts a fresh
                JVM per worker (which is what makes its workers safe from the fork bugs); `pytorch-spawn` is the
                like-for-like peer there.

                """);
        for (Metric m : METRICS) {
            List<Entry> rows = of(m.workload());
            if (rows.isEmpty()) continue;
            sb.append("## `").append(m.workload()).append("`: ").append(m.unit()).append(m.higherIsBetter() ? " (more is better)" : " (less is better)").append("\n\n");
            sb.append("| implementation | workers | ").append(m.unit())
                    .append(" | epoch 1 | x best peer with as many workers | x its own figure with 1 worker | worker private memory |\n");
            sb.append("|---|---:|---:|---:|---:|---:|---:|\n");
            for (Entry e : rows) {
                OptionalDouble peer = bestPeer(m, e.workers());
                Optional<Entry> one = find(e.impl(), e.workload(), 1);
                double first = epoch1(m, e);
                String rss = e.fields().get("worker_rss_mib");
                sb.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %s | %s | %s |%n", e.impl(), e.workers(), number(e.value()),
                        first > 0 ? number(first) : "",
                        peer.isPresent() ? times(ratio(m, e.value(), peer.getAsDouble())) : "",
                        one.isPresent() && e.workers() != 1 && m.higherIsBetter() ? times(e.value() / one.get().value()) : "",
                        rss == null ? "" : rss + " MiB"));
            }
            // The physical limit: one thread copying one batch, measured by each wide run (and by numpy).
            copies.getOrDefault(m.workload(), Map.of()).forEach((impl, v) -> sb.append(String.format(Locale.ROOT,
                    "| %s: one thread copying one batch (median of %d) | | %s | | | | |%n", impl, v.size(), number(median(v)))));
            sb.append('\n');
        }
        return sb.toString();
    }

    /** Epoch 1's figure of an entry in the metric's unit, or 0 when the run did not report it. */
    private static double epoch1(Metric m, Entry e) {
        String v = e.fields().get(m.field().equals("gb_per_s") ? "epoch1_gb_per_s" : "epoch1_samples_per_s");
        return v == null || !m.higherIsBetter() ? 0 : Double.parseDouble(v);
    }

    /** The median single-thread copy measured by ringloader's runs of {@code workload}. */
    private OptionalDouble memcpy(String workload) {
        List<Double> v = copies.getOrDefault(workload, Map.of()).get("memcpy");
        return v == null || v.isEmpty() ? OptionalDouble.empty() : OptionalDouble.of(median(v));
    }

    private static double median(List<Double> v) {
        return v.stream().sorted().toList().get(v.size() / 2);
    }

    /** One PNG per workload; returns their file names. */
    List<String> charts(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        for (Metric m : METRICS) {
            Map<String, TreeMap<Integer, Double>> series = new LinkedHashMap<>();
            for (Entry e : of(m.workload())) series.computeIfAbsent(e.impl(), k -> new TreeMap<>()).put(e.workers(), e.value());
            if (series.isEmpty()) continue;
            XYChart chart = new XYChartBuilder().width(760).height(420).title(m.workload() + ": " + m.unit())
                    .xAxisTitle("workers (DJL: loader threads)").yAxisTitle(m.unit()).build();
            double min = Double.MAX_VALUE, max = 0;
            for (var s : series.entrySet()) {
                double[] x = s.getValue().keySet().stream().mapToDouble(Integer::doubleValue).toArray();
                double[] y = s.getValue().values().stream().mapToDouble(Double::doubleValue).toArray();
                style(chart.addSeries(s.getKey(), x, y), s.getKey());
                for (double v : y) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
            if (max / Math.max(min, 1e-9) > 30) chart.getStyler().setYAxisLogarithmic(true);
            chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
            chart.setCustomXAxisTickLabelsFormatter(x -> Math.abs(x - Math.rint(x)) < 1e-6 ? Integer.toString((int) Math.rint(x)) : "");
            String name = m.workload() + ".png";
            BitmapEncoder.saveBitmap(chart, dir.resolve(name).toString(), BitmapEncoder.BitmapFormat.PNG);
            names.add(name);
        }
        return names;
    }

    /** How an implementation is drawn: ours in blues and greens, PyTorch in reds, DJL in orange, each with a marker of its own. */
    private record Look(int rgb, org.knowm.xchart.style.markers.Marker marker, java.awt.BasicStroke line) {}

    private static final Map<String, Look> LOOKS = Map.of(
            "ringloader-process", new Look(0x1f5fbf, SeriesMarkers.CIRCLE, org.knowm.xchart.style.lines.SeriesLines.SOLID),
            "ringloader-process-warm", new Look(0x17a2b8, SeriesMarkers.TRIANGLE_UP, org.knowm.xchart.style.lines.SeriesLines.DOT_DOT),
            "ringloader-thread", new Look(0x6a3d9a, SeriesMarkers.SQUARE, org.knowm.xchart.style.lines.SeriesLines.DASH_DASH),
            "ringloader-inline", new Look(0x2e8b57, SeriesMarkers.DIAMOND, org.knowm.xchart.style.lines.SeriesLines.SOLID),
            "pytorch-fork", new Look(0xc8332b, SeriesMarkers.CIRCLE, org.knowm.xchart.style.lines.SeriesLines.SOLID),
            "pytorch-spawn", new Look(0xe377c2, SeriesMarkers.SQUARE, org.knowm.xchart.style.lines.SeriesLines.DASH_DASH),
            "pytorch", new Look(0x8c564b, SeriesMarkers.DIAMOND, org.knowm.xchart.style.lines.SeriesLines.SOLID),
            "djl", new Look(0xe08a00, SeriesMarkers.TRIANGLE_DOWN, org.knowm.xchart.style.lines.SeriesLines.SOLID));

    private static void style(org.knowm.xchart.XYSeries series, String impl) {
        Look look = LOOKS.getOrDefault(impl, new Look(0x555555, SeriesMarkers.CROSS, org.knowm.xchart.style.lines.SeriesLines.DASH_DOT));
        java.awt.Color color = new java.awt.Color(look.rgb());
        series.setLineColor(color);
        series.setMarkerColor(color);
        series.setLineStyle(look.line());
        series.setMarker(look.marker());
    }

    /** Copies the report and charts to docs/bench/ and puts the summary between the README's markers. */
    void publish(Path root, Path out, List<String> charts) throws IOException {
        Path docs = root.resolve("docs/bench");
        Files.createDirectories(docs);
        for (String c : charts) Files.copy(out.resolve(c), docs.resolve(c), StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(docs.resolve("results.md"), markdown("", ""));
        Path readme = root.resolve("README.md");
        String text = Files.readString(readme);
        String start = "<!-- bench-report:start -->", end = "<!-- bench-report:end -->";
        int a = text.indexOf(start), b = text.indexOf(end);
        if (a < 0 || b < a) throw new IllegalStateException("README.md has no " + start + " ... " + end + " block to put the report in");
        String block = start + "\n" + "Measured on " + machine.line() + ", with `./ringloader bench --compare` ("
                + String.format(Locale.ROOT, "%.1f", minutes) + " minutes); every figure, per worker count and mode, is in "
                + "[docs/bench/results.md](docs/bench/results.md).\n\n" + summary("docs/bench/") + end;
        Files.writeString(readme, text.substring(0, a) + block + text.substring(b + end.length()));
        System.err.println("bench --compare: published to " + docs + " and README.md");
    }

    private static String number(double v) {
        if (v >= 1000) return String.format(Locale.ROOT, "%,.0f", v);
        if (v >= 10) return String.format(Locale.ROOT, "%.1f", v);
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String times(double r) {
        return String.format(Locale.ROOT, r >= 10 ? "%.0fx" : "%.2fx", r);
    }
}
