// Line plots as SVG: labelled axes, a legend, solid or dashed series, and optional vertical
// markers (e.g. "longest training sentence"). Enough for the paper's Figure 2.
#pragma once
#include <string>
#include <vector>

namespace tg::viz {

struct Series {
    std::string name;
    std::vector<double> x, y;
    std::string color = "#1f77b4";
    bool dashed = false;
};

struct LinePlot {
    std::string title, x_label, y_label;
    double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
    std::vector<Series> series;
    std::vector<std::pair<double, std::string>> markers;  // vertical lines at x, with a label
};

std::string svg_line_plot(const LinePlot& plot);

}  // namespace tg::viz
