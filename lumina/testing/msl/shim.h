// Compile Metal Shading Language compute kernels as C++20 and run them on the CPU, thread by thread.
//
// This is a test harness for lumina's MSL renderer (lumina/codegen/metal.py), not a Metal
// implementation: it covers what the renderer emits, with Metal's semantics where they matter.
//
// * Address spaces: `device`, `constant` and `thread` expand to nothing (`constant` to `const`).
//   `threadgroup` declares a kernel-scope variable `static` in a linker section of its own
//   (`lumina_tg` unless the driver redefines the macro per kernel), so the threads of a group share
//   it. Groups run one after another, and before each group the driver fills its kernel's section
//   with 0xFF bytes (NaN floats, -1 integers): a thread that reads threadgroup memory nobody wrote in
//   this group reads garbage, as on a GPU. Threadgroup pointers are not supported (the renderer
//   declares threadgroup arrays only).
// * Attributes ([[buffer(i)]], [[thread_position_in_grid]], ...) are C++ attributes g++ ignores
//   (-Wno-attributes); lumina/testing/msl_cpu.py reads them from the kernel's signature to bind
//   each parameter (a buffer pointer, or a 1-D position).
// * Threads of a group are fibers (ucontext) run in order of their index (or in reverse order) on
//   one OS thread; each runs until it finishes or reaches threadgroup_barrier(), and the barrier lets
//   the next fiber run. So a value written before a barrier is seen after it, and a kernel that
//   forgets a barrier reads memory its neighbours have not written yet (the poisoned bytes): in
//   index order a read of a higher thread's slot, in reverse order one of a lower thread's (thread
//   0 broadcasting a result); running both orders catches either. Some threads finishing while
//   others wait at a barrier is reported as barrier divergence (undefined behaviour in Metal).
//   Kernels without a barrier run their threads as plain calls.
// * Device memory: the driver (msl_cpu.py) rewrites every `device T*` of the source into
//   lumina_msl::dptr<T>, whose element reads and writes go through the current thread. In a kernel
//   with barriers, a thread's device stores wait in a store buffer of its own (its own later loads
//   see them) until it reaches threadgroup_barrier(mem_flags::mem_device), or else until the
//   dispatch ends. The barrier makes them visible to its group only (a table the group's loads
//   consult), the end of the dispatch to everyone: Metal orders a thread's device writes for the
//   rest of its group at a barrier over device memory, for other threadgroups only between
//   dispatches. So a thread that
//   reads device memory another thread wrote, without a mem_device barrier between them (none, or
//   a mem_threadgroup one), or that another threadgroup wrote, reads what was there before the
//   kernel ran: the poisoned output buffers of msl_cpu's `run`, in either thread order. Threadgroup
//   memory is not buffered: every barrier orders it, whatever its flags.
// * Types: half is _Float16 (round-to-nearest-even conversions, as Metal), long/ulong 64 bits,
//   as_type<T> is a bit cast; metal:: math maps to <cmath> (float overloads).
#ifndef LUMINA_MSL_SHIM_H
#define LUMINA_MSL_SHIM_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <unordered_map>
#include <ucontext.h>
#include <vector>

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef _Float16 half;

template <class T, class U>
inline T as_type(U x) {
    static_assert(sizeof(T) == sizeof(U), "as_type: sizes differ");
    T y;
    std::memcpy(&y, &x, sizeof y);
    return y;
}

namespace lumina_msl {

// A device store not yet visible to the other threads of the group.
struct Pending {
    char* addr;
    size_t size;
    unsigned long long bits;
};

// One threadgroup being run as fibers: `lane(lid)` is the kernel body of thread lid.
struct Group {
    void (*lane)(void* ctx, uint lid) = nullptr;
    void* ctx = nullptr;
    uint threads = 0;
    uint cur = 0;
    ucontext_t sched;
    std::vector<ucontext_t> fibers;
    std::vector<uchar> state;   // 0 runnable, 1 waiting at a barrier, 2 finished
    std::vector<std::vector<Pending>> pending;   // each thread's device stores not yet visible
    std::unordered_map<const char*, Pending> fenced;   // stores visible to this group only
};


constexpr size_t kStack = 64 * 1024;
inline thread_local Group* current = nullptr;

// Make thread lid's buffered device stores visible to its group, in the order it made them.
inline void flush(Group* g, uint lid) {
    for (const Pending& w : g->pending[lid]) g->fenced[w.addr] = w;
    g->pending[lid].clear();
}

inline void fiber_main() {
    Group* g = current;
    uint lid = g->cur;
    g->lane(g->ctx, lid);
    g->state[lid] = 2;   // returns to g->sched through uc_link
}

inline void barrier(bool device_memory) {
    Group* g = current;
    if (g == nullptr) {
        std::fprintf(stderr, "lumina msl shim: threadgroup_barrier outside a threadgroup\n");
        std::abort();
    }
    uint lid = g->cur;
    if (device_memory) flush(g, lid);
    g->state[lid] = 1;
    swapcontext(&g->fibers[lid], &g->sched);
}

// Device memory through the current thread: plain loads and stores when the threads run as plain
// calls, the thread's store buffer when they are fibers.
template <class V>
inline V device_load(const V* p) {
    Group* g = current;
    if (g != nullptr && !g->pending[g->cur].empty()) {
        const std::vector<Pending>& q = g->pending[g->cur];
        for (size_t i = q.size(); i-- > 0;) {   // the thread's own latest store to p
            if (q[i].addr == reinterpret_cast<const char*>(p) && q[i].size == sizeof(V)) {
                V v;
                std::memcpy(&v, &q[i].bits, sizeof v);
                return v;
            }
        }
    }
    if (g != nullptr && !g->fenced.empty()) {   // a store of the group before a mem_device barrier
        auto it = g->fenced.find(reinterpret_cast<const char*>(p));
        if (it != g->fenced.end() && it->second.size == sizeof(V)) {
            V v;
            std::memcpy(&v, &it->second.bits, sizeof v);
            return v;
        }
    }
    return *p;
}

template <class V>
inline void device_store(V* p, V v) {
    static_assert(sizeof(V) <= sizeof(unsigned long long), "device_store: element too wide");
    Group* g = current;
    if (g == nullptr) {
        *p = v;
        return;
    }
    Pending w{reinterpret_cast<char*>(p), sizeof(V), 0};
    std::memcpy(&w.bits, &v, sizeof v);
    g->pending[g->cur].push_back(w);
}

// `p[i]`: converts to the element (a load) and takes an assignment (a store).
template <class T>
struct dref {
    using V = std::remove_const_t<T>;
    T* p;
    operator V() const { return device_load<V>(p); }
    const dref& operator=(V v) const { device_store<V>(const_cast<V*>(p), v); return *this; }
    const dref& operator=(const dref& o) const { return *this = V(o); }
};

// A `device T*` (T may be const): one pointer, so an argument buffer of device addresses holds them.
template <class T>
struct dptr {
    T* p;
    dptr() = default;
    dptr(void* q) : p(static_cast<T*>(q)) {}
    dref<T> operator[](long i) const { return dref<T>{p + i}; }
};

// Run `groups` threadgroups of `threads` threads; `tg_begin..tg_end` is the kernel's threadgroup
// memory, poisoned before each group. Returns 0, or 1 with a message in err.
template <class F>
int dispatch(uint groups, uint threads, bool fibers, bool reverse, char* tg_begin, char* tg_end, F& body,
             char* err, size_t errlen) {
    auto poison = [&] { if (tg_begin && tg_end > tg_begin) std::memset(tg_begin, 0xFF, tg_end - tg_begin); };
    if (!fibers) {
        for (uint g = 0; g < groups; ++g) {
            poison();
            for (uint k = 0; k < threads; ++k) body(g, reverse ? threads - 1 - k : k);
        }
        return 0;
    }
    static thread_local std::vector<char> stacks;
    if (stacks.size() < threads * kStack) stacks.resize(threads * kStack);
    struct Ctx { F* body; uint group; };
    Ctx ctx{&body, 0};
    Group grp;
    grp.lane = [](void* c, uint lid) { Ctx* x = static_cast<Ctx*>(c); (*x->body)(x->group, lid); };
    grp.ctx = &ctx;
    grp.threads = threads;
    grp.fibers.resize(threads);
    grp.state.assign(threads, 0);
    grp.pending.assign(threads, {});
    grp.fenced.clear();
    std::vector<Pending> retired;   // stores of finished groups: visible when the dispatch ends
    Group* saved = current;
    current = &grp;
    int rc = 0;
    for (uint g = 0; g < groups && rc == 0; ++g) {
        poison();
        ctx.group = g;
        for (uint lid = 0; lid < threads; ++lid) {
            ucontext_t& f = grp.fibers[lid];
            getcontext(&f);
            f.uc_stack.ss_sp = stacks.data() + lid * kStack;
            f.uc_stack.ss_size = kStack;
            f.uc_link = &grp.sched;
            makecontext(&f, fiber_main, 0);
            grp.state[lid] = 0;
            grp.pending[lid].clear();
        }
        for (;;) {
            for (uint k = 0; k < threads; ++k) {
                uint lid = reverse ? threads - 1 - k : k;
                if (grp.state[lid] == 2) continue;
                grp.state[lid] = 0;
                grp.cur = lid;
                swapcontext(&grp.sched, &grp.fibers[lid]);
            }
            uint waiting = 0, done = 0;
            for (uint lid = 0; lid < threads; ++lid) (grp.state[lid] == 1 ? waiting : done) += 1;
            if (waiting == 0) {   // the group is done: what it stored waits for the dispatch's end
                for (const auto& entry : grp.fenced) retired.push_back(entry.second);
                grp.fenced.clear();
                for (uint lid = 0; lid < threads; ++lid) {
                    retired.insert(retired.end(), grp.pending[lid].begin(), grp.pending[lid].end());
                    grp.pending[lid].clear();
                }
                break;
            }
            if (done != 0) {
                std::snprintf(err, errlen, "barrier divergence in threadgroup %u: %u threads wait at "
                              "threadgroup_barrier, %u have returned", g, waiting, done);
                rc = 1;
                break;
            }
        }
    }
    current = saved;
    for (const Pending& w : retired) std::memcpy(w.addr, &w.bits, w.size);
    return rc;
}

}  // namespace lumina_msl

namespace metal {
enum class mem_flags { mem_none = 0, mem_device = 1, mem_threadgroup = 2, mem_texture = 4 };
constexpr mem_flags operator|(mem_flags a, mem_flags b) { return mem_flags(int(a) | int(b)); }
inline void threadgroup_barrier(mem_flags f) { lumina_msl::barrier((int(f) & int(mem_flags::mem_device)) != 0); }

inline float exp(float x) { return std::exp(x); }
inline float exp2(float x) { return std::exp2(x); }
inline float log(float x) { return std::log(x); }
inline float sqrt(float x) { return std::sqrt(x); }
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline float sin(float x) { return std::sin(x); }
inline float cos(float x) { return std::cos(x); }
inline float tanh(float x) { return std::tanh(x); }
inline float pow(float x, float y) { return std::pow(x, y); }
inline float fabs(float x) { return std::fabs(x); }
inline float floor(float x) { return std::floor(x); }
inline float fmax(float x, float y) { return std::fmax(x, y); }
inline float fmin(float x, float y) { return std::fmin(x, y); }
inline float fma(float a, float b, float c) { return std::fma(a, b, c); }
inline float copysign(float x, float y) { return std::copysign(x, y); }
inline bool isnan(float x) { return std::isnan(x); }
inline bool isinf(float x) { return std::isinf(x); }
template <class T> inline T max(T a, T b) { return a > b ? a : b; }
template <class T> inline T min(T a, T b) { return a < b ? a : b; }
template <class T> inline T select(T a, T b, bool c) { return c ? b : a; }
}  // namespace metal

#define kernel
#define device
#define constant const
#define thread
#define threadgroup static __attribute__((section("lumina_tg"), aligned(16)))

#endif  // LUMINA_MSL_SHIM_H
