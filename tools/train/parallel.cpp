#include "parallel.hpp"

#include <tapegrad/train/options.hpp>

#ifdef TAPEGRAD_WITH_MPI
#include <tapegrad/distributed/mpi.hpp>
#endif

#include <cstdint>
#include <cstring>
#include <vector>

namespace train_tool {
namespace tt = tg::train;

Processes::Processes([[maybe_unused]] int& argc, [[maybe_unused]] char**& argv) : world_(&tt::single_process()) {
#ifdef TAPEGRAD_WITH_MPI
    if (tg::mpi::launched_by_mpi()) {
        owned_ = std::make_unique<tg::mpi::Communicator>(argc, argv);
        world_ = owned_.get();
    }
#endif
}

Processes::~Processes() = default;

namespace {

// FNV-1a over the bytes of a matrix: the same data gives the same number on every machine.
std::uint64_t checksum(const tg::Matrix<float>& m) {
    std::uint64_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const unsigned char*>(m.data());
    for (std::size_t i = 0, n = m.size() * sizeof(float); i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// Rank 0's text, on every rank.
std::string from_rank_zero(tt::Communicator& world, std::string text) {
    double length = double(world.rank() == 0 ? text.size() : 0);
    world.sum(&length, 1);  // only rank 0 contributes: its length
    text.resize(std::size_t(length));
    world.broadcast(text.data(), text.size(), 0);
    return text;
}

}  // namespace

void check_ranks_agree(tt::Communicator& world, const tt::RunConfig& config, const tt::Data& data) {
    if (world.size() == 1) return;
    const nlohmann::json mine{{"config", tt::to_json(config)},
                              {"data", {{"train", {data.train.shape()[0], data.train.shape()[1], checksum(data.train)}},
                                        {"test", {data.test.shape()[0], data.test.shape()[1], checksum(data.test)}}}}};
    const nlohmann::json leader = nlohmann::json::parse(from_rank_zero(world, mine.dump()));
    std::string difference;
    if (leader != mine) {
        const nlohmann::json patch = nlohmann::json::diff(leader, mine);
        const nlohmann::json& first = patch.at(0);
        const nlohmann::json::json_pointer where(first.at("path").get<std::string>());
        difference = "rank " + std::to_string(world.rank()) + " has " + first.at("path").get<std::string>() + " = " +
                     (mine.contains(where) ? mine.at(where).dump() : std::string("(absent)")) + " where rank 0 has " +
                     (leader.contains(where) ? leader.at(where).dump() : std::string("(absent)")) +
                     " (data entries are rows, columns and a checksum)";
    }
    const bool any = world.any(!difference.empty());
    if (!any) return;
    throw tt::UsageError(difference.empty() ? "another rank's configuration or data differs from rank 0's (see its message)"
                                            : "the ranks disagree: " + difference);
}

}  // namespace train_tool
