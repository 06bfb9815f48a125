#include "api.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "api_request.hpp"
#include "http_server.hpp"
#include "views.hpp"

namespace translator {

using json = nlohmann::json;
using namespace tg;

namespace {

// Text that is not UTF-8 (a vocabulary read from elsewhere) is replaced, never an exception.
std::string text_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// An attention matrix as rows of weights, to 6 decimals.
json matrix(const viz::Matrix& m) {
    json rows = json::array();
    for (std::size_t r = 0; r < m.rows; ++r) {
        json row = json::array();
        for (std::size_t c = 0; c < m.cols; ++c) row.push_back(std::round(m.at(r, c) * 1e6) / 1e6);
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace

ApiResponse Api::handle(const std::string& method, const std::string& path, const std::string& body,
                        const std::function<bool()>& cancelled) {
    if (path == "/api/models") {
        if (method != "GET") return {405, http::error_body(fmt::format("{} {}: use GET", method, path))};
        return models();
    }
    if (path == "/api/translate") {
        if (method != "POST") return {405, http::error_body(fmt::format("{} {}: use POST with a JSON body", method, path))};
        return translate(body, cancelled);
    }
    return {404, http::error_body(fmt::format("{} {}: no such path; the API is GET /api/models and POST /api/translate", method, path))};
}

ApiResponse Api::models() const {
    json out = json::array();
    for (std::size_t i = 0; i < models_.size(); ++i) {
        const ServedModel& s = models_[i];
        const ModelConfig& c = s.loaded.model->config;
        json config = json::object();  // config.txt's keys and values, as saved
        std::string text = c.str();
        for (std::size_t start = 0, end; start < text.size(); start = end + 1) {
            end = text.find('\n', start);
            const std::string line = text.substr(start, end - start);
            const std::size_t space = line.find(' ');
            if (space != std::string::npos) config[line.substr(0, space)] = line.substr(space + 1);
        }
        out.push_back({{"index", i}, {"name", s.name}, {"description", c.describe()}, {"config", config},
                       {"src_vocab", s.loaded.src_vocab.size()}, {"tgt_vocab", s.loaded.tgt_vocab.size()},
                       {"units", s.loaded.subwords() ? "subwords" : "words"}, {"parameters", s.loaded.model->parameter_count()},
                       {"layers", c.is_transformer() ? c.layers : 1}, {"heads", c.is_transformer() ? c.heads : 1}});
    }
    return {200, text_of(json{{"models", out}})};
}

ApiResponse Api::translate(const std::string& body, const std::function<bool()>& cancelled) {
    const auto start = std::chrono::steady_clock::now();
    TranslateRequest request;
    try {
        request = parse_translate_request(body, models_.size(), limits_.max_beam);
    } catch (const RequestError& e) {
        return {400, http::error_body("POST /api/translate: " + e.message)};
    }
    const text::Sentence words = text::split_words(request.text);
    const auto [units, refused] = check_source(models_[request.model].loaded, words, {limits_.max_words, limits_.max_pieces});
    if (!refused.empty()) return {400, http::error_body("POST /api/translate: 'text': " + refused)};

    const ServedModel& served = models_[request.model];
    const LoadedModel& m = served.loaded;
    json out = {{"model", request.model}};
    if (words.empty()) {
        out.update({{"text", ""}, {"source", json::array()}, {"target", json::array()}, {"attention", json::array()},
                    {"n_best", json::array()}, {"ms", 0.0}});
        return {200, text_of(out)};
    }
    DecodeOptions options;
    options.packed_output = &served.packed;
    options.length_penalty = request.length_penalty;
    options.cancelled = cancelled;
    const std::vector<Translation> best = translate_one(m, units, request.beam, request.n_best, options);
    const Translation& t = best[0];
    out["text"] = m.target_text(t.words);
    json n_best_list = json::array();
    for (const Translation& h : best) n_best_list.push_back({{"text", m.target_text(h.words)}, {"score", h.ranked}});
    out["n_best"] = n_best_list;
    if (m.model->config.has_attention()) {
        const Labelled w = labelled(m, units, t, true);  // over words
        out.update({{"source", w.cols}, {"target", w.rows}, {"attention", matrix(w.attention)}});
        if (m.subwords()) {
            const Labelled p = labelled(m, units, t, false);
            out.update({{"source_pieces", p.cols}, {"target_pieces", p.rows}, {"attention_pieces", matrix(p.attention)}});
        }
        if (request.heads && m.model->config.is_transformer()) {
            const std::vector<Translation> views = in_views(m, units, t, attention_heads(m.model->config));  // layer-major
            json layers = json::array();
            for (std::size_t l = 0, v = 0; l < m.model->config.layers; ++l) {
                json per_head = json::array();
                for (std::size_t h = 0; h < m.model->config.heads; ++h, ++v)
                    per_head.push_back(matrix(labelled(m, units, views[v], true).attention));
                layers.push_back(per_head);
            }
            out["heads"] = layers;
        }
    } else {
        out.update({{"source", words}, {"target", text::split_words(out["text"].get<std::string>())}, {"attention", json::array()}});
    }
    out["ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return {200, text_of(out)};
}

}  // namespace translator
