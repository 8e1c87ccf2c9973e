// The optimizers of the registry (registry.hpp), each declared here once: name, summary, options
// and factory.
#include "tapegrad/train/registry.hpp"

#include "kind_lookup.hpp"

namespace tg::train {
namespace {

template <class F>
OptimizerKind optimizer(std::string name, std::string summary, std::vector<OptionSpec> options, F) {
    OptimizerKind k;
    k.name = std::move(name);
    k.summary = std::move(summary);
    k.options = std::move(options);
    k.make_float = [](const OptionValues& o, std::vector<Parameter<float>*> p) { return F{}.template operator()<float>(o, std::move(p)); };
    k.make_double = [](const OptionValues& o, std::vector<Parameter<double>*> p) { return F{}.template operator()<double>(o, std::move(p)); };
    return k;
}

std::vector<OptimizerKind> make_optimizer_kinds() {
    const OptionSpec momentum = unit_interval_option("momentum", 0.9, "momentum/nesterov: momentum", true);
    const OptionSpec eps = positive_option("eps", 1e-8, "adam/rmsprop: epsilon");
    auto lr = [](double default_value) { return positive_option("lr", default_value, "learning rate"); };
    std::vector<OptimizerKind> kinds;
    kinds.push_back(optimizer("sgd", "plain stochastic gradient descent", {lr(0.1)},
                              []<class T>(const OptionValues& o, std::vector<Parameter<T>*> p) -> std::unique_ptr<Optimizer<T>> {
                                  return std::make_unique<SGD<T>>(std::move(p), o.real("lr"));
                              }));
    kinds.push_back(optimizer("momentum", "SGD with heavy-ball momentum", {lr(0.01), momentum},
                              []<class T>(const OptionValues& o, std::vector<Parameter<T>*> p) -> std::unique_ptr<Optimizer<T>> {
                                  return std::make_unique<SGD<T>>(std::move(p), o.real("lr"), o.real("momentum"), false);
                              }));
    kinds.push_back(optimizer("nesterov", "SGD with Nesterov momentum", {lr(0.01), momentum},
                              []<class T>(const OptionValues& o, std::vector<Parameter<T>*> p) -> std::unique_ptr<Optimizer<T>> {
                                  return std::make_unique<SGD<T>>(std::move(p), o.real("lr"), o.real("momentum"), true);
                              }));
    kinds.push_back(optimizer("rmsprop", "RMSProp",
                              {lr(1e-3), unit_interval_option("rmsprop_rho", 0.9, "rmsprop: decay of the squared-gradient average", true), eps},
                              []<class T>(const OptionValues& o, std::vector<Parameter<T>*> p) -> std::unique_ptr<Optimizer<T>> {
                                  return std::make_unique<RMSProp<T>>(std::move(p), o.real("lr"), o.real("rmsprop_rho"), o.real("eps"));
                              }));
    kinds.push_back(optimizer("adam", "Adam with bias correction",
                              {lr(1e-3), unit_interval_option("beta1", 0.9, "adam: first-moment decay", true),
                               unit_interval_option("beta2", 0.999, "adam: second-moment decay", true), eps},
                              []<class T>(const OptionValues& o, std::vector<Parameter<T>*> p) -> std::unique_ptr<Optimizer<T>> {
                                  return std::make_unique<Adam<T>>(std::move(p), o.real("lr"), o.real("beta1"), o.real("beta2"),
                                                                   o.real("eps"));
                              }));
    return kinds;
}

}  // namespace

const std::vector<OptimizerKind>& optimizer_kinds() {
    static const std::vector<OptimizerKind> kinds = make_optimizer_kinds();
    return kinds;
}
const OptimizerKind& optimizer_kind(const std::string& name) { return detail::find(optimizer_kinds(), name, "optimizer"); }
std::vector<std::string> optimizer_kind_names() { return detail::names(optimizer_kinds()); }

template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerKind& kind, const OptionValues& options,
                                             std::vector<Parameter<T>*> parameters) {
    return kind.factory<T>()(options, std::move(parameters));
}

template std::unique_ptr<Optimizer<float>> make_optimizer<float>(const OptimizerKind&, const OptionValues&, std::vector<Parameter<float>*>);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(const OptimizerKind&, const OptionValues&, std::vector<Parameter<double>*>);

}  // namespace tg::train
