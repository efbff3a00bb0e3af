#include "thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if !defined(_WIN32)
#include <pthread.h>
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

using SlotTask = std::function<void(std::size_t, std::size_t)>;

// Set on a thread while it takes part in a parallel call (a worker, or a caller inside
// run()): a fork from there cannot wait for the call to end (see before_fork).
thread_local bool t_in_call = false;

class Pool {
 public:
  // start: start the workers now; else on the first parallel call (a forked child's pool).
  Pool(int threads, bool start) {
    if (start) resize(threads);
    else threads_.store(std::max(1, threads));
  }
  // Never destroyed: see pool().

  // The configured count: the number of threads the next parallel call runs on.
  int size() const { return threads_.load(std::memory_order_relaxed); }

  // Strong guarantee: if the workers cannot all be started (the system is out of
  // threads or memory), the ones that did start are joined, the previous count is
  // restored (as far as the system allows) and the error (std::system_error, or
  // std::bad_alloc) propagates.
  void resize(int threads) {
    std::lock_guard<std::mutex> call(call_mutex_);
    const int previous = threads_.load();
    started_ = true;
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

  // Exception barrier: a task that throws stops the others from taking new tasks; once
  // no thread runs a task of this call (none may still use `task` after we return), the
  // first exception is rethrown here.
  void run(std::size_t n_tasks, std::size_t max_slots, const SlotTask& task) {
    std::lock_guard<std::mutex> call(call_mutex_);
    const InCall in_call;
    start_if_needed();
    const std::size_t threads = std::min<std::size_t>(std::size_t(threads_.load()), std::max<std::size_t>(1, max_slots));
    if (threads == 1 || n_tasks < 2) {
      for (std::size_t i = 0; i < n_tasks; ++i) task(i, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mutex_);
      task_ = &task;
      n_tasks_ = n_tasks;
      slots_ = threads;
      next_.store(0);
      failed_.store(false);
      ++generation_;
    }
    wake_.notify_all();
    drain(task, n_tasks, 0);
    // Every task is taken (or the call failed); wait until no worker still holds it.
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lk(mutex_);
      done_.wait(lk, [this] { return active_ == 0; });
      task_ = nullptr;
      std::swap(error, error_);
    }
    if (error) std::rethrow_exception(error);
  }

  // Fork handlers (see before_fork): no parallel call runs and no worker holds mutex_
  // between lock_for_fork and unlock_after_fork.
  void lock_for_fork() {
    call_mutex_.lock();
    mutex_.lock();
  }
  void unlock_after_fork() {
    mutex_.unlock();
    call_mutex_.unlock();
  }

 private:
  struct InCall {
    const bool outer = t_in_call;
    InCall() { t_in_call = true; }
    ~InCall() { t_in_call = outer; }
  };

  void drain(const SlotTask& task, std::size_t n_tasks, std::size_t slot) {
    for (std::size_t i; !failed_.load(std::memory_order_relaxed) && (i = next_.fetch_add(1)) < n_tasks;) {
      try {
        task(i, slot);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mutex_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true);
      }
    }
  }

  void worker_loop(std::size_t slot) {
    t_in_call = true;
    std::uint64_t seen = 0;
    for (;;) {
      const SlotTask* task;
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
        // woke after that call had finished, or the call uses fewer threads
        if (task_ == nullptr || slot >= slots_) continue;
        task = task_;
        n_tasks = n_tasks_;
        ++active_;
      }
      drain(*task, n_tasks, slot);
      std::lock_guard<std::mutex> lk(mutex_);
      --active_;
      if (active_ == 0) done_.notify_all();
    }
  }

  // A forked child's pool starts its workers here, under call_mutex_. If not all can
  // start, the call runs on those that did (the same values) and the count says so.
  void start_if_needed() {
    if (started_) return;
    started_ = true;
    const int threads = threads_.load();
    try {
      start_workers(threads);
    } catch (...) {
      threads_.store(int(workers_.size()) + 1);
    }
  }

  void start_workers(int threads) {
    stopping_ = false;
    workers_.reserve(std::size_t(threads - 1));
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(std::size_t(i)); });
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
  std::vector<std::thread> workers_;  // worker i - 1 runs the tasks of slot i
  bool started_ = false;              // the workers for threads_ were started (under call_mutex_)
  const SlotTask* task_ = nullptr;
  std::size_t n_tasks_ = 0;
  std::size_t slots_ = 0;  // threads taking part in the current call (the caller is slot 0)
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;  // the first exception of the current call
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

// The pool (rebuilt in place in a forked child: after_fork_child).
std::atomic<Pool*> g_pool{nullptr};

#if !defined(_WIN32)
// fork() copies only the forking thread. Before it, wait for any parallel call to end
// and for the workers to let go of mutex_, so the parent keeps a consistent pool; this
// needs no GIL (the pool never takes it), so a forking thread holding the GIL cannot
// deadlock with a caller that released it. A fork from inside a parallel call (a task
// that forks) cannot wait for that call: then nothing is taken.
bool g_fork_locked = false;  // only the forking thread reads or writes it

void before_fork() {
  Pool* p = g_pool.load();
  if (p == nullptr || t_in_call) return;
  p->lock_for_fork();
  g_fork_locked = true;
}

void after_fork_parent() {
  if (!g_fork_locked) return;
  g_fork_locked = false;
  g_pool.load()->unlock_after_fork();
}

// In the child the workers do not exist, and the pool's mutexes and condition variables
// may still record them (as waiters or owners): using them could hang, and joining the
// threads would. So a new pool with the same count is built in the old one's storage,
// without running the old one's destructor (its worker list is leaked) and without
// allocating (an allocator may hold its locks around fork); it starts its workers on
// its first parallel call.
void after_fork_child() {
  g_fork_locked = false;
  t_in_call = false;
  Pool* p = g_pool.load();
  if (p == nullptr) return;
  const int threads = p->size();
  new (p) Pool(threads, false);
}
#endif

Pool& pool() {
  // Leaked on purpose: joining threads during interpreter shutdown can deadlock.
  static const bool created = [] {
    g_pool.store(new Pool(initial_threads(), true));
#if !defined(_WIN32)
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
#endif
    return true;
  }();
  (void)created;
  return *g_pool.load();
}

}  // namespace

int get_num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n != pool().size()) pool().resize(n);
}

void parallel_for_slots(std::size_t n_tasks, std::size_t slots, const SlotTask& task) {
  pool().run(n_tasks, slots, task);
}

void parallel_for(std::size_t n_tasks, const std::function<void(std::size_t)>& task) {
  pool().run(n_tasks, std::size_t(-1), [&](std::size_t i, std::size_t) { task(i); });
}

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
