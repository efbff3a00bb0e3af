#include "thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#elif defined(_MSC_VER) && defined(_M_ARM64)
#include <intrin.h>
#endif

namespace reparam {

int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? int(n) : 1;
}

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(_M_X64) || defined(_M_IX86)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#elif defined(_M_ARM64)  // MSVC on Windows ARM64 (no GCC-style asm)
  __yield();
#endif
}

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop_workers(); }

  int size() const { return threads_.load(std::memory_order_relaxed); }

  // Strong guarantee: if the workers cannot all be started (the system is out of
  // threads or memory), the ones that did start are joined, the previous count is
  // restored (as far as the system allows) and the error (std::system_error, or
  // std::bad_alloc) propagates.
  void resize(int threads) {
    std::lock_guard<std::mutex> call(call_mutex_);
    const int previous = threads_.load();
    stop_workers();
    try {
      start_workers(std::max(1, threads));
    } catch (...) {
      stop_workers();
      try {
        start_workers(previous);
      } catch (...) {
        stop_workers();
        start_workers(1);  // no worker: always possible
      }
      throw;
    }
  }

  void run(std::size_t n_tasks, const std::function<void(std::size_t)>& task) {
    std::lock_guard<std::mutex> call(call_mutex_);
    if (threads_ == 1 || n_tasks < 2) {
      for (std::size_t i = 0; i < n_tasks; ++i) task(i);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mutex_);
      task_ = &task;
      n_tasks_ = n_tasks;
      next_.store(0);
      pending_ = n_tasks;
      ++generation_;
    }
    wake_.notify_all();
    drain(task, n_tasks);
    // Wait until every task is done and no worker still holds this call's task.
    std::unique_lock<std::mutex> lk(mutex_);
    done_.wait(lk, [this] { return pending_ == 0 && active_ == 0; });
    task_ = nullptr;
  }

 private:
  void drain(const std::function<void(std::size_t)>& task, std::size_t n_tasks) {
    std::size_t finished = 0;
    for (std::size_t i; (i = next_.fetch_add(1)) < n_tasks;) {
      task(i);
      ++finished;
    }
    if (finished > 0) {
      std::lock_guard<std::mutex> lk(mutex_);
      pending_ -= finished;
      if (pending_ == 0) done_.notify_all();
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      const std::function<void(std::size_t)>* task;
      std::size_t n_tasks;
      {
        // Poll a little before sleeping: calls often come back to back, and waking a
        // sleeping thread costs tens of microseconds.
        for (int spin = 0; spin < kSpins && generation_.load(std::memory_order_acquire) == seen; ++spin)
          cpu_relax();
        std::unique_lock<std::mutex> lk(mutex_);
        wake_.wait(lk, [&] { return stopping_ || generation_.load() != seen; });
        if (stopping_) return;
        seen = generation_.load();
        if (task_ == nullptr) continue;  // woke after that call had finished
        task = task_;
        n_tasks = n_tasks_;
        ++active_;
      }
      drain(*task, n_tasks);
      std::lock_guard<std::mutex> lk(mutex_);
      --active_;
      if (active_ == 0) done_.notify_all();
    }
  }

  void start_workers(int threads) {
    stopping_ = false;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
    threads_.store(threads);  // only once every worker runs
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    threads_.store(1);
  }

  std::mutex call_mutex_;  // one parallel call at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(std::size_t)>* task_ = nullptr;
  std::size_t n_tasks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::size_t pending_ = 0;
  int active_ = 0;  // workers inside drain()
  std::atomic<std::uint64_t> generation_{0};
  static constexpr int kSpins = 20000;
  bool stopping_ = false;
  std::atomic<int> threads_{1};
};

int initial_threads() {
  // REPARAM_NUM_THREADS is read by the Python layer, which calls set_num_threads.
  return available_cores();
}

Pool& pool() {
  // Leaked on purpose: joining threads during interpreter shutdown can deadlock.
  static Pool* p = new Pool(initial_threads());
  return *p;
}

}  // namespace

int get_num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n != pool().size()) pool().resize(n);
}

void parallel_for(std::size_t n_tasks, const std::function<void(std::size_t)>& task) { pool().run(n_tasks, task); }

void parallel_ranges(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n < kParallelThreshold || get_num_threads() == 1) {
    fn(0, n);
    return;
  }
  const std::size_t tasks = (n + kTaskSize - 1) / kTaskSize;
  parallel_for(tasks, [&](std::size_t i) {
    const std::size_t off = i * kTaskSize;
    fn(off, std::min(kTaskSize, n - off));
  });
}

}  // namespace reparam
