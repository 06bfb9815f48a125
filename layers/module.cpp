#include "layers/module.hpp"

#include <cmath>

#include "autograd/error.hpp"

namespace tg {

Parameter& Module::register_parameter(std::string name, Parameter& param) {
    for (const auto& [existing, p] : params_)
        if (existing == name) throw Error("register_parameter: a parameter named '" + name + "' already exists");
    param.set_name(name);
    params_.emplace_back(std::move(name), &param);
    return param;
}

void Module::add_child(std::string name, Module& child) {
    for (const auto& [existing, m] : children_)
        if (existing == name) throw Error("register_module: a submodule named '" + name + "' already exists");
    for (auto& [pname, p] : child.named_parameters()) p->set_name(name + "." + pname);
    children_.emplace_back(std::move(name), &child);
}

NamedParameters Module::named_parameters() const {
    NamedParameters out(params_.begin(), params_.end());
    for (const auto& [prefix, child] : children_)
        for (auto& [name, p] : child->named_parameters()) out.emplace_back(prefix + "." + name, p);
    return out;
}

std::vector<Parameter*> Module::parameters() const {  // named_parameters()'s order, without making the names
    std::vector<Parameter*> out;
    append_parameters(out);
    return out;
}

void Module::append_parameters(std::vector<Parameter*>& out) const {
    for (const auto& [name, p] : params_) out.push_back(p);
    for (const auto& [prefix, child] : children_) child->append_parameters(out);
}

std::size_t Module::parameter_count() const {
    std::size_t n = 0;
    for (const Parameter* p : parameters()) n += p->value().numel();
    return n;
}

void Module::zero_grad() {
    for (Parameter* p : parameters()) p->zero_grad();
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

Tensor uniform_init(const Shape& shape, std::size_t fan_in, Generator& gen) {
    const float bound = fan_in ? 1.0f / std::sqrt(static_cast<float>(fan_in)) : 0.0f;
    return Tensor::uniform(shape, -bound, bound, gen);
}

}  // namespace tg
