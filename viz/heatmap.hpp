// Pictures of attention: an SVG alignment matrix like the paper's Figure 3 (source words along
// the top, target words down the side, weights in grey scale: 0 black, 1 white, as in the paper),
// and the same matrix
// drawn with shades in a terminal.
#pragma once
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tg::viz {

struct Matrix {
    std::size_t rows = 0, cols = 0;
    std::vector<float> values;  // row-major, rows x cols, in [0, 1]
    float at(std::size_t r, std::size_t c) const { return values[r * cols + c]; }
};

// `marks`: (row, col) cells to outline (e.g. the gold alignment), may be empty.
std::string svg_heatmap(const Matrix& m, std::span<const std::string> col_labels, std::span<const std::string> row_labels,
                        const std::string& title, std::span<const std::pair<int, int>> marks = {});

// One line per target word: the word, then a cell per source word in shades of grey (ANSI 256
// colours when `color`, else the characters " .:-=+*#%@"), then the source word with the highest
// weight. Source words are listed above, numbered.
std::string terminal_heatmap(const Matrix& m, std::span<const std::string> col_labels,
                             std::span<const std::string> row_labels, bool color);

// Escapes &, <, >, " for SVG text.
std::string xml_escape(const std::string& s);

}  // namespace tg::viz
