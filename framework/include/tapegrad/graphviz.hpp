#pragma once
// The recorded graph as Graphviz DOT: ops as ellipses labelled with their output shape,
// parameters as filled boxes, data as plain boxes (data marked as a variable: blue). A tied weight shows as one box with two
// outgoing edges.
#include "tapegrad/tape.hpp"

#include <sstream>
#include <string>

namespace tg {

template <class T>
std::string to_dot(const Tape<T>& tape, const std::string& title = "tape") {
    std::ostringstream out;
    out << "digraph \"" << title << "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
    for (std::size_t i = 0; i < tape.size(); ++i) {
        const Node<T>& n = tape.node(i);
        out << "  n" << i << " [label=\"" << n.op << "\\n" << n.shape[0] << "x" << n.shape[1];
        switch (n.kind) {
            case NodeKind::parameter:
                out << (n.requires_grad ? "\\nparameter" : "\\nparameter (frozen)")
                    << "\", shape=box, style=filled, fillcolor=\"#ffd27f\"];\n";
                break;
            case NodeKind::constant: out << "\", shape=box];\n"; break;
            case NodeKind::variable: out << "\\nvariable\", shape=box, style=filled, fillcolor=\"#bfe3ff\"];\n"; break;
            case NodeKind::op:
                out << "\", shape=ellipse" << (n.requires_grad ? "" : ", style=dashed") << "];\n";
                break;
        }
        for (std::size_t k = 0; k < n.input_count; ++k) out << "  n" << n.inputs[k]->index << " -> n" << i << ";\n";
    }
    out << "}\n";
    return out.str();
}

}  // namespace tg
