// CPU emulator of a CUDA device (see include/cuda_runtime.h): the scheduler
// that runs a block's threads as fibers, warp collectives, the runtime API and
// the device-memory checks.
//
// Environment:
//   JOBBERT_EMU_MEMORY_MB   device memory (default 4096); cudaMalloc beyond it fails
//   JOBBERT_EMU_DEVICES=0   no device: cudaGetDeviceCount gives 0 and cudaErrorNoDevice
//   JOBBERT_EMU_SCHEDULE=reverse   run blocks and threads in reverse order (run the
//                           tests both ways: a missing __syncthreads shows in one)
//   JOBBERT_EMU_STACK_KB    stack of each emulated thread (default 256)
//   JOBBERT_EMU_WATCHDOG_S  abort when one emulated thread runs this long without
//                           reaching a barrier: a spin-wait on another thread
//                           never ends here (default 120, 0 = off)
#include <cuda_runtime.h>

#include <elf.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

struct CUstream_st {
  unsigned int flags;
};
struct CUevent_st {
  unsigned int flags;
  bool recorded;
  std::chrono::steady_clock::time_point time;
};

namespace emu {
namespace {

using detail::BlockOp;
using detail::Op;

constexpr size_t kRedZone = 256;
constexpr size_t kDefaultSharedLimit = 48 * 1024;
constexpr size_t kSharedOptinLimit = 232448;  // H100
constexpr size_t kSharedPerSM = 233472;
constexpr int kMultiProcessors = 8;

std::string format(const char* fmt, va_list args) {
  char buf[4096];
  std::vsnprintf(buf, sizeof buf, fmt, args);
  return buf;
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::string s = format(fmt, args);
  va_end(args);
  return s;
}

// ---------------------------------------------------------------- names of code addresses
// The loaded object holding `addr`: its file and the address addr2line wants.
bool findObject(const void* addr, std::string* file, uintptr_t* offset) {
  struct Query {
    uintptr_t addr;
    std::string file;
    uintptr_t offset;
    bool found;
  } q{reinterpret_cast<uintptr_t>(addr), "", 0, false};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        Query& q = *static_cast<Query*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && q.addr >= start && q.addr < start + ph.p_memsz) {
            q.file = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "";
            q.offset = q.addr - info->dlpi_addr;
            q.found = true;
            return 1;
          }
        }
        return 0;
      },
      &q);
  if (q.file.empty()) {  // the main program: its path, which addr2line's own /proc/self/exe is not
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    q.file = n > 0 ? std::string(path, size_t(n)) : "";
  }
  *file = q.file;
  *offset = q.offset;
  return q.found && !q.file.empty();
}

// "ns::kernel(float*, int)" for a function's address, or the function a return
// address is in (the outermost inlined frame outside the emulator's headers),
// by addr2line: it knows static functions, and file:line with -g. Only used on
// failure paths.
std::string describeCode(const void* addr, bool isReturnAddress) {
  const void* lookup = isReturnAddress ? static_cast<const char*>(addr) - 1 : addr;
  std::string file;
  uintptr_t offset = 0;
  if (!findObject(lookup, &file, &offset)) return format("code at %p", addr);
  std::string command =
      format("addr2line -f -C -i -e '%s' 0x%lx 2>/dev/null", file.c_str(), static_cast<unsigned long>(offset));
  std::vector<std::string> lines;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char line[2048];
    while (std::fgets(line, sizeof line, pipe)) lines.emplace_back(line, std::strcspn(line, "\n"));
    pclose(pipe);
  }
  // Pairs of lines: function, file:line; the first pair is the innermost frame.
  for (size_t i = 0; i + 1 < lines.size(); i += 2) {
    std::string function = lines[i], at = lines[i + 1];
    if (function.empty() || function == "??") break;
    if (at.find("/emu/include/") != std::string::npos && i + 3 < lines.size()) continue;
    if (at.size() > 2 && at.compare(at.size() - 2, 2, ":?") == 0) at.resize(at.size() - 2);
    if (!at.empty() && at.compare(0, 2, "??") != 0) function += " at " + at;
    return function;
  }
  return format("code at %p in %s", addr, file.c_str());
}

// ---------------------------------------------------------------- errors
thread_local cudaError_t lastError = cudaSuccess;

cudaError_t record(cudaError_t error) {
  if (error != cudaSuccess) lastError = error;
  return error;
}

// ---------------------------------------------------------------- device memory
struct Allocation {
  unsigned char* base;  // head red zone, then the user's bytes, then the tail red zone
  size_t size;
  size_t total;
  size_t id;
  const void* site;  // return address of the cudaMalloc call
  unsigned char* user() const { return base + kRedZone; }
};

std::mutex memoryMutex;
std::map<uintptr_t, Allocation> allocations;  // by base
std::map<uintptr_t, size_t> hostAllocations;  // cudaMallocHost: base, size
std::set<cudaStream_t> streams;
std::set<cudaEvent_t> events;
size_t memoryUsed = 0;
size_t nextAllocationId = 1;

size_t memoryLimit() {
  const char* env = std::getenv("JOBBERT_EMU_MEMORY_MB");
  long long mb = env && *env ? std::atoll(env) : 4096;
  return static_cast<size_t>(mb < 0 ? 0 : mb) << 20;
}

// Red zones hold 0xFFFFFF7F words: NaN read as float, double or bf16.
inline unsigned char redZoneByte(const unsigned char* p) {
  return (reinterpret_cast<uintptr_t>(p) & 3) == 3 ? 0x7f : 0xff;
}
void fillRedZone(unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = redZoneByte(p + i);
}
// Offset of the first modified byte, or -1.
long long firstModified(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != redZoneByte(p + i)) return static_cast<long long>(i);
  return -1;
}

std::string describeAllocation(const Allocation& a) {
  return format("device buffer #%zu (%zu bytes at %p, allocated in %s)", a.id, a.size, static_cast<void*>(a.user()),
                describeCode(a.site, true).c_str());
}

// Aborts when a red zone of `a` was written; `when` says where we looked.
void checkRedZones(const Allocation& a, const std::string& when) {
  long long head = firstModified(a.base, kRedZone);
  if (head >= 0) {
    std::fprintf(stderr,
                 "jobbert CUDA emulator: device buffer underrun: %s was written %lld bytes before its start; %s\n",
                 describeAllocation(a).c_str(), static_cast<long long>(kRedZone) - head, when.c_str());
    std::abort();
  }
  long long tail = firstModified(a.user() + a.size, a.total - kRedZone - a.size);
  if (tail >= 0) {
    std::fprintf(stderr, "jobbert CUDA emulator: device buffer overrun: %s was written at byte %lld past its end; %s\n",
                 describeAllocation(a).c_str(), tail, when.c_str());
    std::abort();
  }
}

// The allocation whose memory, red zones included, holds p. Caller holds memoryMutex.
Allocation* findAllocation(const void* p) {
  uintptr_t address = reinterpret_cast<uintptr_t>(p);
  auto it = allocations.upper_bound(address);
  if (it == allocations.begin()) return nullptr;
  --it;
  return address < it->first + it->second.total ? &it->second : nullptr;
}

// Checks that [p, p + n) is inside one device buffer (or, when !mustBeDevice,
// is host memory). Out of bounds aborts: it is a bug, and a GPU may not notice.
cudaError_t checkRange(const char* function, const void* p, size_t n, bool mustBeDevice) {
  if (n == 0) return cudaSuccess;
  std::lock_guard<std::mutex> lock(memoryMutex);
  Allocation* a = findAllocation(p);
  if (!a) return mustBeDevice ? cudaErrorInvalidValue : cudaSuccess;
  const unsigned char* begin = static_cast<const unsigned char*>(p);
  if (begin < a->user() || begin + n > a->user() + a->size) {
    std::fprintf(stderr, "jobbert CUDA emulator: %s of %zu bytes at offset %lld of %s is out of bounds\n", function, n,
                 static_cast<long long>(begin - a->user()), describeAllocation(*a).c_str());
    std::abort();
  }
  return cudaSuccess;
}

// Checks a copy of dstBytes / srcBytes spans: the device side(s) of `kind`
// must be device buffers, and no device buffer may be overrun.
cudaError_t checkCopy(const char* function, const void* dst, size_t dstBytes, const void* src, size_t srcBytes,
                      cudaMemcpyKind kind) {
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return cudaErrorInvalidMemcpyDirection;
  if ((dstBytes && !dst) || (srcBytes && !src)) return cudaErrorInvalidValue;
  bool dstDevice = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  bool srcDevice = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (cudaError_t err = checkRange(function, dst, dstBytes, dstDevice); err != cudaSuccess) return err;
  return checkRange(function, src, srcBytes, srcDevice);
}

cudaError_t allocate(void** devPtr, size_t size, const void* site) {
  if (!devPtr) return cudaErrorInvalidValue;
  *devPtr = nullptr;
  if (size == 0) return cudaSuccess;
  std::lock_guard<std::mutex> lock(memoryMutex);
  if (size > memoryLimit() - std::min(memoryLimit(), memoryUsed)) return cudaErrorMemoryAllocation;
  size_t total = kRedZone + (size + kRedZone - 1) / kRedZone * kRedZone + kRedZone;
  auto* base = static_cast<unsigned char*>(std::aligned_alloc(kRedZone, total));
  if (!base) return cudaErrorMemoryAllocation;
  Allocation a{base, size, total, nextAllocationId++, site};
  fillRedZone(base, kRedZone);
  std::memset(a.user(), 0xff, size);  // NaN: reading memory nobody wrote shows
  fillRedZone(a.user() + size, total - kRedZone - size);
  allocations.emplace(reinterpret_cast<uintptr_t>(base), a);
  memoryUsed += size;
  *devPtr = a.user();
  return cudaSuccess;
}

cudaError_t release(void* devPtr) {
  if (!devPtr) return cudaSuccess;
  std::lock_guard<std::mutex> lock(memoryMutex);
  Allocation* a = findAllocation(devPtr);
  if (!a || a->user() != devPtr) return cudaErrorInvalidValue;
  checkRedZones(*a, "found by cudaFree");
  Allocation copy = *a;
  allocations.erase(reinterpret_cast<uintptr_t>(copy.base));
  memoryUsed -= copy.size;
  std::free(copy.base);
  return cudaSuccess;
}

bool validStream(cudaStream_t stream) {
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread) return true;
  std::lock_guard<std::mutex> lock(memoryMutex);
  return streams.count(stream) != 0;
}

bool validEvent(cudaEvent_t event) {
  std::lock_guard<std::mutex> lock(memoryMutex);
  return event && events.count(event) != 0;
}

// ---------------------------------------------------------------- fibers
// Context switch: a few instructions on x86-64, ucontext (a syscall per
// switch) elsewhere.
#if defined(__x86_64__) && !defined(JOBBERT_EMU_UCONTEXT)
#define EMU_FAST_SWITCH 1
extern "C" void jobbert_emu_switch(void** saveSp, void* nextSp);
asm(R"(
  .text
  .globl jobbert_emu_switch
  .hidden jobbert_emu_switch
  .type jobbert_emu_switch, @function
jobbert_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size jobbert_emu_switch, .-jobbert_emu_switch
)");
#endif

enum class State : unsigned char { kRunnable, kAtBlockBarrier, kAtWarpCollective, kDone };

struct Fiber {
  unsigned char* guard = nullptr;  // PROT_NONE page below the stack
  unsigned char* stack = nullptr;
  size_t stackSize = 0;
#ifdef EMU_FAST_SWITCH
  void* sp = nullptr;
#else
  ucontext_t context;
#endif
  State state = State::kDone;
  // The pending collective or barrier, and its result.
  Op op = Op::kSyncWarp;
  BlockOp blockOp = BlockOp::kSync;
  unsigned mask = 0;
  int arg = 0;
  int width = 32;
  bool isSigned = false;
  unsigned long long value = 0;
  unsigned long long result = 0;
  int pred = 0;
};

struct Run {
  const void* kernel;
  const char* signature;
  detail::KernelBody body;
  void* state;
  dim3 grid, block;
  unsigned threads = 0;
  int current = -1;  // fiber running now, -1 = the scheduler
  unsigned char* shared = nullptr;
  size_t sharedBytes = 0;
#ifdef EMU_FAST_SWITCH
  void* schedulerSp = nullptr;
#else
  ucontext_t scheduler;
#endif
};

std::mutex launchMutex;
std::vector<std::unique_ptr<Fiber>> fibers;  // reused across blocks and launches
Run* run = nullptr;                          // the launch in progress, under launchMutex
thread_local bool inLaunch = false;
std::map<const void*, int> maxDynamicShared;  // cudaFuncSetAttribute, under memoryMutex

size_t stackBytes() {
  const char* env = std::getenv("JOBBERT_EMU_STACK_KB");
  long kb = env && *env ? std::atol(env) : 256;
  return static_cast<size_t>(std::max(kb, 32L)) << 10;
}

std::string kernelName(const Run& r) {
  std::string name = describeCode(r.kernel, false);
  if (name.rfind("code at ", 0) == 0) {  // no symbol: add the parameter types
    const char* params = std::strstr(r.signature, "Params = {");
    if (params) name += std::string(" ") + std::string(params, std::strcspn(params, "}") + 1);
  }
  return name;
}

uint3 threadOf(const Run& r, unsigned linear) {
  return uint3{linear % r.block.x, linear / r.block.x % r.block.y, linear / (r.block.x * r.block.y)};
}

// "in kernel K, block (x,y,z)[, thread (x,y,z)]"
std::string where(const Run& r, bool withThread) {
  std::string s = format("in kernel %s, block (%u,%u,%u)", kernelName(r).c_str(), blockIdx.x, blockIdx.y, blockIdx.z);
  if (withThread && r.current >= 0) {
    uint3 t = threadOf(r, unsigned(r.current));
    s += format(", thread (%u,%u,%u) (warp %d, lane %d)", t.x, t.y, t.z, r.current / 32, r.current % 32);
  }
  return s;
}

[[noreturn]] void kernelFatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void kernelFatal(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::string message = format(fmt, args);
  va_end(args);
  if (run) message += " " + where(*run, true);
  std::fprintf(stderr, "jobbert CUDA emulator: %s\n", message.c_str());
  std::abort();
}

Fiber& self() {
  if (!inLaunch || !run || run->current < 0)
    kernelFatal("a device function (barrier, warp collective, dynamic shared memory) was called outside a kernel");
  return *fibers[run->current];
}

void switchToScheduler(Fiber& f) {
#ifdef EMU_FAST_SWITCH
  jobbert_emu_switch(&f.sp, run->schedulerSp);
#else
  swapcontext(&f.context, &run->scheduler);
#endif
}

void switchToFiber(Fiber& f) {
#ifdef EMU_FAST_SWITCH
  jobbert_emu_switch(&run->schedulerSp, f.sp);
#else
  swapcontext(&run->scheduler, &f.context);
#endif
}

void fiberMain() {
  run->body(run->state);
  Fiber& f = self();
  f.state = State::kDone;
  switchToScheduler(f);
  std::abort();  // a finished fiber is never resumed
}

void ensureFibers(unsigned count) {
  size_t size = stackBytes();
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  while (fibers.size() < count) fibers.push_back(std::make_unique<Fiber>());
  for (unsigned i = 0; i < count; ++i) {
    Fiber& f = *fibers[i];
    if (f.stack && f.stackSize == size) continue;
    if (f.guard) munmap(f.guard, f.stackSize + page);
    void* m = mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) kernelFatal("cannot map %zu bytes for an emulated thread's stack", size);
    mprotect(m, page, PROT_NONE);
    f.guard = static_cast<unsigned char*>(m);
    f.stack = f.guard + page;
    f.stackSize = size;
  }
}

void startFiber(Fiber& f) {
  f.state = State::kRunnable;
#ifdef EMU_FAST_SWITCH
  // The frame jobbert_emu_switch pops: MXCSR/x87 control word, six callee-saved
  // registers, then the "return address" fiberMain, entered with rsp = 8 mod 16.
  auto* top = reinterpret_cast<uint64_t*>(reinterpret_cast<uintptr_t>(f.stack + f.stackSize) & ~uintptr_t(15));
  top[-1] = 0;  // fiberMain's own return address: it never returns
  top[-2] = reinterpret_cast<uint64_t>(&fiberMain);
  for (int i = 3; i <= 8; ++i) top[-i] = 0;
  top[-9] = 0x1f80ull | (0x037full << 32);
  f.sp = top - 9;
#else
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack;
  f.context.uc_stack.ss_size = f.stackSize;
  f.context.uc_link = nullptr;
  makecontext(&f.context, &fiberMain, 0);
#endif
}

// ---------------------------------------------------------------- barriers and collectives
const char* opName(Op op) {
  switch (op) {
    case Op::kSyncWarp: return "__syncwarp";
    case Op::kShflIdx: return "__shfl_sync";
    case Op::kShflUp: return "__shfl_up_sync";
    case Op::kShflDown: return "__shfl_down_sync";
    case Op::kShflXor: return "__shfl_xor_sync";
    case Op::kBallot: return "__ballot_sync";
    case Op::kAny: return "__any_sync";
    case Op::kAll: return "__all_sync";
    case Op::kReduceAdd: return "__reduce_add_sync";
    case Op::kReduceMin: return "__reduce_min_sync";
    case Op::kReduceMax: return "__reduce_max_sync";
    case Op::kReduceAnd: return "__reduce_and_sync";
    case Op::kReduceOr: return "__reduce_or_sync";
    case Op::kReduceXor: return "__reduce_xor_sync";
    case Op::kMatchAny: return "__match_any_sync";
    case Op::kMatchAll: return "__match_all_sync";
  }
  return "?";
}

std::string describeWait(const Fiber& f) {
  switch (f.state) {
    case State::kRunnable: return "runnable";
    case State::kDone: return "exited";
    case State::kAtBlockBarrier: return "waits at __syncthreads()";
    case State::kAtWarpCollective: return format("waits at %s(mask 0x%08x)", opName(f.op), f.mask);
  }
  return "?";
}

// Computes the results of a complete collective of the warp at `base`, whose
// lanes `live` (a mask) take part and resumes them.
void completeCollective(unsigned base, unsigned live) {
  constexpr unsigned long long kPoison = ~0ull;  // a lane that has no value: NaN, -1
  Fiber* lane[32] = {};
  for (unsigned l = 0; l < 32; ++l)
    if (live >> l & 1) lane[l] = fibers[base + l].get();
  auto valueOf = [&](unsigned l) { return l < 32 && lane[l] ? lane[l]->value : kPoison; };
  const Fiber& first = *lane[__builtin_ctz(live)];
  unsigned long long common = 0;
  switch (first.op) {
    case Op::kBallot:
    case Op::kAny:
    case Op::kAll: {
      unsigned ballot = 0;
      for (unsigned l = 0; l < 32; ++l)
        if (lane[l] && lane[l]->value) ballot |= 1u << l;
      common = first.op == Op::kBallot ? ballot : first.op == Op::kAny ? ballot != 0 : ballot == live;
      break;
    }
    case Op::kReduceAdd:
    case Op::kReduceMin:
    case Op::kReduceMax:
    case Op::kReduceAnd:
    case Op::kReduceOr:
    case Op::kReduceXor: {
      bool firstValue = true;
      long long s = 0;
      unsigned long long u = 0;
      for (unsigned l = 0; l < 32; ++l) {
        if (!lane[l]) continue;
        unsigned v = unsigned(lane[l]->value);
        if (firstValue) {
          s = int(v), u = v, firstValue = false;
          continue;
        }
        switch (first.op) {
          case Op::kReduceAdd: u += v; break;
          case Op::kReduceMin: s = std::min<long long>(s, int(v)), u = std::min<unsigned long long>(u, v); break;
          case Op::kReduceMax: s = std::max<long long>(s, int(v)), u = std::max<unsigned long long>(u, v); break;
          case Op::kReduceAnd: u &= v; break;
          case Op::kReduceOr: u |= v; break;
          default: u ^= v; break;
        }
      }
      bool signedResult = first.isSigned && (first.op == Op::kReduceMin || first.op == Op::kReduceMax);
      common = signedResult ? static_cast<unsigned long long>(static_cast<unsigned>(s)) : (u & 0xffffffffull);
      break;
    }
    default: break;
  }
  for (unsigned l = 0; l < 32; ++l) {
    Fiber* f = lane[l];
    if (!f) continue;
    unsigned width = unsigned(f->width), segment = l & ~(width - 1), src = l;
    switch (f->op) {
      case Op::kShflIdx: src = segment + (unsigned(f->arg) & (width - 1)); break;
      case Op::kShflUp: src = (l - segment) < unsigned(f->arg) ? l : l - unsigned(f->arg); break;
      case Op::kShflDown: src = (l - segment) + unsigned(f->arg) >= width ? l : l + unsigned(f->arg); break;
      case Op::kShflXor:
        src = l ^ unsigned(f->arg);
        src = src >= segment + width ? l : src;
        break;
      default: break;
    }
    switch (f->op) {
      case Op::kShflIdx:
      case Op::kShflUp:
      case Op::kShflDown:
      case Op::kShflXor: f->result = valueOf(src); break;
      case Op::kMatchAny:
      case Op::kMatchAll: {
        unsigned same = 0;
        for (unsigned m = 0; m < 32; ++m)
          if (lane[m] && lane[m]->value == f->value) same |= 1u << m;
        if (f->op == Op::kMatchAny) {
          f->result = same;
        } else {
          f->pred = same == live;
          f->result = same == live ? live : 0;
        }
        break;
      }
      default: f->result = common; break;
    }
    f->state = State::kRunnable;
  }
}

// Releases every warp collective whose lanes have all arrived.
bool releaseWarps(const Run& r) {
  bool released = false;
  for (unsigned base = 0; base < r.threads; base += 32) {
    unsigned count = std::min(32u, r.threads - base);
    unsigned present = count == 32 ? ~0u : (1u << count) - 1;
    for (unsigned l = 0; l < count; ++l) {
      Fiber& f = *fibers[base + l];
      if (f.state != State::kAtWarpCollective) continue;
      unsigned group = f.mask & present, live = 0;
      bool ready = true;
      for (unsigned m = 0; m < count && ready; ++m) {
        if (!(group >> m & 1)) continue;
        const Fiber& g = *fibers[base + m];
        if (g.state == State::kDone) {
          if (f.op != Op::kSyncWarp)
            kernelFatal("%s(mask 0x%08x) in warp %u: lane %u of the mask has exited (undefined on a GPU)", opName(f.op),
                        f.mask, base / 32, m);
          continue;
        }
        if (g.state != State::kAtWarpCollective || g.op != f.op || g.mask != f.mask || g.width != f.width)
          ready = false;
        live |= 1u << m;
      }
      if (ready) {
        completeCollective(base, live);
        released = true;
      }
    }
  }
  return released;
}

// Releases __syncthreads when every thread that has not exited waits there.
bool releaseBlock(const Run& r, unsigned live) {
  unsigned waiting = 0, count = 0;
  bool all = true, any = false;
  for (unsigned i = 0; i < r.threads; ++i) {
    const Fiber& f = *fibers[i];
    if (f.state != State::kAtBlockBarrier) continue;
    ++waiting;
    count += f.pred != 0;
    all &= f.pred != 0;
    any |= f.pred != 0;
  }
  if (waiting == 0 || waiting != live) return false;
  for (unsigned i = 0; i < r.threads; ++i) {
    Fiber& f = *fibers[i];
    if (f.state != State::kAtBlockBarrier) continue;
    f.result = f.blockOp == BlockOp::kCount ? count : f.blockOp == BlockOp::kAnd ? all : any;
    f.state = State::kRunnable;
  }
  return true;
}

[[noreturn]] void deadlock(const Run& r) {
  std::string report;
  unsigned i = 0;
  while (i < r.threads) {
    std::string what = describeWait(*fibers[i]);
    unsigned j = i + 1;
    while (j < r.threads && describeWait(*fibers[j]) == what) ++j;
    report += j == i + 1 ? format("\n  thread %u: %s", i, what.c_str())
                         : format("\n  threads %u..%u: %s", i, j - 1, what.c_str());
    i = j;
  }
  std::fprintf(stderr,
               "jobbert CUDA emulator: deadlock %s: no thread can go on (threads by linear id x + y*blockDim.x + "
               "z*blockDim.x*blockDim.y; warp = id/32):%s\n",
               where(r, false).c_str(), report.c_str());
  std::abort();
}

// ---------------------------------------------------------------- faults inside kernels
struct sigaction previousHandlers[3];
const int kFaultSignals[3] = {SIGSEGV, SIGBUS, SIGFPE};

void onFault(int sig, siginfo_t* info, void* context) {
  int which = sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : 2;
  if (!inLaunch) {  // another host thread's fault: the handler that was there before
    const struct sigaction& previous = previousHandlers[which];
    if (previous.sa_flags & SA_SIGINFO) {
      previous.sa_sigaction(sig, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
      previous.sa_handler(sig);
    } else {
      signal(sig, SIG_DFL);  // the faulting instruction runs again and kills the process
    }
    return;
  }
  std::string message =
      format("%s (address %p%s)", sig == SIGFPE ? "arithmetic exception" : "memory fault", info->si_addr,
             sig != SIGFPE && !info->si_addr ? ": a null pointer, or a misaligned 16-byte vector access" : "");
  if (run) {
    unsigned char* address = static_cast<unsigned char*>(info->si_addr);
    for (const auto& f : fibers)
      if (f->guard && address >= f->guard && address < f->stack)
        message +=
            format(": stack overflow of an emulated thread (raise JOBBERT_EMU_STACK_KB, now %zu)", f->stackSize >> 10);
    if (sig == SIGFPE) message += ": integer division by zero? (a GPU does not trap; the result is unspecified there)";
    if (memoryMutex.try_lock()) {
      auto it = allocations.upper_bound(reinterpret_cast<uintptr_t>(address));
      if (it != allocations.begin()) {
        const Allocation& a = std::prev(it)->second;
        if (address >= a.user() + a.size && address < a.user() + a.size + (64 << 20))
          message += format(": %lld bytes past the end of %s", static_cast<long long>(address - a.user() - a.size),
                            describeAllocation(a).c_str());
      }
      memoryMutex.unlock();
    }
    message += " " + where(*run, true);
  }
  std::fprintf(stderr, "jobbert CUDA emulator: %s\n", message.c_str());
  signal(sig, SIG_DFL);  // the faulting instruction runs again and kills the process
}

// Installs onFault for the duration of a launch, on an alternate stack (a
// fiber's stack overflow leaves none).
struct FaultHandlers {
  FaultHandlers() {
    static thread_local bool altStack = false;
    if (!altStack) {
      stack_t current{};
      sigaltstack(nullptr, &current);
      if (current.ss_flags & SS_DISABLE) {
        stack_t ss{};
        ss.ss_size = 256 * 1024;
        ss.ss_sp = std::malloc(ss.ss_size);
        sigaltstack(&ss, nullptr);
      }
      altStack = true;
    }
    struct sigaction action {};
    action.sa_sigaction = onFault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < 3; ++i) sigaction(kFaultSignals[i], &action, &previousHandlers[i]);
  }
  ~FaultHandlers() {
    for (int i = 0; i < 3; ++i) sigaction(kFaultSignals[i], &previousHandlers[i], nullptr);
  }
};

// ---------------------------------------------------------------- watchdog
std::atomic<unsigned long long> switches{0};  // fiber switches so far
std::atomic<bool> running{false};             // a launch is in progress

// A thread that checks every second that a running kernel still switches
// fibers; one per process (a fork's child has none). Caller holds launchMutex.
void startWatchdog() {
  static pid_t watchdogProcess = 0;
  if (watchdogProcess == getpid()) return;
  watchdogProcess = getpid();
  {
    const char* env = std::getenv("JOBBERT_EMU_WATCHDOG_S");
    long limit = env && *env ? std::atol(env) : 120;
    if (limit <= 0) return;
    std::thread([limit] {
      unsigned long long seen = ~0ull;
      long still = 0;
      for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        unsigned long long now = switches.load(std::memory_order_relaxed);
        still = (running.load() && now == seen) ? still + 1 : 0;
        seen = now;
        if (still >= limit && run) {  // run is stable: its thread is stuck in a fiber
          Run* r = run;
          std::fprintf(stderr,
                       "jobbert CUDA emulator: watchdog: an emulated thread has run for %ld s without reaching a "
                       "barrier (an endless loop, or a spin-wait on another thread or block, which cannot run "
                       "meanwhile here) %s\n",
                       still, where(*r, true).c_str());
          std::abort();
        }
      }
    }).detach();
  }
}

// ---------------------------------------------------------------- running a launch
void runBlock(Run& r, unsigned linearBlock, bool reverse) {
  blockIdx = uint3{linearBlock % r.grid.x, linearBlock / r.grid.x % r.grid.y, linearBlock / (r.grid.x * r.grid.y)};
  unsigned char* shared = r.shared;
  std::memset(shared, 0xff, r.sharedBytes);
  fillRedZone(shared - kRedZone, kRedZone);
  fillRedZone(shared + r.sharedBytes, kRedZone);
  for (unsigned i = 0; i < r.threads; ++i) startFiber(*fibers[i]);
  unsigned live = r.threads;
  while (live > 0) {
    bool progress = false;
    for (unsigned k = 0; k < r.threads; ++k) {
      unsigned i = reverse ? r.threads - 1 - k : k;
      Fiber& f = *fibers[i];
      if (f.state != State::kRunnable) continue;
      threadIdx = threadOf(r, i);
      r.current = int(i);
      switches.fetch_add(1, std::memory_order_relaxed);
      switchToFiber(f);
      r.current = -1;
      progress = true;
      if (f.state == State::kDone) --live;
    }
    if (live == 0) break;
    if (releaseWarps(r)) progress = true;
    if (releaseBlock(r, live)) progress = true;
    if (!progress) deadlock(r);
  }
  long long under = firstModified(shared - kRedZone, kRedZone);
  long long over = firstModified(shared + r.sharedBytes, kRedZone);
  if (under >= 0 || over >= 0) {
    std::fprintf(stderr, "jobbert CUDA emulator: dynamic shared memory (%zu bytes) was written %s %s\n", r.sharedBytes,
                 under >= 0 ? format("%lld bytes before its start", static_cast<long long>(kRedZone) - under).c_str()
                            : format("at byte %lld past its end", over).c_str(),
                 where(r, false).c_str());
    std::abort();
  }
}

}  // namespace

namespace detail {

cudaError_t launch(const void* kernel, const char* signature, dim3 grid, dim3 block, size_t sharedBytes,
                   cudaStream_t stream, KernelBody body, KernelBody checkArguments, void* state) {
  if (inLaunch) kernelFatal("a kernel launched a kernel (dynamic parallelism is not emulated)");
  unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (block.x == 0 || block.y == 0 || block.z == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0 || threads > 1024 ||
      block.x > 1024 || block.y > 1024 || block.z > 64 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return record(cudaErrorInvalidConfiguration);
  if (!validStream(stream)) return record(cudaErrorInvalidResourceHandle);
  size_t sharedLimit = kDefaultSharedLimit;
  {
    std::lock_guard<std::mutex> lock(memoryMutex);
    auto it = maxDynamicShared.find(kernel);
    if (it != maxDynamicShared.end()) sharedLimit = std::max<size_t>(sharedLimit, size_t(it->second));
  }
  if (sharedBytes > sharedLimit) return record(cudaErrorInvalidValue);
  checkArguments(state);

  std::lock_guard<std::mutex> lock(launchMutex);
  Run r{};
  r.kernel = kernel;
  r.signature = signature;
  r.body = body;
  r.state = state;
  r.grid = grid;
  r.block = block;
  r.threads = unsigned(threads);
  std::vector<unsigned char> sharedStorage(sharedBytes + 2 * kRedZone + 128);
  uintptr_t sharedStart = (reinterpret_cast<uintptr_t>(sharedStorage.data()) + kRedZone + 127) & ~uintptr_t(127);
  r.shared = reinterpret_cast<unsigned char*>(sharedStart);
  r.sharedBytes = sharedBytes;
  const char* schedule = std::getenv("JOBBERT_EMU_SCHEDULE");
  bool reverse = schedule && std::strcmp(schedule, "reverse") == 0;

  startWatchdog();
  run = &r;
  running = true;
  inLaunch = true;
  ensureFibers(r.threads);
  gridDim = grid;
  blockDim = block;
  {
    FaultHandlers handlers;
    unsigned long long blocks = 1ull * grid.x * grid.y * grid.z;
    for (unsigned long long k = 0; k < blocks; ++k) runBlock(r, unsigned(reverse ? blocks - 1 - k : k), reverse);
  }
  {
    std::lock_guard<std::mutex> memoryLock(memoryMutex);
    std::string when;
    for (const auto& entry : allocations) {
      const Allocation& a = entry.second;
      if (firstModified(a.base, kRedZone) < 0 && firstModified(a.user() + a.size, a.total - kRedZone - a.size) < 0)
        continue;
      checkRedZones(a,
                    "found after kernel " + kernelName(r) +
                        format(" (grid %u,%u,%u, block %u,%u,%u)", grid.x, grid.y, grid.z, block.x, block.y, block.z));
    }
  }
  running = false;
  run = nullptr;
  inLaunch = false;
  return cudaSuccess;
}

void checkPointerArgument(const void* kernel, const char* signature, int index, const void* p) {
  if (!p) return;
  {
    std::lock_guard<std::mutex> lock(memoryMutex);
    if (findAllocation(p)) return;
    uintptr_t address = reinterpret_cast<uintptr_t>(p);
    auto it = hostAllocations.upper_bound(address);
    if (it != hostAllocations.begin() && address <= std::prev(it)->first + std::prev(it)->second) return;
  }
  Run r{};
  r.kernel = kernel;
  r.signature = signature;
  std::fprintf(stderr,
               "jobbert CUDA emulator: argument %d of kernel %s is %p, which is not device memory (a host pointer, or "
               "a freed buffer): a GPU would fault on it\n",
               index, kernelName(r).c_str(), p);
  std::abort();
}

unsigned long long warpCollective(Op op, unsigned mask, unsigned long long value, int arg, int width, bool isSigned,
                                  int* pred) {
  Fiber& f = self();
  unsigned lane = unsigned(run->current) % 32;
  if (!(mask >> lane & 1)) kernelFatal("%s(mask 0x%08x) called by a lane outside its mask", opName(op), mask);
  if (width < 1 || width > 32 || (width & (width - 1)))
    kernelFatal("%s: width %d is not a power of two in 1..32", opName(op), width);
  f.op = op;
  f.mask = mask;
  f.value = value;
  f.arg = arg;
  f.width = width;
  f.isSigned = isSigned;
  f.state = State::kAtWarpCollective;
  switchToScheduler(f);
  if (pred) *pred = f.pred;
  return f.result;
}

int blockBarrier(BlockOp op, int predicate) {
  Fiber& f = self();
  f.blockOp = op;
  f.pred = predicate;
  f.state = State::kAtBlockBarrier;
  switchToScheduler(f);
  return int(f.result);
}

unsigned activeMask() {
  self();
  unsigned base = unsigned(run->current) / 32 * 32, mask = 0;
  for (unsigned l = 0; l < 32 && base + l < run->threads; ++l)
    if (fibers[base + l]->state != State::kDone) mask |= 1u << l;
  return mask;
}

void trap(const char* what) { kernelFatal("%s", what); }

long long clockNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace detail

unsigned char* dynamicShared() {
  self();
  return run->shared;
}

}  // namespace emu

// ---------------------------------------------------------------- runtime API
using emu::record;

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define EMU_NAME(e) \
  case e: return #e;
    EMU_NAME(cudaSuccess)
    EMU_NAME(cudaErrorInvalidValue)
    EMU_NAME(cudaErrorMemoryAllocation)
    EMU_NAME(cudaErrorInvalidConfiguration)
    EMU_NAME(cudaErrorInvalidPitchValue)
    EMU_NAME(cudaErrorInvalidSymbol)
    EMU_NAME(cudaErrorInvalidDevicePointer)
    EMU_NAME(cudaErrorInvalidMemcpyDirection)
    EMU_NAME(cudaErrorInvalidDeviceFunction)
    EMU_NAME(cudaErrorNoDevice)
    EMU_NAME(cudaErrorInvalidDevice)
    EMU_NAME(cudaErrorInvalidResourceHandle)
    EMU_NAME(cudaErrorNotReady)
    EMU_NAME(cudaErrorIllegalAddress)
    EMU_NAME(cudaErrorLaunchOutOfResources)
    EMU_NAME(cudaErrorLaunchFailure)
    EMU_NAME(cudaErrorNotSupported)
    EMU_NAME(cudaErrorUnknown)
#undef EMU_NAME
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidPitchValue: return "invalid pitch argument";
    case cudaErrorInvalidSymbol: return "invalid device symbol";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() {
  cudaError_t error = emu::lastError;
  emu::lastError = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() { return emu::lastError; }

namespace {
bool noDevice() {
  const char* env = std::getenv("JOBBERT_EMU_DEVICES");
  return env && std::strcmp(env, "0") == 0;
}
cudaError_t checkDevice(int device) {
  if (noDevice()) return cudaErrorNoDevice;
  return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}
}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return record(cudaErrorInvalidValue);
  *count = noDevice() ? 0 : 1;
  return *count ? cudaSuccess : record(cudaErrorNoDevice);
}

cudaError_t cudaSetDevice(int device) { return record(checkDevice(device)); }

cudaError_t cudaGetDevice(int* device) {
  if (!device) return record(cudaErrorInvalidValue);
  *device = 0;
  return record(checkDevice(0));
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return record(cudaErrorInvalidValue);
  if (cudaError_t err = checkDevice(device); err != cudaSuccess) return record(err);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "CPU emulator of a CUDA device");
  prop->totalGlobalMem = emu::memoryLimit();
  prop->sharedMemPerBlock = emu::kDefaultSharedLimit;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->memPitch = 0x7fffffff;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024, prop->maxThreadsDim[1] = 1024, prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff, prop->maxGridSize[1] = 65535, prop->maxGridSize[2] = 65535;
  prop->totalConstMem = 65536;
  prop->major = 9;
  prop->minor = 0;
  prop->textureAlignment = 512;
  prop->multiProcessorCount = emu::kMultiProcessors;
  prop->concurrentKernels = 1;
  prop->asyncEngineCount = 1;
  prop->unifiedAddressing = 1;
  prop->memoryBusWidth = 5120;
  prop->l2CacheSize = 50 * 1024 * 1024;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->sharedMemPerMultiprocessor = emu::kSharedPerSM;
  prop->regsPerMultiprocessor = 65536;
  prop->managedMemory = 0;
  prop->sharedMemPerBlockOptin = emu::kSharedOptinLimit;
  prop->maxBlocksPerMultiProcessor = 32;
  prop->reservedSharedMemPerBlock = 1024;
  prop->memoryPoolsSupported = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return record(cudaErrorInvalidValue);
  if (cudaError_t err = checkDevice(device); err != cudaSuccess) return record(err);
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, device);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = int(p.sharedMemPerBlock); break;
    case cudaDevAttrTotalConstantMemory: *value = int(p.totalConstMem); break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = p.regsPerBlock; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrConcurrentKernels: *value = p.concurrentKernels; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = int(p.sharedMemPerMultiprocessor); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = int(p.sharedMemPerBlockOptin); break;
    case cudaDevAttrMaxBlocksPerMultiprocessor: *value = p.maxBlocksPerMultiProcessor; break;
    case cudaDevAttrMemoryPoolsSupported: *value = p.memoryPoolsSupported; break;
    default: return record(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaDeviceReset() { return cudaSuccess; }

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  if (!free || !total) return record(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  *total = emu::memoryLimit();
  *free = *total - std::min(*total, emu::memoryUsed);
  return cudaSuccess;
}

__attribute__((noinline)) cudaError_t cudaMalloc(void** devPtr, size_t size) {
  return record(emu::allocate(devPtr, size, __builtin_extract_return_addr(__builtin_return_address(0))));
}

__attribute__((noinline)) cudaError_t cudaMallocAsync(void** devPtr, size_t size, cudaStream_t stream) {
  if (!emu::validStream(stream)) return record(cudaErrorInvalidResourceHandle);
  return record(emu::allocate(devPtr, size, __builtin_extract_return_addr(__builtin_return_address(0))));
}

cudaError_t cudaFree(void* devPtr) { return record(emu::release(devPtr)); }

cudaError_t cudaFreeAsync(void* devPtr, cudaStream_t stream) {
  if (!emu::validStream(stream)) return record(cudaErrorInvalidResourceHandle);
  return record(emu::release(devPtr));
}

cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int flags) {
  if (!ptr) return record(cudaErrorInvalidValue);
  *ptr = std::aligned_alloc(4096, (std::max<size_t>(size, 1) + 4095) / 4096 * 4096);
  if (!*ptr) return record(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  emu::hostAllocations[reinterpret_cast<uintptr_t>(*ptr)] = size;
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t size) { return cudaHostAlloc(ptr, size, cudaHostAllocDefault); }

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  if (!emu::hostAllocations.erase(reinterpret_cast<uintptr_t>(ptr))) return record(cudaErrorInvalidValue);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (cudaError_t err = emu::checkCopy("cudaMemcpy", dst, count, src, count, kind); err != cudaSuccess)
    return record(err);
  if (count) std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (!emu::validStream(stream)) return record(cudaErrorInvalidResourceHandle);
  return cudaMemcpy(dst, src, count, kind);
}

cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind kind) {
  if (width > dpitch || width > spitch) return record(cudaErrorInvalidPitchValue);
  if (width == 0 || height == 0) return cudaSuccess;
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  size_t dspan = dpitch * (height - 1) + width, sspan = spitch * (height - 1) + width;
  if (cudaError_t err = emu::checkCopy("cudaMemcpy2D", d, dspan, s, sspan, kind); err != cudaSuccess)
    return record(err);
  for (size_t row = 0; row < height; ++row) std::memmove(d + row * dpitch, s + row * spitch, width);
  return cudaSuccess;
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t stream) {
  if (!emu::validStream(stream)) return record(cudaErrorInvalidResourceHandle);
  return cudaMemcpy2D(dst, dpitch, src, spitch, width, height, kind);
}

cudaError_t cudaMemset(void* devPtr, int value, size_t count) {
  if (count && !devPtr) return record(cudaErrorInvalidValue);
  if (cudaError_t err = emu::checkRange("cudaMemset", devPtr, count, true); err != cudaSuccess) return record(err);
  if (count) std::memset(devPtr, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream) {
  if (!emu::validStream(stream)) return record(cudaErrorInvalidResourceHandle);
  return cudaMemset(devPtr, value, count);
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (!stream || flags > cudaStreamNonBlocking) return record(cudaErrorInvalidValue);
  *stream = new CUstream_st{flags};
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  emu::streams.insert(*stream);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  if (!emu::streams.erase(stream)) return record(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  return emu::validStream(stream) ? cudaSuccess : record(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaStreamQuery(cudaStream_t stream) { return cudaStreamSynchronize(stream); }

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  if (!emu::validStream(stream) || !emu::validEvent(event)) return record(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* userData) {
  if (!emu::validStream(stream)) return record(cudaErrorInvalidResourceHandle);
  if (!fn) return record(cudaErrorInvalidValue);
  fn(userData);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  if (!event || flags > 0x0f) return record(cudaErrorInvalidValue);
  *event = new CUevent_st{flags, false, {}};
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  emu::events.insert(*event);
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!emu::validEvent(event) || !emu::validStream(stream)) return record(cudaErrorInvalidResourceHandle);
  event->recorded = true;
  event->time = std::chrono::steady_clock::now();
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  return emu::validEvent(event) ? cudaSuccess : record(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) { return cudaEventQuery(event); }

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return record(cudaErrorInvalidValue);
  if (!emu::validEvent(start) || !emu::validEvent(end)) return record(cudaErrorInvalidResourceHandle);
  if ((start->flags | end->flags) & cudaEventDisableTiming) return record(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return record(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  if (!emu::events.erase(event)) return record(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (!func) return record(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout)
    return value >= -1 && value <= 100 ? cudaSuccess : record(cudaErrorInvalidValue);
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || size_t(value) > emu::kSharedOptinLimit)
    return record(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  emu::maxDynamicShared[func] = value;
  return cudaSuccess;
}

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, const void* func) {
  if (!attr) return record(cudaErrorInvalidValue);
  if (!func) return record(cudaErrorInvalidDeviceFunction);
  *attr = cudaFuncAttributes{};
  attr->maxThreadsPerBlock = 1024;
  attr->numRegs = 32;
  attr->ptxVersion = attr->binaryVersion = 90;
  std::lock_guard<std::mutex> lock(emu::memoryMutex);
  auto it = emu::maxDynamicShared.find(func);
  attr->maxDynamicSharedSizeBytes = it == emu::maxDynamicShared.end() ? int(emu::kDefaultSharedLimit) : it->second;
  return cudaSuccess;
}

cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, const void* func, int blockSize,
                                                          size_t dynamicSMemSize) {
  if (!numBlocks || blockSize <= 0 || blockSize > 1024) return record(cudaErrorInvalidValue);
  int byThreads = 2048 / ((blockSize + 31) / 32 * 32);
  int byShared = int(emu::kSharedPerSM / (dynamicSMemSize + 1024));
  *numBlocks = std::max(0, std::min({32, byThreads, byShared}));
  return cudaSuccess;
}
