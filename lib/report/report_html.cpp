#include "lib/report/report_html.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "lib/report/markdown_table.h"
#include "lib/report/report_figures.h"

namespace slmc {

using nlohmann::json;

std::vector<size_t> paretoFront(const std::vector<std::pair<double, double>>& points) {
  std::vector<size_t> order(points.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return points[a].first != points[b].first ? points[a].first < points[b].first : points[a].second < points[b].second;
  });
  std::vector<size_t> front;
  double best_y = INFINITY;
  for (size_t i : order)
    if (points[i].second < best_y) {
      front.push_back(i);
      best_y = points[i].second;
    }
  return front;
}

namespace {

std::string escapeHtml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) { return formatDouble("%.1f", v); }

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
const char* color(size_t i) { return kPalette[i % (sizeof kPalette / sizeof *kPalette)]; }

// Round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 5) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * magnitude) {
      step = m * magnitude;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push_back(t);
  return out;
}

std::string tickLabel(double v) { return formatDouble("%g", std::fabs(v) < 1e-12 ? 0.0 : v); }

// A plot frame: linear scales from data ranges to an SVG area with axes, ticks and labels.
struct Plot {
  double width = 640, height = 360, left = 70, right = 20, top = 20, bottom = 50;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  double py(double y) const { return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom); }

  void fit(double xlo, double xhi, double ylo, double yhi) {
    const double xpad = xhi > xlo ? 0.08 * (xhi - xlo) : std::max(1.0, std::fabs(xlo) * 0.1);
    const double ypad = yhi > ylo ? 0.08 * (yhi - ylo) : std::max(1.0, std::fabs(ylo) * 0.1);
    // Axes of non-negative data start at 0 at the lowest, never below.
    x0 = xlo >= 0 ? std::max(0.0, xlo - xpad) : xlo - xpad, x1 = xhi + xpad;
    y0 = ylo >= 0 ? std::max(0.0, ylo - ypad) : ylo - ypad, y1 = yhi + ypad;
  }

  std::string open(const std::string& title) const {
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) + "\" height=\"" + num(height) +
           "\" viewBox=\"0 0 " + num(width) + " " + num(height) + "\" role=\"img\" aria-label=\"" + escapeHtml(title) +
           "\">\n";
  }

  std::string axes(const std::string& xlabel, const std::string& ylabel, bool x_ticks = true) const {
    std::string s = "<g class=\"axes\">\n";
    s += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(y0)) + "\" x2=\"" + num(width - right) + "\" y2=\"" +
         num(py(y0)) + "\"/>\n";
    s += "<line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" + num(py(y0)) + "\"/>\n";
    if (x_ticks)
      for (double t : ticks(x0, x1))
        s += "<text x=\"" + num(px(t)) + "\" y=\"" + num(height - bottom + 16) + "\" text-anchor=\"middle\">" +
             tickLabel(t) + "</text>\n";
    for (double t : ticks(y0, y1))
      s += "<text x=\"" + num(left - 6) + "\" y=\"" + num(py(t) + 4) + "\" text-anchor=\"end\">" + tickLabel(t) +
           "</text>\n<line class=\"grid\" x1=\"" + num(left) + "\" y1=\"" + num(py(t)) + "\" x2=\"" +
           num(width - right) + "\" y2=\"" + num(py(t)) + "\"/>\n";
    s += "<text x=\"" + num((left + width - right) / 2) + "\" y=\"" + num(height - 10) + "\" text-anchor=\"middle\">" +
         escapeHtml(xlabel) + "</text>\n";
    s += "<text transform=\"translate(16," + num((top + height - bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + escapeHtml(ylabel) + "</text>\n</g>\n";
    return s;
  }
};

struct Point {
  std::string label;
  double bytes, perplexity;
};

std::string paretoPlot(const std::vector<Point>& points) {
  if (points.empty()) return "<p class=\"note\">No run has both perplexity and bytes: nothing to plot.</p>\n";
  std::vector<std::pair<double, double>> xy;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const Point& p : points) {
    xy.emplace_back(p.bytes / 1048576.0, p.perplexity);
    xlo = std::min(xlo, xy.back().first), xhi = std::max(xhi, xy.back().first);
    ylo = std::min(ylo, p.perplexity), yhi = std::max(yhi, p.perplexity);
  }
  const std::vector<size_t> front = paretoFront(xy);
  Plot plot;
  plot.fit(std::min(0.0, xlo), xhi, std::min(ylo, yhi), yhi);
  std::string s = plot.open("perplexity against size") + plot.axes("size (MiB)", "perplexity");
  std::string line;
  for (size_t i : front) line += (line.empty() ? "" : " ") + num(plot.px(xy[i].first)) + "," + num(plot.py(xy[i].second));
  s += "<polyline class=\"front\" points=\"" + line + "\"/>\n";
  for (size_t i = 0; i < points.size(); ++i) {
    const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    s += "<circle cx=\"" + num(plot.px(xy[i].first)) + "\" cy=\"" + num(plot.py(xy[i].second)) + "\" r=\"" +
         (on_front ? "6" : "4") + "\" class=\"" + (on_front ? "on-front" : "off-front") + "\"><title>" +
         escapeHtml(points[i].label) + ": " + formatDouble("%.4g", xy[i].first) + " MiB, perplexity " +
         formatDouble("%.4f", xy[i].second) + (on_front ? " (Pareto front)" : "") + "</title></circle>\n";
    const bool right_half = plot.px(xy[i].first) > plot.width / 2;  // labels stay inside the plot
    s += "<text class=\"point-label\" text-anchor=\"" + std::string(right_half ? "end" : "start") + "\" x=\"" +
         num(plot.px(xy[i].first) + (right_half ? -8 : 8)) + "\" y=\"" +
         num(plot.py(xy[i].second) - 6) + "\">" + escapeHtml(points[i].label) + "</text>\n";
  }
  return s + "</svg>\n<p class=\"note\">Filled red points and the line: the Pareto front (no other run is both "
             "smaller and lower in perplexity).</p>\n";
}

// Grouped bars: groups along x, one bar per series; values may be missing (NaN).
struct BarSeries {
  std::string name;
  std::vector<double> values;
};

std::string barChart(const std::string& title, const std::vector<std::string>& groups,
                     const std::vector<BarSeries>& series, const std::string& ylabel) {
  double hi = 0;
  for (const BarSeries& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) hi = std::max(hi, v);
  Plot plot;
  plot.x0 = 0, plot.x1 = static_cast<double>(groups.size());
  plot.y0 = 0, plot.y1 = hi > 0 ? hi * 1.1 : 1;
  plot.width = std::max(360.0, std::min(1200.0, 80.0 + 40.0 * groups.size() * std::max<size_t>(1, series.size())));
  const double group_w = plot.px(1) - plot.px(0);
  // Group labels wider than their group (30 layers, "run: pass") are turned 40° and anchored at
  // their end under the group, and the plot grows down to hold them, so no two overlap.
  size_t longest = 0;
  for (const std::string& g : groups) longest = std::max(longest, g.size());
  const double label_w = 6.5 * static_cast<double>(longest);  // ~px per character at the page's 11px
  const bool turned = label_w > 0.95 * group_w;
  if (turned) {
    const double drop = label_w * std::sin(40.0 * M_PI / 180.0);
    plot.bottom += drop;
    plot.height += drop;
    // The first label reaches left of its group by label_w·cos 40°: widen the left margin for it.
    const double overhang = label_w * std::cos(40.0 * M_PI / 180.0) - plot.px(0.5) + 4;
    if (overhang > 0) plot.left += overhang, plot.width += overhang;
  }
  std::string s = plot.open(title) + plot.axes("", ylabel, false);
  const double bar_w = group_w * 0.8 / static_cast<double>(std::max<size_t>(1, series.size()));
  for (size_t g = 0; g < groups.size(); ++g) {
    const double lx = plot.px(g + 0.5), ly = plot.height - plot.bottom + 16;
    s += turned ? "<text transform=\"translate(" + num(lx) + "," + num(ly - 4) + ") rotate(-40)\" text-anchor=\"end\">"
                : "<text x=\"" + num(lx) + "\" y=\"" + num(ly) + "\" text-anchor=\"middle\">";
    s += escapeHtml(groups[g]) + "</text>\n";
    for (size_t k = 0; k < series.size(); ++k) {
      const double v = g < series[k].values.size() ? series[k].values[g] : NAN;
      if (!std::isfinite(v)) continue;
      const double x = plot.px(static_cast<double>(g)) + group_w * 0.1 + bar_w * static_cast<double>(k);
      s += "<rect x=\"" + num(x) + "\" y=\"" + num(plot.py(v)) + "\" width=\"" + num(bar_w) + "\" height=\"" +
           num(plot.py(0) - plot.py(v)) + "\" fill=\"" + color(k) + "\"><title>" + escapeHtml(series[k].name) + ", " +
           escapeHtml(groups[g]) + ": " + formatDouble("%.4g", v) + "</title></rect>\n";
    }
  }
  s += "</svg>\n<p class=\"legend\">";
  for (size_t k = 0; k < series.size(); ++k)
    s += "<span><i style=\"background:" + std::string(color(k)) + "\"></i>" + escapeHtml(series[k].name) + "</span> ";
  return s + "</p>\n";
}

// The per-layer numbers of a run's passes: for the first pass with a "layers" figure, the mean of
// one numeric per-tensor figure per layer (an error when the pass measured one).
struct LayerFigure {
  std::string name;  // "quantize: relative_error"
  std::map<int64_t, double> by_layer;
};

std::string pickTensorFigure(const json& layers) {
  std::vector<std::string> numeric;
  for (const json& layer : layers)
    for (const json& t : layer.value("tensors", json::array()))
      for (const auto& [key, value] : t.items())
        if (value.is_number() && key != "layer" &&
            std::find(numeric.begin(), numeric.end(), key) == numeric.end())
          numeric.push_back(key);
  for (const char* preferred : {"relative_error", "error", "mse", "loss", "sparsity"})
    if (std::find(numeric.begin(), numeric.end(), preferred) != numeric.end()) return preferred;
  return numeric.empty() ? "" : numeric.front();
}

std::optional<LayerFigure> layerFigure(const json& report) {
  if (!report.contains("passes") || !report["passes"].is_array()) return std::nullopt;
  for (const json& pass : report["passes"]) {
    const json figures = pass.value("figures", json::object());
    if (!figures.is_object() || !figures.contains("layers") || !figures["layers"].is_array()) continue;
    const std::string key = pickTensorFigure(figures["layers"]);
    if (key.empty()) continue;
    LayerFigure out{pass.value("name", std::string("pass")) + ": " + key, {}};
    for (const json& layer : figures["layers"]) {
      if (!layer.contains("layer") || !layer["layer"].is_number_integer()) continue;
      double sum = 0;
      int n = 0;
      for (const json& t : layer.value("tensors", json::array()))
        if (t.contains(key) && t[key].is_number()) sum += t[key].get<double>(), ++n;
      if (n) out.by_layer[layer["layer"].get<int64_t>()] = sum / n;
    }
    if (!out.by_layer.empty()) return out;
  }
  return std::nullopt;
}

std::vector<double> lossCurve(const json& report) {
  if (!report.contains("passes") || !report["passes"].is_array()) return {};
  for (const json& pass : report["passes"]) {
    const json figures = pass.value("figures", json::object());
    for (const char* key : {"loss_curve", "losses"})
      if (figures.is_object() && figures.contains(key) && figures[key].is_array()) {
        std::vector<double> out;
        for (const json& v : figures[key])
          if (v.is_number()) out.push_back(v.get<double>());
        if (!out.empty()) return out;
      }
  }
  return {};
}

std::string lossPlot(const std::vector<std::pair<std::string, std::vector<double>>>& curves) {
  double hi = -INFINITY, lo = INFINITY;
  size_t steps = 0;
  for (const auto& [name, c] : curves) {
    steps = std::max(steps, c.size());
    for (double v : c) hi = std::max(hi, v), lo = std::min(lo, v);
  }
  Plot plot;
  plot.fit(0, static_cast<double>(steps > 1 ? steps - 1 : 1), lo, hi);
  std::string s = plot.open("distillation loss") + plot.axes("step", "loss");
  for (size_t k = 0; k < curves.size(); ++k) {
    std::string pts;
    for (size_t i = 0; i < curves[k].second.size(); ++i)
      pts += (pts.empty() ? "" : " ") + num(plot.px(static_cast<double>(i))) + "," + num(plot.py(curves[k].second[i]));
    s += "<polyline fill=\"none\" stroke=\"" + std::string(color(k)) + "\" stroke-width=\"2\" points=\"" + pts +
         "\"><title>" + escapeHtml(curves[k].first) + "</title></polyline>\n";
  }
  return s + "</svg>\n";
}

std::string figuresTable(const std::vector<ReportFile>& runs, const std::vector<json>& figures) {
  std::string s = "<table>\n<tr><th>figure</th>";
  for (const ReportFile& r : runs) s += "<th>" + escapeHtml(r.label) + "</th>";
  s += "</tr>\n";
  for (const FigureInfo& info : reportFigures()) {
    bool any = false;
    for (const json& f : figures) any = any || f.contains(info.name);
    if (!any) continue;
    s += "<tr><td>" + escapeHtml(info.label) + "</td>";
    for (const json& f : figures)
      s += "<td class=\"num\">" + (f.contains(info.name) ? formatFigure(info, f[info.name].get<double>()) : "–") +
           "</td>";
    s += "</tr>\n";
  }
  return s + "</table>\n";
}

const char* kStyle = R"(body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1300px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}td.num{text-align:right;font-variant-numeric:tabular-nums}
svg{font-size:11px;background:#fff}.axes line{stroke:#333}.axes line.grid{stroke:#eee}
.front{fill:none;stroke:#d62728;stroke-width:1.5;stroke-dasharray:4 3}.on-front{fill:#d62728}.off-front{fill:#fff;stroke:#1f77b4;stroke-width:2}
.legend span{margin-right:1.5em}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}.note{color:#666;font-size:.9em})";

}  // namespace

std::string reportsHtml(const std::vector<ReportFile>& runs) {
  std::vector<json> figures;
  std::vector<Point> points;
  for (const ReportFile& r : runs) {
    figures.push_back(figuresOf(r.json));
    const json& f = figures.back();
    if (f.contains("bytes") && f.contains("perplexity"))
      points.push_back({r.label, f["bytes"].get<double>(), f["perplexity"].get<double>()});
  }
  // The original model, once, when a compress report measured it: the point every run trades from.
  for (const ReportFile& r : runs) {
    const json o = originalFiguresOf(r.json);
    if (o.contains("bytes") && o.contains("perplexity")) {
      points.push_back({"original (" + reportModelName(r.json) + ")", o["bytes"].get<double>(),
                        o["perplexity"].get<double>()});
      break;
    }
  }
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>slmc report</title>\n"
                     "<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n<h1>slmc report: " +
                     std::to_string(runs.size()) + " run" + (runs.size() == 1 ? "" : "s") + "</h1>\n<ul>\n";
  for (const ReportFile& r : runs)
    html += "<li><b>" + escapeHtml(r.label) + "</b>: " + escapeHtml(r.json.value("command", std::string("?"))) + " of " +
            escapeHtml(reportModelName(r.json)) + (r.json.contains("pipeline") && r.json["pipeline"].is_string()
                                                       ? " — <code>" + escapeHtml(r.json["pipeline"].get<std::string>()) + "</code>"
                                                       : "") +
            "</li>\n";
  html += "</ul>\n<h2>Figures</h2>\n" + figuresTable(runs, figures);
  html += "<h2>Perplexity against size</h2>\n" + paretoPlot(points);

  // Per-layer figures: one bar per run, grouped by layer.
  std::vector<BarSeries> layer_series;
  std::map<int64_t, bool> layer_ids;
  std::vector<std::optional<LayerFigure>> per_run;
  for (const ReportFile& r : runs) {
    per_run.push_back(layerFigure(r.json));
    if (per_run.back())
      for (const auto& [layer, v] : per_run.back()->by_layer) layer_ids[layer] = true;
  }
  html += "<h2>Per-layer figures</h2>\n";
  if (layer_ids.empty()) {
    html += "<p class=\"note\">No run recorded numeric per-layer figures.</p>\n";
  } else {
    std::vector<std::string> groups;
    for (const auto& [layer, unused] : layer_ids) groups.push_back("layer " + std::to_string(layer));
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!per_run[i]) continue;
      BarSeries s{runs[i].label + " (" + per_run[i]->name + ")", {}};
      for (const auto& [layer, unused] : layer_ids)
        s.values.push_back(per_run[i]->by_layer.count(layer) ? per_run[i]->by_layer.at(layer) : NAN);
      layer_series.push_back(std::move(s));
    }
    html += barChart("per-layer figures", groups, layer_series, "mean over the layer's tensors");
  }

  // Per-pass time and memory: groups are "run: pass".
  std::vector<std::string> pass_groups;
  BarSeries seconds{"seconds", {}}, memory{"peak RSS (MiB)", {}};
  for (const ReportFile& r : runs)
    if (r.json.contains("passes") && r.json["passes"].is_array())
      for (const json& p : r.json["passes"]) {
        pass_groups.push_back(r.label + ": " + p.value("name", std::string("?")));
        seconds.values.push_back(p.value("seconds", NAN));
        memory.values.push_back(p.contains("peak_rss_bytes") && p["peak_rss_bytes"].is_number()
                                    ? p["peak_rss_bytes"].get<double>() / 1048576.0
                                    : NAN);
      }
  html += "<h2>Per-pass time and memory</h2>\n";
  if (pass_groups.empty()) {
    html += "<p class=\"note\">No run has passes (eval, validate and bench reports measure one model).</p>\n";
  } else {
    html += barChart("per-pass seconds", pass_groups, {seconds}, "seconds");
    html += barChart("per-pass peak memory", pass_groups, {memory}, "peak RSS (MiB)");
  }

  std::vector<std::pair<std::string, std::vector<double>>> curves;
  for (const ReportFile& r : runs)
    if (auto c = lossCurve(r.json); !c.empty()) curves.emplace_back(r.label, std::move(c));
  if (!curves.empty()) html += "<h2>Distillation loss</h2>\n" + lossPlot(curves);
  return html + "</body>\n</html>\n";
}

}  // namespace slmc
