#pragma once
// The Communicator of data-parallel training (tapegrad/train/data_parallel.hpp) over MPI, for
// runs started by `mpirun -np N` on one machine or many. Built only when CMake finds MPI
// (target tapegrad::mpi); the rest of the library needs no MPI.
#include <tapegrad/train/data_parallel.hpp>

namespace tg::mpi {

/// Whether this process was started by an MPI launcher (mpirun, srun): then MPI_Init joins
/// the job; otherwise a run stays a plain single process.
bool launched_by_mpi();

/// MPI_COMM_WORLD. Initialises MPI on construction (MPI_Init_thread, funneled) and finalises
/// it on destruction; one per process.
class Communicator final : public train::Communicator {
public:
    Communicator(int& argc, char**& argv);
    ~Communicator() override;
    Communicator(const Communicator&) = delete;
    Communicator& operator=(const Communicator&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void sum(double* data, std::size_t n) override;  ///< MPI_Allreduce in place, MPI_SUM
    void sum(float* data, std::size_t n) override;
    void broadcast(void* data, std::size_t bytes, int root) override;  ///< MPI_Bcast
    [[noreturn]] void abort(int code) override;                       ///< MPI_Abort

private:
    int rank_ = 0, size_ = 1;
};

}  // namespace tg::mpi
