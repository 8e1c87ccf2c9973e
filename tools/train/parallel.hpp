#pragma once
// `train` under mpirun: the processes of the job, and the check that they agree on what they
// train before any of them starts.
#include <tapegrad/train/config.hpp>
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/data_parallel.hpp>

#include <memory>
#include <string>

namespace train_tool {

// The job's processes: MPI's world when started by an MPI launcher (and built with MPI),
// else the single process. Lives until the end of main (MPI_Finalize).
class Processes {
public:
    Processes(int& argc, char**& argv);
    ~Processes();
    tg::train::Communicator& world() { return *world_; }
    bool parallel() const { return world_->size() > 1; }
    bool leader() const { return world_->rank() == 0; }

private:
    std::unique_ptr<tg::train::Communicator> owned_;
    tg::train::Communicator* world_;
};

// Throws UsageError on every rank if any rank's configuration or data differs from rank 0's;
// the message names the difference (the first differing option, or the data's shape or
// checksum). A no-op for one process.
void check_ranks_agree(tg::train::Communicator& world, const tg::train::RunConfig& config, const tg::train::Data& data);

}  // namespace train_tool
