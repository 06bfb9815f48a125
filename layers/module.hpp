// Module: the base of every layer. A module owns named parameters and named submodules; the
// dotted names it reports ("encoder.fwd.weight_ih") are the names of checkpoint files.
//
// A new layer is one file: derive from Module, hold Parameters (and submodules) as members,
// register them in the constructor, and write forward() from existing ops. No backward code.
//
//     struct Scale : tg::Module {
//         tg::Parameter gain;
//         explicit Scale(std::size_t n) : gain(tg::Tensor::ones({n})) { register_parameter("gain", gain); }
//         tg::Var forward(const tg::Var& x) const { return x * gain; }
//     };
//
// Modules hold pointers to their members, so they can be neither copied nor moved: build them in
// place (as members, or with std::make_unique).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "../autograd/random.hpp"
#include "../autograd/variable.hpp"

namespace tg {

using NamedParameters = std::vector<std::pair<std::string, Parameter*>>;

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // Every parameter of this module and its submodules, depth first in registration order, with
    // dotted names relative to this module.
    NamedParameters named_parameters() const;
    std::vector<Parameter*> parameters() const;
    std::size_t parameter_count() const;  // number of scalars
    void zero_grad();

    // Training mode (the default) or evaluation mode; affects layers like Dropout. Recursive.
    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

protected:
    // `param` must be a member of the derived class (it is held by pointer). Its display name
    // becomes `name`, and the full dotted name once this module is registered in a parent.
    Parameter& register_parameter(std::string name, Parameter& param);
    template <class M>
    M& register_module(std::string name, M& child) {
        add_child(std::move(name), child);
        return child;
    }

private:
    void add_child(std::string name, Module& child);
    void append_parameters(std::vector<Parameter*>& out) const;
    std::vector<std::pair<std::string, Parameter*>> params_;
    std::vector<std::pair<std::string, Module*>> children_;
    bool training_ = true;
};

// PyTorch's default initialisations, from a seeded generator.
// U(-bound, bound) with bound = 1/sqrt(fan_in): nn.Linear's weight (kaiming_uniform with a=sqrt(5))
// and bias, and all of nn.GRU's weights (fan_in = hidden size there).
Tensor uniform_init(const Shape& shape, std::size_t fan_in, Generator& gen);

}  // namespace tg
