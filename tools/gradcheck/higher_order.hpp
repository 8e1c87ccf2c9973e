#pragma once
// Gradients of gradients, checked per case:
//  * rule_disagreement: the gradient that the ops' rules in ops record (grad with
//    create_graph) against the fast backward's, as ||rule - fast|| / ||fast|| over the case's
//    parameters (the worst one). Must be rounding only: 1e-12.
//  * differentiated(case, n): the case's loss replaced by phi = sum_k <V_k, dL/dtheta_k> with
//    fixed random directions V (n times over), computed with grad(create_graph). gradcheck of
//    phi compares backward through the recorded gradient (second derivatives; third for n = 2)
//    with central differences of phi, that is of the first-order graph gradient itself.
#include "cases.hpp"

#include <cstdint>

namespace tg::gradcheck_cases {

double rule_disagreement(Instance<D>& in);

// `jacobian` (the stacked per-sample Jacobian) of a two-layer encoder against central differences,
// and, as a negative control, the same pass missing one output unit: normwise relative errors.
struct JacobianCheck {
    double helper_error = 0, control_error = 0;
};
JacobianCheck check_jacobian();
Instance<D> differentiated(const Instance<D>& base, int times, std::uint64_t seed);

}  // namespace tg::gradcheck_cases
