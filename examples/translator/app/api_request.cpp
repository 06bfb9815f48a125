#include "api_request.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace translator {

using json = nlohmann::json;

namespace {

// An optional integer field within [low, high]; `fallback` when absent or null.
long long integer_field(const json& request, const char* key, long long low, long long high, long long fallback) {
    if (!request.contains(key) || request[key].is_null()) return fallback;
    const json& v = request[key];
    if (!v.is_number_integer() || v.get<long long>() < low || v.get<long long>() > high)
        throw RequestError{fmt::format("'{}' must be an integer from {} to {}", key, low, high)};
    return v.get<long long>();
}

}  // namespace

TranslateRequest parse_translate_request(const std::string& body, std::size_t models, std::size_t max_beam) {
    json request;
    try {
        request = json::parse(body);
    } catch (const json::parse_error& e) {
        throw RequestError{fmt::format("the body is not JSON (byte {})", e.byte)};
    } catch (const json::exception&) {  // out_of_range: a number beyond a double (1e400)
        throw RequestError{"the body holds a number out of range"};
    }
    if (!request.is_object()) throw RequestError{"the body must be a JSON object"};
    for (const auto& [key, value] : request.items())
        if (key != "text" && key != "model" && key != "beam" && key != "n_best" && key != "length_penalty" && key != "heads")
            throw RequestError{fmt::format("unknown field '{}' (the fields are text, model, beam, n_best, length_penalty, heads)",
                                           key.size() > 40 ? key.substr(0, 40) + "..." : key)};
    TranslateRequest r;
    if (!request.contains("text") || !request["text"].is_string()) throw RequestError{"'text' must be a string"};
    r.text = request["text"].get<std::string>();
    r.model = static_cast<std::size_t>(integer_field(request, "model", 0, static_cast<long long>(models) - 1, 0));
    r.beam = static_cast<std::size_t>(integer_field(request, "beam", 1, static_cast<long long>(max_beam), 1));
    r.n_best = static_cast<std::size_t>(integer_field(request, "n_best", 1, static_cast<long long>(r.beam), 1));
    if (request.contains("length_penalty") && !request["length_penalty"].is_null()) {
        const json& v = request["length_penalty"];
        if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 10))
            throw RequestError{"'length_penalty' must be a number from 0 to 10"};
        r.length_penalty = v.get<double>();
    }
    if (request.contains("heads")) {
        if (!request["heads"].is_boolean()) throw RequestError{"'heads' must be true or false"};
        r.heads = request["heads"].get<bool>();
    }
    return r;
}

}  // namespace translator
