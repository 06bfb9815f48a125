// The SVG pictures: well-formed XML with the expected series, labels, cells and marks.
#include <vector>

#include "helpers.hpp"
#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

using namespace tg::viz;

namespace {

// Checks that every tag is closed in order (or self-closed) and returns the tag names seen.
std::vector<std::string> well_formed_tags(const std::string& svg) {
    std::vector<std::string> stack, seen;
    for (std::size_t i = svg.find('<'); i != std::string::npos; i = svg.find('<', i + 1)) {
        const std::size_t end = svg.find('>', i);
        REQUIRE(end != std::string::npos);
        std::string tag = svg.substr(i + 1, end - i - 1);
        if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
        if (tag[0] == '/') {
            REQUIRE_MESSAGE(!stack.empty(), "closing tag without an opening one: " << tag);
            CHECK(stack.back() == tag.substr(1));
            stack.pop_back();
            continue;
        }
        const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
        seen.push_back(name);
        if (tag.back() != '/') stack.push_back(name);
    }
    CHECK_MESSAGE(stack.empty(), "unclosed tags, the first: " << (stack.empty() ? "" : stack[0]));
    return seen;
}

std::size_t count(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("line plot: one polyline per series, legend, axis labels, markers, escaped text") {
    LinePlot p;
    p.title = "BLEU <by> length";
    p.x_label = "source length";
    p.y_label = "BLEU";
    p.x_min = 0, p.x_max = 50, p.y_min = 0, p.y_max = 100;
    p.series = {{"RNNsearch", {3, 8, 13}, {99, 98, 97}, "#1f77b4", false}, {"RNNencdec", {3, 8, 13}, {90, 60, 30}, "#d62728", true}};
    p.markers = {{20.5, "longest training sentence"}};
    const std::string svg = svg_line_plot(p);
    const auto tags = well_formed_tags(svg);
    CHECK(tags.front() == "svg");
    CHECK(count(svg, "<polyline class=\"series\"") == 2);
    CHECK(count(svg, "data-name=\"RNNsearch\"") == 1);
    CHECK(count(svg, "data-name=\"RNNencdec\"") == 1);
    CHECK(count(svg, "stroke-dasharray=\"6,4\"") == 2);  // the dashed series and its legend line
    CHECK(count(svg, "<circle") == 6);                    // a dot per point
    for (const char* text : {">source length<", ">BLEU<", ">RNNsearch<", ">RNNencdec<", ">longest training sentence<",
                             "BLEU &lt;by&gt; length"})
        CHECK_MESSAGE(svg.find(text) != std::string::npos, text);
    // y = 99 at x = 3 lies near the top of the plot, y = 30 lower down
    const std::size_t first = svg.find("points=\"", svg.find("data-name=\"RNNsearch\"")) + 8;
    const double y99 = std::stod(svg.substr(svg.find(',', first) + 1));
    const std::size_t second = svg.find("points=\"", svg.find("data-name=\"RNNencdec\"")) + 8;
    const std::size_t third_point = svg.find(' ', svg.find(' ', second) + 1) + 1;
    const double y30 = std::stod(svg.substr(svg.find(',', third_point) + 1));
    CHECK(y99 < y30);
}

TEST_CASE("heatmap: a cell per weight in grey, labels, and the gold marks") {
    Matrix m{2, 3, {1.0f, 0.0f, 0.5f, 0.0f, 1.0f, 0.0f}};
    const std::vector<std::string> cols = {"a", "b&c", "</s>"}, rows = {"x", "</s>"};
    const std::vector<std::pair<int, int>> marks = {{0, 0}, {1, 1}};
    const std::string svg = svg_heatmap(m, cols, rows, "title line 1\nline 2", marks);
    well_formed_tags(svg);
    CHECK(count(svg, "<title>") == 6);                 // one per cell, with its weight
    CHECK(count(svg, "fill=\"rgb(255,255,255)\"") == 2);  // weight 1: white, as in the paper
    CHECK(count(svg, "fill=\"rgb(128,128,128)\"") == 1);
    CHECK(count(svg, "stroke=\"#d62728\"") == 2);      // the two gold links
    for (const char* text : {">b&amp;c<", ">&lt;/s&gt;<", ">title line 1<", ">line 2<"})
        CHECK_MESSAGE(svg.find(text) != std::string::npos, text);

    const std::string plain = terminal_heatmap(m, cols, rows, false);
    CHECK(plain.find("   x  @@  ++  <- a\n") != std::string::npos);  // 1 -> "@@", 0 -> "  ", 0.5 -> "++"
    CHECK(terminal_heatmap(m, cols, rows, true).find("\x1b[48;5;255m") != std::string::npos);  // white cell
}
