#include "viz/heatmap.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tg::viz {

std::string xml_escape(const std::string& s) {
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

std::string svg_heatmap(const Matrix& m, std::span<const std::string> col_labels, std::span<const std::string> row_labels,
                        const std::string& title, std::span<const std::pair<int, int>> marks) {
    constexpr int cell = 22, char_w = 7, line_h = 16;
    std::vector<std::string> title_lines;  // the title may hold several lines
    for (std::size_t start = 0; start <= title.size();) {
        const std::size_t end = std::min(title.find('\n', start), title.size());
        title_lines.push_back(title.substr(start, end - start));
        start = end + 1;
    }
    std::size_t longest_col = 1, longest_row = 1, longest_title = 0;
    for (const auto& l : col_labels) longest_col = std::max(longest_col, l.size());
    for (const auto& l : row_labels) longest_row = std::max(longest_row, l.size());
    for (const auto& l : title_lines) longest_title = std::max(longest_title, l.size());
    const int title_h = static_cast<int>(title_lines.size()) * line_h + 8;
    const int left = static_cast<int>(longest_row) * char_w + 16;
    const int top = title_h + static_cast<int>(longest_col) * char_w + 16;  // rotated source words
    const int width = std::max(left + static_cast<int>(m.cols) * cell + 20, 16 + static_cast<int>(longest_title) * char_w);
    const int height = top + static_cast<int>(m.rows) * cell + 20;
    std::string s = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
        "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        width, height, width, height);
    for (std::size_t i = 0; i < title_lines.size(); ++i)
        s += fmt::format("<text x=\"8\" y=\"{}\" font-size=\"13\">{}</text>\n", 16 + static_cast<int>(i) * line_h,
                         xml_escape(title_lines[i]));
    for (std::size_t c = 0; c < m.cols; ++c) {
        const int x = left + static_cast<int>(c) * cell + cell / 2 + 4, y = top - 6;
        s += fmt::format("<text x=\"{}\" y=\"{}\" transform=\"rotate(-90 {} {})\">{}</text>\n", x, y, x, y,
                         xml_escape(c < col_labels.size() ? col_labels[c] : ""));
    }
    for (std::size_t r = 0; r < m.rows; ++r) {
        const int y = top + static_cast<int>(r) * cell;
        s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 6, y + cell / 2 + 4,
                         xml_escape(r < row_labels.size() ? row_labels[r] : ""));
        for (std::size_t c = 0; c < m.cols; ++c) {
            const int grey = static_cast<int>(std::lround(255.0 * std::clamp(m.at(r, c), 0.0f, 1.0f)));  // 0 black, 1 white
            s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"rgb({},{},{})\"><title>{:.3f}</title></rect>\n",
                             left + static_cast<int>(c) * cell, y, cell, cell, grey, grey, grey, m.at(r, c));
        }
    }
    for (const auto& [r, c] : marks)  // gold links: an outlined cell
        s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n",
                         left + c * cell + 1, top + r * cell + 1, cell - 2, cell - 2);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n</svg>\n", left, top,
                     static_cast<int>(m.cols) * cell, static_cast<int>(m.rows) * cell);
    return s;
}

std::string terminal_heatmap(const Matrix& m, std::span<const std::string> col_labels,
                             std::span<const std::string> row_labels, bool color) {
    static const char kShades[] = " .:-=+*#%@";
    std::size_t width = 1;
    for (const auto& l : row_labels) width = std::max(width, l.size());
    std::string s = "  source: ";
    for (std::size_t c = 0; c < col_labels.size(); ++c) s += fmt::format("{}{}={}", c ? "  " : "", c, col_labels[c]);
    s += '\n' + std::string(width + 2, ' ');
    for (std::size_t c = 0; c < m.cols; ++c) s += fmt::format("{:<2}", c % 100);
    s += '\n';
    for (std::size_t r = 0; r < m.rows; ++r) {
        s += fmt::format("{:>{}}  ", r < row_labels.size() ? row_labels[r] : "", width);
        std::size_t best = 0;
        for (std::size_t c = 0; c < m.cols; ++c) {
            const float w = std::clamp(m.at(r, c), 0.0f, 1.0f);
            if (m.at(r, c) > m.at(r, best)) best = c;
            if (color) {
                const int level = 232 + static_cast<int>(std::lround(w * 23));  // 24 greys, black to white
                s += fmt::format("\x1b[48;5;{}m  \x1b[0m", level);
            } else {
                const char ch = kShades[std::min<std::size_t>(9, static_cast<std::size_t>(w * 10))];
                s += std::string(2, ch);
            }
        }
        if (m.cols) s += fmt::format("  <- {}", best < col_labels.size() ? col_labels[best] : "");
        s += '\n';
    }
    return s;
}

}  // namespace tg::viz
