// A persistent pool of worker threads. Work is a count of independent tasks; the
// calling thread takes part, and which thread runs a task never changes its result
// because every task computes a fixed range of stream positions.
#pragma once

#include <cstddef>
#include <functional>

namespace reparam {

// Threads a parallel call may use, including the caller (>= 1).
int get_num_threads();
void set_num_threads(int n);
// Cores this process may run on (the default thread count).
int available_cores();

// Runs task(i) for i in [0, n_tasks) on up to get_num_threads() threads and returns
// when all are done. Calls from several threads at once are serialized. If a task
// throws, no task starts after it, and once every started task has finished the first
// exception is rethrown on the calling thread. Safe across fork(): a forked child gets
// a new pool with the same thread count.
void parallel_for(std::size_t n_tasks, const std::function<void(std::size_t)>& task);

// parallel_for on at most `slots` threads, running task(i, slot): slot in [0, slots)
// names the thread (0 is the caller) and no two tasks of one slot run at once, so the
// tasks may use scratch space the caller allocated per slot (kernels do not allocate).
// Which slot runs a task must not change its result.
void parallel_for_slots(std::size_t n_tasks, std::size_t slots,
                        const std::function<void(std::size_t, std::size_t)>& task);

// Positions per task and the smallest request worth splitting (measured, see README).
inline constexpr std::size_t kTaskSize = std::size_t(1) << 15;
inline constexpr std::size_t kParallelThreshold = std::size_t(1) << 16;

// Splits [0, n) into tasks of kTaskSize and runs fn(offset, count) for each; small n
// stay on the calling thread.
void parallel_ranges(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace reparam
