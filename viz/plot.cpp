#include "viz/plot.hpp"

#include <fmt/format.h>

#include <cmath>

#include "viz/heatmap.hpp"

namespace tg::viz {

std::string svg_line_plot(const LinePlot& p) {
    constexpr double width = 640, height = 400, left = 60, right = 190, top = 40, bottom = 50;
    const double w = width - left - right, h = height - top - bottom;
    auto X = [&](double x) { return left + (x - p.x_min) / (p.x_max - p.x_min) * w; };
    auto Y = [&](double y) { return top + h - (y - p.y_min) / (p.y_max - p.y_min) * h; };
    std::string s = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
        "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        "<text x=\"{2}\" y=\"22\" font-size=\"14\" text-anchor=\"middle\">{3}</text>\n",
        width, height, left + w / 2, xml_escape(p.title));
    // Grid and ticks: about five steps on each axis, at round numbers.
    auto step_for = [](double span) {
        const double raw = span / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
        return raw / mag >= 5 ? 5 * mag : raw / mag >= 2 ? 2 * mag : mag;
    };
    const double xs = step_for(p.x_max - p.x_min), ys = step_for(p.y_max - p.y_min);
    for (double x = std::ceil(p.x_min / xs) * xs; x <= p.x_max + 1e-9; x += xs)
        s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e5e5e5\"/>"
                         "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\">{4:g}</text>\n",
                         X(x), top, top + h, top + h + 16, x);
    for (double y = std::ceil(p.y_min / ys) * ys; y <= p.y_max + 1e-9; y += ys)
        s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#e5e5e5\"/>"
                         "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\">{5:g}</text>\n",
                         left, Y(y), left + w, left - 6, Y(y) + 4, y);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, top, w, h);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", left + w / 2, height - 12,
                     xml_escape(p.x_label));
    s += fmt::format("<text x=\"16\" y=\"{0:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0:.1f})\">{1}</text>\n",
                     top + h / 2, xml_escape(p.y_label));
    for (const auto& [x, label] : p.markers)
        s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#888\" stroke-dasharray=\"2,3\"/>"
                         "<text x=\"{3:.1f}\" y=\"{4:.1f}\" fill=\"#555\" font-size=\"11\">{5}</text>\n",
                         X(x), top, top + h, X(x) + 4, top + 14, xml_escape(label));
    for (std::size_t k = 0; k < p.series.size(); ++k) {
        const Series& se = p.series[k];
        std::string points;
        for (std::size_t i = 0; i < se.x.size() && i < se.y.size(); ++i) points += fmt::format("{:.1f},{:.1f} ", X(se.x[i]), Y(se.y[i]));
        const std::string dash = se.dashed ? " stroke-dasharray=\"6,4\"" : "";
        s += fmt::format("<polyline class=\"series\" data-name=\"{}\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                         xml_escape(se.name), points, se.color, dash);
        for (std::size_t i = 0; i < se.x.size() && i < se.y.size(); ++i)
            s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", X(se.x[i]), Y(se.y[i]), se.color);
        const double ly = top + 10 + 20 * static_cast<double>(k);  // legend, right of the plot
        s += fmt::format("\n<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>"
                         "<text x=\"{5:.1f}\" y=\"{6:.1f}\">{7}</text>\n",
                         left + w + 12, ly, left + w + 40, se.color, dash, left + w + 46, ly + 4, xml_escape(se.name));
    }
    return s + "</svg>\n";
}

}  // namespace tg::viz
